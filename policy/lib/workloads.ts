import type {
  Container,
  CronJob,
  Deployment,
  KubeObject,
  Labels,
  ObjectMeta,
  PodSpec,
  PodTemplateSpec,
} from "./k8s";
import { COMPONENT_LABEL } from "../model/security-exceptions";
import { asArray, view } from "./k8s";

/** Every kind that carries a pod template. */
export const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Kinds whose pods run until replaced, as opposed to run-to-completion Jobs. */
export const LONG_RUNNING_KINDS: readonly WorkloadKind[] = [
  "Deployment",
  "StatefulSet",
  "DaemonSet",
];

/** Kinds whose replica count is `spec.replicas`. */
export const REPLICATED_KINDS: readonly WorkloadKind[] = ["Deployment", "StatefulSet"];

/** A workload and its pod template. */
export interface Workload {
  object: KubeObject;
  kind: WorkloadKind;
  /** Field path of the pod template: `spec.template` or `spec.jobTemplate.spec.template`. */
  path: string;
  metadata: ObjectMeta;
  /** Pod template labels (what Services, PDBs and NetworkPolicies select on). */
  labels: Labels;
  spec: PodSpec;
}

/** One container of a pod template, with its field path. */
export interface ContainerRef {
  container: Container;
  /** `spec.template.spec.containers[0]`, `...initContainers[1]`. */
  path: string;
  /** An init container that runs to completion before the pod starts. */
  init: boolean;
  /** An init container with `restartPolicy: Always`: a native sidecar, long-running. */
  sidecar: boolean;
  /** `container "web"` or `init container "migrate"` for messages. */
  label: string;
}

export function isWorkloadKind(kind: string): kind is WorkloadKind {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

/** The workload with its pod template, or undefined for other kinds or an absent template. */
export function workloadOf(object: KubeObject): Workload | undefined {
  const kind = object.kind;
  if (!isWorkloadKind(kind)) return undefined;
  const cron = kind === "CronJob";
  const template: PodTemplateSpec | undefined = cron
    ? view<CronJob>(object).spec?.jobTemplate?.spec?.template
    : // Deployment, StatefulSet, DaemonSet and Job all keep it at spec.template.
      view<Deployment>(object).spec?.template;
  if (template === undefined) return undefined;
  const metadata = template.metadata ?? {};
  return {
    object,
    kind,
    path: cron ? "spec.jobTemplate.spec.template" : "spec.template",
    metadata,
    labels: metadata.labels ?? {},
    spec: template.spec ?? {},
  };
}

/** Every workload among the objects. */
export function workloadsOf(objects: readonly KubeObject[]): Workload[] {
  return objects.flatMap((object) => workloadOf(object) ?? []);
}

/** Init containers first (they run first), then the main containers. */
export function containersOf(workload: Workload): ContainerRef[] {
  const base = `${workload.path}.spec`;
  const init = asArray(workload.spec.initContainers).map((container, index) => {
    const sidecar = container.restartPolicy === "Always";
    return {
      container,
      path: `${base}.initContainers[${index}]`,
      init: !sidecar,
      sidecar,
      label: `${sidecar ? "sidecar" : "init"} container "${container.name ?? index}"`,
    };
  });
  const main = asArray(workload.spec.containers).map((container, index) => ({
    container,
    path: `${base}.containers[${index}]`,
    init: false,
    sidecar: false,
    label: `container "${container.name ?? index}"`,
  }));
  return [...init, ...main];
}

/** Containers that keep running while the pod serves: main containers and native sidecars. */
export function runningContainersOf(workload: Workload): ContainerRef[] {
  return containersOf(workload).filter((ref) => !ref.init);
}

export function isLongRunning(workload: Workload): boolean {
  return LONG_RUNNING_KINDS.includes(workload.kind);
}

/** `app.kubernetes.io/component` of the pod template, falling back to the workload's own. */
export function componentOf(workload: Workload): string | undefined {
  return workload.labels[COMPONENT_LABEL] ?? workload.object.metadata.labels?.[COMPONENT_LABEL];
}
