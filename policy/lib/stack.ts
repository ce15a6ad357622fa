import type { Profile } from "../model/profile";
import { declaredProfile, PROFILE_LABEL } from "../model/profile";
import type { KubeObject, ResourceFacts } from "./k8s";
import { toKubeObject } from "./k8s";
import { sameNamespace } from "./selectors";
import type { Workload } from "./workloads";
import { workloadsOf } from "./workloads";

/** A reference that resolved, did not, or cannot be decided yet (unknown names). */
export type Lookup = { found: KubeObject } | "missing" | "unknown";

/** Pass as the namespace to look up a cluster-scoped object. */
export const CLUSTER_SCOPED = null;

/** The Kubernetes objects of a stack, indexed for whole-stack rules. */
export interface StackIndex {
  objects: readonly KubeObject[];
  workloads: readonly Workload[];
  ofKind(kind: string): readonly KubeObject[];
  /**
   * The object of that kind and name in that namespace (`CLUSTER_SCOPED` for cluster objects; an
   * unknown namespace matches any). "unknown" when a candidate's name or namespace is not known.
   */
  find(kind: string, namespace: string | undefined | null, name: string): Lookup;
}

export function indexStack(resources: readonly ResourceFacts[]): StackIndex {
  const objects = resources.flatMap((resource) => toKubeObject(resource) ?? []);
  const byKind = new Map<string, KubeObject[]>();
  for (const object of objects) {
    byKind.set(object.kind, [...(byKind.get(object.kind) ?? []), object]);
  }
  const ofKind = (kind: string): readonly KubeObject[] => byKind.get(kind) ?? [];
  return {
    objects,
    workloads: workloadsOf(objects),
    ofKind,
    find: (kind, namespace, name) => find(ofKind(kind), namespace, name),
  };
}

function find(
  candidates: readonly KubeObject[],
  namespace: string | undefined | null,
  name: string,
): Lookup {
  let unknown = false;
  for (const candidate of candidates) {
    const inNamespace =
      namespace === CLUSTER_SCOPED ? true : sameNamespace(candidate.namespace, namespace);
    if (inNamespace === false) continue;
    if (candidate.name === undefined) unknown = true;
    else if (candidate.name === name) return { found: candidate };
  }
  return unknown ? "unknown" : "missing";
}

/** The profile the stack's namespaces declare; none declared is prod (fail closed). */
export function stackProfile(stack: StackIndex): Profile {
  const declarations = stack
    .ofKind("Namespace")
    .flatMap((namespace) => namespace.metadata.labels?.[PROFILE_LABEL] ?? []);
  return declaredProfile(declarations);
}
