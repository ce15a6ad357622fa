import type { StackValidationPolicy } from "@pulumi/policy";
import type { Service } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import { validateKubeStack } from "../lib/rule";
import { containersServing, selectedBy, serviceSelector } from "../lib/services";
import { runningContainersOf } from "../lib/workloads";

/** Without readiness, a Service sends traffic to pods that are still starting or draining. */
export const readinessIfServed: StackValidationPolicy = {
  name: "readiness-if-served",
  description:
    "Every container that serves a Service's target port (or, when none resolves, every " +
    "running container of a selected workload) has a readiness probe.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Add a readinessProbe on the served port (components/lib/probes.ts) to the container.",
  validateStack: validateKubeStack((stack, report) => {
    const reported = new Set<string>();
    for (const service of stack.ofKind("Service")) {
      const selector = serviceSelector(service);
      if (selector === undefined) continue;
      const ports = asArray(view<Service>(service).spec?.ports);
      for (const { workload, certain } of selectedBy(stack, service, selector)) {
        if (!certain) continue;
        // A port that resolves to no container is svc-selects-pods' finding; then every
        // running container is behind the Service.
        const resolved = ports.flatMap((port) => containersServing(workload, port) ?? []);
        const candidates = resolved.length > 0 ? resolved : runningContainersOf(workload);
        for (const ref of candidates) {
          const key = `${workload.object.urn}|${ref.path}`;
          if (ref.container.readinessProbe !== undefined || reported.has(key)) continue;
          reported.add(key);
          report(
            workload.object,
            `${ref.label} is behind ${service.id} but has no readiness probe ` +
              `(${ref.path}.readinessProbe); add a readinessProbe on the port it serves`,
          );
        }
      }
    }
  }),
};
