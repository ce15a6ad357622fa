import type { KubeObject, NetworkPolicy } from "./k8s";
import { asArray, view } from "./k8s";
import { both, isEmptySelector, labelSelectorSelects, sameNamespace } from "./selectors";
import type { Workload } from "./workloads";

/** Whether the NetworkPolicy's podSelector selects the workload's pods (undefined: unknown). */
export function policySelects(policy: KubeObject, workload: Workload): boolean | undefined {
  const selector = view<NetworkPolicy>(policy).spec?.podSelector ?? {};
  return both(
    sameNamespace(policy.namespace, workload.object.namespace),
    labelSelectorSelects(selector, workload.labels),
  );
}

/** True for a policy that names particular pods rather than the whole namespace. */
export function isTargeted(policy: KubeObject): boolean {
  return !isEmptySelector(view<NetworkPolicy>(policy).spec?.podSelector);
}

/** True for a policy that allows some traffic (a default deny lists no ingress or egress rule). */
export function isAllowPolicy(policy: KubeObject): boolean {
  const spec = view<NetworkPolicy>(policy).spec;
  return asArray(spec?.ingress).length > 0 || asArray(spec?.egress).length > 0;
}
