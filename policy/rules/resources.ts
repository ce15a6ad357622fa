import type { ResourceValidationPolicy } from "@pulumi/policy";
import { validateWorkload } from "../lib/rule";
import { containersOf } from "../lib/workloads";

/** The amounts every container must state, and how a missing one reads in a message. */
const REQUIRED = [
  { section: "requests", resource: "cpu", missing: "no CPU request" },
  { section: "requests", resource: "memory", missing: "no memory request" },
  { section: "limits", resource: "memory", missing: "no memory limit" },
] as const;

/**
 * Requests let the scheduler place pods on a small K3s node without overcommitting it; a memory
 * limit keeps one leaking process from taking the node down with it.
 */
export const resources: ResourceValidationPolicy = {
  name: "resources",
  description:
    "Every container, init containers included, has a CPU request, a memory request and a " +
    "memory limit.",
  enforcementLevel: "mandatory",
  remediationSteps: "Set resources with a preset from components/lib/resources.ts.",
  validateResource: validateWorkload((workload, report) => {
    for (const ref of containersOf(workload)) {
      const amounts = ref.container.resources;
      for (const { section, resource, missing } of REQUIRED) {
        const value = amounts?.[section]?.[resource];
        if (value !== undefined && value !== "") continue;
        report(
          `${ref.label} has ${missing} (${ref.path}.resources.${section}.${resource}); set ` +
            `resources.${section}.${resource}`,
        );
      }
    }
  }),
};
