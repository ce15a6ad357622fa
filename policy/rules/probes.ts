import { isDeepStrictEqual } from "node:util";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asArray } from "../lib/k8s";
import { validateWorkload } from "../lib/rule";
import { isLongRunning, runningContainersOf } from "../lib/workloads";

/**
 * Readiness keeps traffic away from a pod that cannot serve; liveness restarts one that hangs. The
 * same probe for both turns a slow dependency into a restart loop, so they must differ.
 */
export const probes: ResourceValidationPolicy = {
  name: "probes",
  description:
    "Long-running containers (Deployment, StatefulSet, DaemonSet, native sidecars) have a " +
    "liveness probe; those that declare a port also have a readiness probe; the two differ.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Use the probe factories of components/lib/probes.ts: readiness on the serving endpoint, " +
    "liveness on a cheaper one or with a higher failureThreshold.",
  validateResource: validateWorkload((workload, report) => {
    if (!isLongRunning(workload)) return;
    for (const ref of runningContainersOf(workload)) {
      const { readinessProbe, livenessProbe, ports } = ref.container;
      const served = asArray(ports).length > 0;
      if (served && readinessProbe === undefined) {
        report(
          `${ref.label} serves ports but has no readiness probe (${ref.path}.readinessProbe); ` +
            `add a readinessProbe on the port it serves`,
        );
      }
      if (livenessProbe === undefined) {
        report(
          `${ref.label} has no liveness probe (${ref.path}.livenessProbe); add a livenessProbe`,
        );
      } else if (readinessProbe !== undefined && isDeepStrictEqual(readinessProbe, livenessProbe)) {
        report(
          `${ref.label} has identical readiness and liveness probes (${ref.path}.livenessProbe); ` +
            `give liveness a higher failureThreshold or a cheaper endpoint`,
        );
      }
    }
  }),
};
