import type { Deployment, HorizontalPodAutoscaler, KubeObject, PodDisruptionBudget } from "./k8s";
import { view } from "./k8s";
import { both, labelSelectorSelects, sameNamespace } from "./selectors";
import type { StackIndex } from "./stack";
import type { Workload } from "./workloads";

/*
 * PodDisruptionBudget arithmetic as the disruption controller does it: percentages of the replica
 * count, rounded up, for both minAvailable and maxUnavailable.
 */

function scaled(value: number | string, replicas: number): number | undefined {
  if (typeof value === "number") return value;
  const percent = /^(\d+)%$/.exec(value)?.[1];
  return percent === undefined ? undefined : Math.ceil((Number(percent) * replicas) / 100);
}

/**
 * How many pods the PDB lets a drain evict at that replica count; undefined when it says neither
 * minAvailable nor maxUnavailable or a value is unknown.
 */
export function allowedDisruptions(pdb: KubeObject, replicas: number): number | undefined {
  const spec = view<PodDisruptionBudget>(pdb).spec;
  if (spec?.maxUnavailable !== undefined) return scaled(spec.maxUnavailable, replicas);
  if (spec?.minAvailable === undefined) return undefined;
  const required = scaled(spec.minAvailable, replicas);
  return required === undefined ? undefined : replicas - required;
}

/** The PDB's own words for a message: `minAvailable 2` or `maxUnavailable 0`. */
export function budgetText(pdb: KubeObject): string {
  const spec = view<PodDisruptionBudget>(pdb).spec;
  return spec?.maxUnavailable !== undefined
    ? `maxUnavailable ${spec.maxUnavailable} (spec.maxUnavailable)`
    : `minAvailable ${spec?.minAvailable} (spec.minAvailable)`;
}

/** The PDBs whose selector may select the workload's pods, with whether that is certain. */
export function budgetsFor(
  stack: StackIndex,
  workload: Workload,
): { pdb: KubeObject; certain: boolean }[] {
  return stack.ofKind("PodDisruptionBudget").flatMap((pdb) => {
    const selector = view<PodDisruptionBudget>(pdb).spec?.selector;
    if (selector === undefined) return [];
    const match = both(
      sameNamespace(pdb.namespace, workload.object.namespace),
      labelSelectorSelects(selector, workload.labels),
    );
    return match === false ? [] : [{ pdb, certain: match === true }];
  });
}

/** The HPAs that scale the workload. */
export function autoscalersOf(stack: StackIndex, workload: Workload): KubeObject[] {
  return stack.ofKind("HorizontalPodAutoscaler").filter((hpa) => {
    const target = view<HorizontalPodAutoscaler>(hpa).spec?.scaleTargetRef;
    return (
      target?.kind === workload.kind &&
      target.name === workload.object.name &&
      sameNamespace(hpa.namespace, workload.object.namespace) !== false
    );
  });
}

/** `spec.replicas` of a Deployment or StatefulSet, or undefined when absent or unknown. */
export function replicasOf(workload: Workload): number | undefined {
  const replicas = view<Deployment>(workload.object).spec?.replicas;
  return typeof replicas === "number" ? replicas : undefined;
}

/** `spec.minReplicas` of an HPA, defaulting to 1 like the API. */
export function minReplicasOf(hpa: KubeObject): number {
  return view<HorizontalPodAutoscaler>(hpa).spec?.minReplicas ?? 1;
}
