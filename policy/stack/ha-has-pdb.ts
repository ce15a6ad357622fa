import type { StackValidationPolicy } from "@pulumi/policy";
import {
  allowedDisruptions,
  autoscalersOf,
  budgetsFor,
  budgetText,
  minReplicasOf,
  replicasOf,
} from "../lib/disruption";
import { formatLabels } from "../lib/k8s";
import type { StackReport } from "../lib/rule";
import { validateKubeStack } from "../lib/rule";
import type { StackIndex } from "../lib/stack";
import type { Workload } from "../lib/workloads";
import { REPLICATED_KINDS } from "../lib/workloads";

function checkWorkload(stack: StackIndex, workload: Workload, report: StackReport): void {
  const hpa = autoscalersOf(stack, workload)[0];
  // With an HPA, its minReplicas is the floor, and hpa-consistency checks the PDB against it.
  const replicas = hpa !== undefined ? minReplicasOf(hpa) : replicasOf(workload);
  if (replicas === undefined || replicas < 2) return;
  const budgets = budgetsFor(stack, workload);
  if (budgets.length === 0) {
    report(
      workload.object,
      `runs ${replicas} replicas but no PodDisruptionBudget selects its pods ` +
        `(${workload.path}.metadata.labels: ${formatLabels(workload.labels)}); add a PDB with ` +
        `maxUnavailable: 1 and the workload's selector`,
    );
    return;
  }
  if (hpa !== undefined) return;
  for (const { pdb, certain } of budgets) {
    const allowed = allowedDisruptions(pdb, replicas);
    if (!certain || allowed === undefined || allowed >= 1) continue;
    report(
      pdb,
      `blocks every drain of ${workload.object.id}: ${budgetText(pdb)} with ${replicas} ` +
        `replicas lets no pod be evicted; set maxUnavailable: 1 or minAvailable below ${replicas}`,
    );
  }
}

/** Replicas only help if a node drain cannot evict all of them at once, nor is blocked forever. */
export const haHasPdb: StackValidationPolicy = {
  name: "ha-has-pdb",
  description:
    "A Deployment or StatefulSet with 2 or more replicas (or an HPA minReplicas of 2 or more) " +
    "has a PodDisruptionBudget selecting it that still allows at least one eviction.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Create a PDB from the workload's selector with maxUnavailable: 1 (or minAvailable below " +
    "the replica count).",
  validateStack: validateKubeStack((stack, report) => {
    for (const workload of stack.workloads) {
      if (REPLICATED_KINDS.includes(workload.kind)) checkWorkload(stack, workload, report);
    }
  }),
};
