import type { StackValidationPolicy } from "@pulumi/policy";
import {
  allowedDisruptions,
  budgetsFor,
  budgetText,
  minReplicasOf,
  replicasOf,
} from "../lib/disruption";
import type { HorizontalPodAutoscaler, KubeObject } from "../lib/k8s";
import { view } from "../lib/k8s";
import type { StackReport } from "../lib/rule";
import { validateKubeStack } from "../lib/rule";
import type { StackIndex } from "../lib/stack";
import { workloadOf } from "../lib/workloads";

const SCALABLE_KINDS = new Set(["Deployment", "StatefulSet"]);

function checkTarget(stack: StackIndex, hpa: KubeObject, report: StackReport): void {
  const spec = view<HorizontalPodAutoscaler>(hpa).spec;
  const target = spec?.scaleTargetRef;
  if (target?.kind === undefined || target.name === undefined) return;
  if (!SCALABLE_KINDS.has(target.kind)) return;
  const lookup = stack.find(target.kind, hpa.namespace, target.name);
  if (lookup === "unknown") return;
  if (lookup === "missing") {
    report(
      hpa,
      `scales ${target.kind} ${target.name}, which is not in the stack ` +
        `(spec.scaleTargetRef); target the workload's own name`,
    );
    return;
  }
  const workload = workloadOf(lookup.found);
  if (workload === undefined) return;
  const replicas = replicasOf(workload);
  if (replicas !== undefined) {
    report(
      lookup.found,
      `sets spec.replicas (${replicas}) while ${hpa.id} scales it, so every update resets the ` +
        `scale; leave spec.replicas unset when an HPA manages it`,
    );
  }
  const minReplicas = minReplicasOf(hpa);
  for (const { pdb, certain } of budgetsFor(stack, workload)) {
    const allowed = allowedDisruptions(pdb, minReplicas);
    if (!certain || allowed === undefined || allowed >= 1) continue;
    report(
      hpa,
      `at minReplicas ${minReplicas} (spec.minReplicas) ${pdb.id} with ${budgetText(pdb)} ` +
        `blocks every drain; raise minReplicas or set the PDB's maxUnavailable: 1`,
    );
  }
}

/** An HPA is part of the availability story: it must scale something, within the PDB. */
export const hpaConsistency: StackValidationPolicy = {
  name: "hpa-consistency",
  description:
    "An HPA targets an existing Deployment or StatefulSet that leaves spec.replicas to it, its " +
    "minReplicas is at most maxReplicas, and at minReplicas the PDB still allows an eviction.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Point scaleTargetRef at the workload object, omit its spec.replicas, and keep the PDB's " +
    "minAvailable below minReplicas (or use maxUnavailable: 1).",
  validateStack: validateKubeStack((stack, report) => {
    for (const hpa of stack.ofKind("HorizontalPodAutoscaler")) {
      const spec = view<HorizontalPodAutoscaler>(hpa).spec;
      const max = spec?.maxReplicas;
      if (max !== undefined && minReplicasOf(hpa) > max) {
        report(
          hpa,
          `minReplicas ${minReplicasOf(hpa)} exceeds maxReplicas ${max} (spec.minReplicas); ` +
            `set minReplicas ≤ maxReplicas`,
        );
      }
      checkTarget(stack, hpa, report);
    }
  }),
};
