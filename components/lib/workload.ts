import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import type { ContainerProbes } from "./probes";
import { resourceRequirements, type ResourceSpec } from "./resources";
import { containerSecurityContext, podSecurityContext, type PodSecurityOptions } from "./security";

type Container = k8s.types.input.core.v1.Container;

/** Everything a container needs; the security context and resources follow the baseline. */
export interface ContainerArgs {
  /** Container name. */
  name: string;
  /** Image reference (from the catalogue or the stack config). */
  image: pulumi.Input<string>;
  /** Entrypoint override. @default the image's */
  command?: pulumi.Input<string>[];
  /** Arguments. @default the image's */
  args?: pulumi.Input<string>[];
  /** Named container ports. @default none */
  ports?: { name: string; containerPort: number; protocol?: "TCP" | "UDP" }[];
  /** Environment; credentials only via `SecretKey.env`. @default none */
  env?: pulumi.Input<k8s.types.input.core.v1.EnvVar>[];
  /** Requests and limits. */
  resources: ResourceSpec;
  /** Readiness/liveness/startup probes; required for anything long-running. @default none */
  probes?: ContainerProbes;
  /** Volume mounts. @default none */
  volumeMounts?: pulumi.Input<k8s.types.input.core.v1.VolumeMount>[];
  /** Read-only root filesystem; writable paths as emptyDir mounts. @default true */
  readOnlyRootFilesystem?: boolean;
  /** Lifecycle hooks (e.g. a preStop delay for graceful shutdown). @default none */
  lifecycle?: k8s.types.input.core.v1.Lifecycle;
}

/** A container with the baseline security context, resources and probes. */
export function container(args: ContainerArgs): Container {
  return {
    name: args.name,
    image: args.image,
    imagePullPolicy: "IfNotPresent",
    ...(args.command ? { command: args.command } : {}),
    ...(args.args ? { args: args.args } : {}),
    ...(args.ports ? { ports: args.ports.map((port) => ({ protocol: "TCP", ...port })) } : {}),
    ...(args.env ? { env: args.env } : {}),
    ...(args.volumeMounts ? { volumeMounts: args.volumeMounts } : {}),
    ...(args.lifecycle ? { lifecycle: args.lifecycle } : {}),
    ...(args.probes ?? {}),
    resources: resourceRequirements(args.resources),
    securityContext: containerSecurityContext({
      readOnlyRootFilesystem: args.readOnlyRootFilesystem,
    }),
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

/** The pod-level parts of a workload. */
export interface PodArgs {
  /** Main containers. */
  containers: Container[];
  /** Init containers. @default none */
  initContainers?: Container[];
  /** Volumes. @default none */
  volumes?: pulumi.Input<k8s.types.input.core.v1.Volume>[];
  /** UID/GID of the image's user. @default see `podSecurityContext` */
  security?: PodSecurityOptions;
  /** Service account. @default the namespace's `default`, with no token mounted */
  serviceAccountName?: pulumi.Input<string>;
  /** Mount an API token: only for workloads that call the Kubernetes API. @default false */
  automountServiceAccountToken?: boolean;
  /** Grace period for shutdown. @default 30 */
  terminationGracePeriodSeconds?: number;
  /** `Always` for long-running workloads, `OnFailure`/`Never` for Jobs. @default Always */
  restartPolicy?: "Always" | "OnFailure" | "Never";
  /** Spread replicas across nodes (for workloads with more than one replica). @default false */
  spreadAcrossNodes?: boolean;
  /**
   * How hard the spread is, when there is one ({@link NodeSpreadMode}).
   * @default "ScheduleAnyway"
   */
  nodeSpread?: NodeSpreadMode;
  /** RuntimeClass of the pod, e.g. `nvidia` for GPUs. @default the node's default runtime */
  runtimeClassName?: string;
  /** `kubernetes.io/dockerconfigjson` Secrets to pull private images with. @default none */
  imagePullSecrets?: pulumi.Input<string>[];
  /** Scheduling rules beyond the spread, e.g. never two replicas on one node. @default none */
  affinity?: k8s.types.input.core.v1.Affinity;
}

/**
 * `whenUnsatisfiable` of a spread across nodes. `ScheduleAnyway` only prefers other nodes, so a
 * one-node cluster still schedules every replica; `DoNotSchedule` keeps two replicas off one node
 * (one node lost must not take both), which only a cluster of more than one node can satisfy.
 */
export type NodeSpreadMode = "DoNotSchedule" | "ScheduleAnyway";

/** The spread a cluster of `nodes` nodes can keep: hard from two nodes on. */
export function nodeSpreadFor(nodes: number): NodeSpreadMode {
  return nodes > 1 ? "DoNotSchedule" : "ScheduleAnyway";
}

/** One replica more per node than on the emptiest node, at most. */
export function nodeSpreadConstraint(
  identity: WorkloadIdentity,
  mode: NodeSpreadMode = "ScheduleAnyway",
): k8s.types.input.core.v1.TopologySpreadConstraint {
  return {
    maxSkew: 1,
    topologyKey: "kubernetes.io/hostname",
    whenUnsatisfiable: mode,
    labelSelector: { matchLabels: selectorFor(identity) },
    // A hard spread ignores tainted nodes (cordoned, NotReady, unreachable): counted as empty
    // domains, a drained node would leave the replacement pod Pending until it came back.
    ...(mode === "DoNotSchedule" ? { nodeTaintsPolicy: "Honor" } : {}),
  };
}

/** A pod template: labels from the identity, the baseline pod security context. */
export function podTemplate(
  identity: WorkloadIdentity,
  pod: PodArgs,
  annotations?: pulumi.Input<Record<string, pulumi.Input<string>>>,
): k8s.types.input.core.v1.PodTemplateSpec {
  return {
    metadata: { labels: labelsFor(identity), ...(annotations ? { annotations } : {}) },
    spec: {
      containers: pod.containers,
      ...(pod.initContainers ? { initContainers: pod.initContainers } : {}),
      ...(pod.volumes ? { volumes: pod.volumes } : {}),
      ...(pod.serviceAccountName ? { serviceAccountName: pod.serviceAccountName } : {}),
      automountServiceAccountToken: pod.automountServiceAccountToken ?? false,
      securityContext: podSecurityContext(pod.security),
      terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds ?? 30,
      restartPolicy: pod.restartPolicy ?? "Always",
      enableServiceLinks: false,
      ...(pod.runtimeClassName ? { runtimeClassName: pod.runtimeClassName } : {}),
      ...(pod.imagePullSecrets?.length
        ? { imagePullSecrets: pod.imagePullSecrets.map((name) => ({ name })) }
        : {}),
      ...(pod.spreadAcrossNodes
        ? { topologySpreadConstraints: [nodeSpreadConstraint(identity, pod.nodeSpread)] }
        : {}),
      ...(pod.affinity ? { affinity: pod.affinity } : {}),
    },
  };
}

/** Metadata of a namespaced object belonging to a workload. */
export function objectMeta(
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
  annotations?: Record<string, string>,
): k8s.types.input.meta.v1.ObjectMeta {
  return {
    name,
    namespace,
    labels: labelsFor(identity),
    ...(annotations ? { annotations } : {}),
  };
}

/**
 * A size-limited emptyDir volume: the writable paths of a read-only root filesystem. `Memory`
 * backs it with tmpfs (counted against the pod's memory), e.g. for a larger `/dev/shm`.
 */
export function emptyDir(
  name: string,
  sizeLimit = "64Mi",
  medium?: "Memory",
): k8s.types.input.core.v1.Volume {
  return { name, emptyDir: { sizeLimit, ...(medium ? { medium } : {}) } };
}

/**
 * A PodDisruptionBudget that lets one pod of the workload go at a time. `maxUnavailable: 1`
 * (not `minAvailable`) stays satisfiable at any replica count an HPA picks, so it never blocks a
 * node drain, and still keeps a drain from taking every replica at once.
 */
export function disruptionBudget(
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
): k8s.policy.v1.PodDisruptionBudgetArgs {
  return {
    metadata: objectMeta(name, namespace, identity),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorFor(identity) } },
  };
}

/**
 * Annotations of a Job that `pulumi up` waits for and reruns when it failed: a failed Job is
 * "unready", so the next `up` replaces it, i.e. runs it again; and the provider waits as long as
 * the Job may run, plus time to schedule it, instead of its default 10 minutes.
 */
export function retriedJobAnnotations(activeDeadlineSeconds: number): Record<string, string> {
  return {
    "pulumi.com/replaceUnready": "true",
    "pulumi.com/timeoutSeconds": String(activeDeadlineSeconds + 60),
  };
}
