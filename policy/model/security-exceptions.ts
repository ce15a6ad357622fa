/**
 * THE one place where exceptions to the security baseline (docs/architecture.md) are named. Every
 * entry says which control it relaxes, for which workload, and why; the policy pack reads these
 * lists, so an exception that is not written down here is a policy violation, and one written here
 * is still held to every control it does not name.
 *
 * Workloads are identified by the `app.kubernetes.io/component` label of their pod template
 * (`labels.ts`), which is unique across the platform.
 */

/** The pod-template label an exception or allowance is keyed by. */
export const COMPONENT_LABEL = "app.kubernetes.io/component";

/**
 * Service annotation by which config asks for a `LoadBalancer` or `NodePort` Service; without it
 * the policy pack (`svc-type`) rejects either type, so nothing is exposed on the nodes by accident.
 */
export const EXPOSE_ANNOTATION = "k3s-platform/expose";

/** The annotation value that turns {@link EXPOSE_ANNOTATION} on. */
export const EXPOSE_ANNOTATION_VALUE = "true";

/** Suffix of the namespace that holds the node log collector and nothing else. */
export const NODE_LOGS_NAMESPACE_SUFFIX = "-node-logs";

/**
 * The namespace of the node log collector: its own, labelled Pod Security `privileged`, so the
 * platform namespace itself stays `restricted`.
 */
export function nodeLogsNamespace(platformNamespace: string): string {
  return `${platformNamespace}${NODE_LOGS_NAMESPACE_SUFFIX}`;
}

/**
 * The node's directory where the node log collector keeps its file offsets across restarts and
 * reboots: its own, under no other program's tree, and its one writable host path.
 */
export const NODE_LOG_CHECKPOINTS_HOST_DIR = "/var/lib/k3s-platform/otel-node-logs";

/** `app.kubernetes.io/component` of the node log collector's pods. */
export const NODE_LOG_COLLECTOR_COMPONENT = "node-log-collector";

/** The Pod Security Standards controls an exception may relax, and nothing else. */
export const RelaxableControl = {
  /** Baseline "HostPath Volumes" and restricted "Volume Types": only the listed host paths. */
  hostPathVolumes: "hostPathVolumes",
  /** Restricted "Running as Non-root" and "Running as Non-root user": the process may be UID 0. */
  runAsRoot: "runAsRoot",
} as const;
export type RelaxableControl = (typeof RelaxableControl)[keyof typeof RelaxableControl];

/**
 * A host directory an exception may mount: read-only, or writable with its own reason (a node's
 * directory a pod can write outlives the pod, so each one is named and argued).
 */
export type HostPathGrant =
  | {
      /** Absolute directory; the volume's `hostPath.path` must be it or lie below it. */
      pathPrefix: string;
      /** Every mount of such a volume must set `readOnly: true`. */
      readOnly: true;
    }
  | {
      /** Absolute directory; the volume's `hostPath.path` must be it or lie below it. */
      pathPrefix: string;
      /** Mounts may write. */
      readOnly: false;
      /** Why the workload must write there, quoted in the catalogue. */
      why: string;
    };

/** One relaxed control with its reason. */
export interface Relaxation {
  control: RelaxableControl;
  why: string;
}

/** A named exception to the Pod Security Standards. */
export interface SecurityException {
  /** Stable id, quoted in policy messages. */
  id: string;
  /** The workload kinds it may be; any other kind with the same labels gets no exception. */
  kinds: readonly ("Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob")[];
  /** `app.kubernetes.io/component` of its pod template. */
  component: string;
  /** Suffix of its namespace (the platform namespace plus this); see {@link nodeLogsNamespace}. */
  namespaceSuffix: string;
  /** Pod Security level its namespace is labelled with. */
  podSecurityLevel: "privileged" | "baseline";
  /** The controls relaxed; every other restricted and baseline control still applies. */
  relaxes: readonly Relaxation[];
  /** Host paths it may mount when {@link RelaxableControl.hostPathVolumes} is relaxed. */
  hostPaths: readonly HostPathGrant[];
}

/** Every exception to the Pod Security Standards; the policy pack admits no other. */
export const SECURITY_EXCEPTIONS: readonly SecurityException[] = [
  {
    id: "node-log-collector",
    kinds: ["DaemonSet"],
    component: NODE_LOG_COLLECTOR_COMPONENT,
    namespaceSuffix: NODE_LOGS_NAMESPACE_SUFFIX,
    podSecurityLevel: "privileged",
    relaxes: [
      {
        control: RelaxableControl.hostPathVolumes,
        why:
          "the OTel Collector tails every pod's log under /var/log/pods on its node, which only " +
          "a hostPath volume reaches; it is mounted read-only. It keeps its read offsets in a " +
          "writable host directory of its own, so a restart or reboot loses no log lines",
      },
      {
        control: RelaxableControl.runAsRoot,
        why:
          "/var/log/pods is owned by root with mode 0750 on K3s nodes, so a non-root reader " +
          "sees nothing; all capabilities stay dropped and privilege escalation stays off",
      },
    ],
    hostPaths: [
      { pathPrefix: "/var/log", readOnly: true },
      {
        pathPrefix: NODE_LOG_CHECKPOINTS_HOST_DIR,
        readOnly: false,
        why:
          "the filelog receiver's file offsets (the file_storage extension): in the pod they " +
          "would die with it, so every restart or node reboot would skip or resend logs. The " +
          "directory is the collector's own and holds only its offset database",
      },
    ],
  },
];

/** What a pod template is: its workload kind, namespace and labels. */
export interface WorkloadFacts {
  kind: string;
  namespace: string | undefined;
  labels: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * The exception that names this workload, matched by kind, namespace and component label together
 * (never by one of them alone), or undefined.
 */
export function securityExceptionFor(workload: WorkloadFacts): SecurityException | undefined {
  const component = workload.labels?.[COMPONENT_LABEL];
  const namespace = workload.namespace;
  if (component === undefined || namespace === undefined) return undefined;
  return SECURITY_EXCEPTIONS.find(
    (exception) =>
      exception.component === component &&
      exception.kinds.some((kind) => kind === workload.kind) &&
      namespace.endsWith(exception.namespaceSuffix) &&
      namespace.length > exception.namespaceSuffix.length,
  );
}

/** A component allowed something the baseline otherwise forbids, with the reason. */
export interface ComponentAllowance {
  /** `app.kubernetes.io/component` of the pod template. */
  component: string;
  why: string;
}

/**
 * Workloads that call the Kubernetes API and so may mount a service-account token
 * (`automountServiceAccountToken: true`); every other pod sets it to false (`sa-token`).
 */
export const KUBERNETES_API_USERS: readonly ComponentAllowance[] = [
  {
    component: "prometheus",
    why: "kubernetes_sd discovers pods, endpoints and services to scrape through the API",
  },
  {
    component: "telemetry-gateway",
    why:
      "the OTel Collector's k8sattributes processor reads pods and namespaces to label " +
      "telemetry with the workload that sent it",
  },
  {
    component: "cluster-state-metrics",
    why:
      "kube-state-metrics lists and watches the platform namespace's Jobs and CronJobs (its " +
      "Role grants nothing else) to report the backups' and migrations' outcomes",
  },
  {
    component: "worker",
    why:
      "the app's Temporal workflows deploy, health-check and roll back users' services in the " +
      "DeployTarget namespaces through the API",
  },
  {
    component: "database",
    why:
      "the Patroni members of postgres.ha keep the leader key in Endpoints and label their own " +
      "pods primary or replica (their Role grants nothing else); the single server mounts no token",
  },
];

/** A pod label that a workload sets on its own pods at run time, which no template carries. */
export interface RuntimeLabel extends ComponentAllowance {
  /** The label's key. */
  label: string;
}

/**
 * Labels a Service may select by although no pod template carries them (`svc-selects-pods`):
 * the workload's own process sets them on its running pods.
 */
export const RUNTIME_POD_LABELS: readonly RuntimeLabel[] = [
  {
    component: "database",
    label: "role",
    why: "Patroni labels each member `primary` or `replica`; postgres-replicas selects the standbys",
  },
];

/**
 * Workloads whose Role may read Secrets (`get`/`list`/`watch` without `resourceNames`); a
 * ClusterRole never may (`rbac-least`).
 */
export const SECRET_READERS: readonly ComponentAllowance[] = [
  {
    component: "worker",
    why:
      "users' services carry their own Secrets, which the worker applies and reads back in the " +
      "DeployTarget namespaces it deploys to",
  },
];

/**
 * Workloads whose image cannot run with a read-only root filesystem even with `emptyDir` mounts
 * for its writable paths (`read-only-root`). None is known today: writable paths are mounted.
 */
export const WRITABLE_ROOT_FILESYSTEMS: readonly ComponentAllowance[] = [];

/**
 * Workloads that serve traffic from a single replica even in prod (`ha-replicas-prod`), because a
 * second one cannot share their state.
 */
export const SINGLE_REPLICA_WORKLOADS: readonly ComponentAllowance[] = [
  {
    component: "llm",
    why:
      "Ollama keeps its models on one ReadWriteOnce volume (K3s's local-path has no ReadWriteMany); " +
      "a second replica would need its own copy of every model, tens of GiB, pulled separately. One " +
      "replica restarts in seconds with the models already on disk, and the app treats the LLM as " +
      "optional while it does",
  },
];

/** True when the component is in the allowance list. */
export function isAllowed(
  allowances: readonly ComponentAllowance[],
  component: string | undefined,
): boolean {
  return component !== undefined && allowances.some((entry) => entry.component === component);
}
