import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isAllowed, KUBERNETES_API_USERS } from "../model/security-exceptions";
import { validateWorkload } from "../lib/rule";
import { componentOf } from "../lib/workloads";

/** A mounted token is a credential for the API; only pods that call the API should carry one. */
export const saToken: ResourceValidationPolicy = {
  name: "sa-token",
  description:
    "Pod templates set automountServiceAccountToken: false, unless their component uses the " +
    "Kubernetes API (KUBERNETES_API_USERS in policy/model/security-exceptions.ts).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set automountServiceAccountToken: false on the pod spec; a component that calls the API is " +
    "added, with the reason, to KUBERNETES_API_USERS.",
  validateResource: validateWorkload((workload, report) => {
    const component = componentOf(workload);
    if (isAllowed(KUBERNETES_API_USERS, component)) return;
    if (workload.spec.automountServiceAccountToken === false) return;
    report(
      `mounts a service-account token although component "${component ?? "(none)"}" does not ` +
        `use the Kubernetes API (${workload.path}.spec.automountServiceAccountToken); set ` +
        `automountServiceAccountToken: false`,
    );
  }),
};
