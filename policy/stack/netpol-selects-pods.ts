import type { StackValidationPolicy } from "@pulumi/policy";
import type { NetworkPolicy } from "../lib/k8s";
import { formatLabels, view } from "../lib/k8s";
import { isTargeted, policySelects } from "../lib/netpol";
import { validateKubeStack } from "../lib/rule";

/** A policy that selects nothing allows nothing: the edge it was written for stays closed. */
export const netpolSelectsPods: StackValidationPolicy = {
  name: "netpol-selects-pods",
  description:
    "Every NetworkPolicy whose podSelector is not empty (empty is the namespace-wide default " +
    "deny) selects at least one pod template in its namespace.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Build podSelector with selectorFor(identity) of the workload the policy is for; declare " +
    "edges with allowFrom() so the policies follow from the wiring.",
  validateStack: validateKubeStack((stack, report) => {
    for (const policy of stack.ofKind("NetworkPolicy")) {
      if (!isTargeted(policy)) continue;
      if (stack.workloads.some((workload) => policySelects(policy, workload) !== false)) continue;
      const selector = view<NetworkPolicy>(policy).spec?.podSelector;
      report(
        policy,
        `selects no pod template (spec.podSelector: ${formatLabels(selector?.matchLabels)}); ` +
          `use the selector of the workload it is for (selectorFor in policy/model/labels.ts)`,
      );
    }
  }),
};
