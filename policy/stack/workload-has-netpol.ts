import type { StackValidationPolicy } from "@pulumi/policy";
import { formatLabels } from "../lib/k8s";
import { isAllowPolicy, isTargeted, policySelects } from "../lib/netpol";
import { validateKubeStack } from "../lib/rule";

/**
 * Under a default deny, a pod no allow policy names can talk to nothing: it starts, then fails
 * on its first connection. Namespace-wide policies (DNS) do not count as the workload's own.
 */
export const workloadHasNetpol: StackValidationPolicy = {
  name: "workload-has-netpol",
  description:
    "Every pod template is selected by at least one allow NetworkPolicy (one with ingress or " +
    "egress rules) that targets particular pods; namespace-wide policies do not count.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Declare the workload's edges (allowFrom/allowTo) so the NetworkPolicies component writes " +
    "a policy for it.",
  validateStack: validateKubeStack((stack, report) => {
    const allowPolicies = stack
      .ofKind("NetworkPolicy")
      .filter((policy) => isTargeted(policy) && isAllowPolicy(policy));
    for (const workload of stack.workloads) {
      if (allowPolicies.some((policy) => policySelects(policy, workload) !== false)) continue;
      report(
        workload.object,
        `no allow NetworkPolicy selects its pods (${workload.path}.metadata.labels: ` +
          `${formatLabels(workload.labels)}); declare its edges so a NetworkPolicy allows its ` +
          `traffic`,
      );
    }
  }),
};
