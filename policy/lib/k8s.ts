import type * as out from "@pulumi/kubernetes/types/output";

/**
 * The API's shape with every field optional: a rule reads rendered or previewed data, where any
 * field may be absent (never set) or undefined (not known until the resource exists).
 */
export type Loose<T> = T extends readonly (infer U)[]
  ? Loose<U>[]
  : T extends object
    ? { [K in keyof T]?: Loose<T[K]> }
    : T;

export type ObjectMeta = Loose<out.meta.v1.ObjectMeta>;
export type LabelSelector = Loose<out.meta.v1.LabelSelector>;
export type PodTemplateSpec = Loose<out.core.v1.PodTemplateSpec>;
export type PodSpec = Loose<out.core.v1.PodSpec>;
export type Container = Loose<out.core.v1.Container>;
export type SecurityContext = Loose<out.core.v1.SecurityContext>;
export type Probe = Loose<out.core.v1.Probe>;
export type Volume = Loose<out.core.v1.Volume>;
export type Deployment = Loose<out.apps.v1.Deployment>;
export type StatefulSet = Loose<out.apps.v1.StatefulSet>;
export type DaemonSet = Loose<out.apps.v1.DaemonSet>;
export type Job = Loose<out.batch.v1.Job>;
export type CronJob = Loose<out.batch.v1.CronJob>;
export type Service = Loose<out.core.v1.Service>;
export type ServicePort = Loose<out.core.v1.ServicePort>;
export type Ingress = Loose<out.networking.v1.Ingress>;
export type IngressBackend = Loose<out.networking.v1.IngressBackend>;
export type NetworkPolicy = Loose<out.networking.v1.NetworkPolicy>;
export type PodDisruptionBudget = Loose<out.policy.v1.PodDisruptionBudget>;
export type HorizontalPodAutoscaler = Loose<out.autoscaling.v2.HorizontalPodAutoscaler>;
export type Role = Loose<out.rbac.v1.Role>;
export type PolicyRule = Loose<out.rbac.v1.PolicyRule>;
export type RoleBinding = Loose<out.rbac.v1.RoleBinding>;
export type ServiceAccount = Loose<out.core.v1.ServiceAccount>;
export type Secret = Loose<out.core.v1.Secret>;
export type ConfigMap = Loose<out.core.v1.ConfigMap>;
export type PersistentVolumeClaim = Loose<out.core.v1.PersistentVolumeClaim>;
export type PersistentVolumeClaimSpec = Loose<out.core.v1.PersistentVolumeClaimSpec>;
export type Labels = Readonly<Record<string, string | undefined>>;

/** A Kubernetes object as a rule sees it: who it is, plus its manifest. */
export interface KubeObject {
  urn: string;
  /** `Deployment`, `Service`, ... from the Pulumi type token. */
  kind: string;
  /** `metadata.namespace`; undefined when absent or not yet known. */
  namespace: string | undefined;
  /** `metadata.name`; undefined when auto-named or not yet known. */
  name: string | undefined;
  /** `<Kind>/<namespace>/<name>` for messages (`<Kind>/<name>` without a namespace). */
  id: string;
  metadata: ObjectMeta;
  /** The whole manifest. */
  body: Readonly<Record<string, unknown>>;
  protect: boolean;
  /** Undefined when the caller cannot tell (a real policy run gets no `retainOnDelete`). */
  retainOnDelete: boolean | undefined;
}

/** What a policy run knows of one resource (a subset of Resource- and StackValidationArgs). */
export interface ResourceFacts {
  type: string;
  urn: string;
  name: string;
  props: Record<string, unknown>;
  opts: { protect: boolean; retainOnDelete?: boolean };
}

// `kubernetes:<group>/<version>:<Kind>`; `kubernetes:core/v1:Pod`, `kubernetes:apps/v1:Deployment`.
const KUBE_TYPE = /^kubernetes:[^:/]+\/[^:]+:([A-Za-z0-9]+)$/;

/** The object kind of a Pulumi Kubernetes type token, or undefined (Patch, List, Helm, YAML). */
export function kindOf(type: string): string | undefined {
  const kind = KUBE_TYPE.exec(type)?.[1];
  if (kind === undefined || kind.endsWith("Patch") || kind.endsWith("List")) return undefined;
  return kind;
}

/** The rule's view of a resource, or undefined when it is not a plain Kubernetes object. */
export function toKubeObject(resource: ResourceFacts): KubeObject | undefined {
  const kind = kindOf(resource.type);
  if (kind === undefined) return undefined;
  const metadata = asRecord(resource.props.metadata) as ObjectMeta;
  const namespace = typeof metadata.namespace === "string" ? metadata.namespace : undefined;
  const name = typeof metadata.name === "string" ? metadata.name : undefined;
  return {
    urn: resource.urn,
    kind,
    namespace,
    name,
    id: objectId(kind, namespace, name ?? resource.name),
    metadata,
    body: resource.props,
    protect: resource.opts.protect,
    retainOnDelete: resource.opts.retainOnDelete,
  };
}

/** `<Kind>/<namespace>/<name>`, or `<Kind>/<name>` for cluster-scoped or unknown namespaces. */
export function objectId(kind: string, namespace: string | undefined, name: string): string {
  return namespace === undefined ? `${kind}/${name}` : `${kind}/${namespace}/${name}`;
}

/**
 * The manifest typed as the API object it claims to be. Rendered data has no runtime type to check
 * against; {@link Loose} keeps every field optional, so a rule must handle absence anyway.
 */
export function view<T>(object: KubeObject): T {
  return object.body as T;
}

/** A plain object, or an empty one for anything else (absent, unknown or a redacted string). */
export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** An array, or an empty one for anything else. */
export function asArray<T>(value: readonly T[] | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

/** `{a: "1", b: "2"}` as `a=1, b=2` for messages. */
export function formatLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return "(none)";
  return entries.map(([key, value]) => `${key}=${value ?? "?"}`).join(", ");
}
