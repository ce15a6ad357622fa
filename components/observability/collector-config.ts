import { PORTS, type RbacRule } from "./common";

/**
 * The config files of both OTel Collectors, the gateway and the node log collector, and what the
 * gateway may read of the API: pure functions of their inputs.
 */

/** Where the gateway collector sends each signal. */
export interface CollectorExporters {
  /** `host:port` of Tempo's OTLP gRPC receiver. */
  tempoOtlpGrpc: string;
  /** Base URL of Loki's OTLP endpoint (`…/otlp`); the exporter appends `/v1/logs`. */
  lokiOtlpHttp: string;
  /** Base URL of Prometheus's OTLP receiver (`…/api/v1/otlp`); `/v1/metrics` is appended. */
  prometheusOtlpHttp: string;
}

/** Path of the mounted config file. */
export const COLLECTOR_CONFIG_PATH = "/etc/otelcol/config.yaml";

/**
 * Processors every pipeline starts with. memory_limiter goes first so that under pressure data is
 * refused at the receiver (clients retry) instead of the process being OOM-killed; its limits are
 * shares of the container's cgroup memory limit.
 */
const MEMORY_LIMITER = { check_interval: "1s", limit_percentage: 80, spike_limit_percentage: 20 };
const BATCH = { send_batch_size: 8192, timeout: "1s" };

/** What both collectors share: health endpoint and their own metrics, bound to the pod IP. */
function serviceTelemetry(): Record<string, unknown> {
  return {
    logs: { level: "info", encoding: "json" },
    metrics: {
      // The default reader binds localhost:8888, which Prometheus cannot reach.
      readers: [
        { pull: { exporter: { prometheus: { host: "0.0.0.0", port: PORTS.collectorMetrics } } } },
      ],
    },
  };
}

/**
 * The gateway's config: OTLP in (gRPC 4317, HTTP 4318, bound to 0.0.0.0 since the collector's
 * default is localhost), Kubernetes attributes added, each signal out to its store.
 */
export function collectorConfig(exporters: CollectorExporters): Record<string, unknown> {
  const processors = ["memory_limiter", "k8sattributes", "batch"];
  return {
    extensions: { health_check: { endpoint: `0.0.0.0:${PORTS.collectorHealth}` } },
    receivers: {
      otlp: {
        protocols: {
          grpc: { endpoint: `0.0.0.0:${PORTS.otlpGrpc}` },
          http: { endpoint: `0.0.0.0:${PORTS.otlpHttp}` },
        },
      },
    },
    processors: {
      memory_limiter: MEMORY_LIMITER,
      k8sattributes: {
        auth_type: "serviceAccount",
        passthrough: false,
        extract: {
          metadata: [
            "k8s.namespace.name",
            "k8s.pod.name",
            "k8s.pod.uid",
            "k8s.node.name",
            "k8s.deployment.name",
            "k8s.statefulset.name",
            "k8s.daemonset.name",
            "k8s.job.name",
          ],
          // Logs read from files carry no service.name; the pod's app name gives them the one the
          // app's own telemetry uses (OTEL_SERVICE_NAME), so trace-to-logs links find them. An
          // attribute the sender set is never overwritten.
          labels: [{ tag_name: "service.name", key: "app.kubernetes.io/name", from: "pod" }],
        },
        // Logs arrive from the node log collector, not from the pod that wrote them: match on the
        // pod UID it read from the log path first, the sender's address last.
        pod_association: [
          { sources: [{ from: "resource_attribute", name: "k8s.pod.uid" }] },
          { sources: [{ from: "resource_attribute", name: "k8s.pod.ip" }] },
          { sources: [{ from: "connection" }] },
        ],
      },
      batch: BATCH,
    },
    exporters: {
      "otlp_grpc/tempo": { endpoint: exporters.tempoOtlpGrpc, tls: { insecure: true } },
      "otlp_http/prometheus": { endpoint: exporters.prometheusOtlpHttp },
      "otlp_http/loki": { endpoint: exporters.lokiOtlpHttp },
    },
    service: {
      extensions: ["health_check"],
      telemetry: serviceTelemetry(),
      pipelines: {
        traces: { receivers: ["otlp"], processors, exporters: ["otlp_grpc/tempo"] },
        metrics: { receivers: ["otlp"], processors, exporters: ["otlp_http/prometheus"] },
        logs: { receivers: ["otlp"], processors, exporters: ["otlp_http/loki"] },
      },
    },
  };
}

/** What the node log collector's config is built from. */
export interface NodeLogCollectorConfigArgs {
  /** `host:port` of the gateway collector's OTLP gRPC receiver. */
  gatewayOtlpGrpc: string;
  /** The node log collector's own namespace, whose logs it skips. */
  ownNamespace: string;
}

/** Where the kubelet writes container logs: `<namespace>_<pod>_<uid>/<container>/<n>.log`. */
export const POD_LOGS_DIR = "/var/log/pods";

/** Where the node's checkpoint directory (policy/model/security-exceptions.ts) is mounted. */
export const NODE_LOG_CHECKPOINTS_DIR = "/var/lib/otelcol/node-logs";

/** The storage extension that holds the filelog receiver's offsets. */
const CHECKPOINT_STORAGE = "file_storage/checkpoints";

/**
 * The node log collector's config: tail every container log on the node (CRI format, parsed by the
 * `container` operator, which also reads namespace, pod, UID and container from the path), and
 * forward to the gateway, which labels and stores them. Its own logs are skipped, so an export
 * error cannot feed itself.
 */
export function nodeLogCollectorConfig(args: NodeLogCollectorConfigArgs): Record<string, unknown> {
  return {
    extensions: {
      health_check: { endpoint: `0.0.0.0:${PORTS.collectorHealth}` },
      [CHECKPOINT_STORAGE]: {
        directory: NODE_LOG_CHECKPOINTS_DIR,
        // The default compaction directory is the OS temp dir, which the read-only root refuses;
        // compacting beside the database needs no second volume.
        compaction: { on_start: true, directory: NODE_LOG_CHECKPOINTS_DIR },
      },
    },
    receivers: {
      filelog: {
        include: [`${POD_LOGS_DIR}/*/*/*.log`],
        exclude: [`${POD_LOGS_DIR}/${args.ownNamespace}_*/*/*.log`],
        // Offsets are kept in the node's checkpoint directory after every poll. Once any are
        // kept, the receiver resumes each known file at its offset and reads every file it does
        // not know (one created while it was down) from the start, ignoring start_at; start_at
        // only spares a first install from sending every existing log again.
        storage: CHECKPOINT_STORAGE,
        start_at: "end",
        // The container operator takes the Kubernetes metadata from log.file.path.
        include_file_path: true,
        include_file_name: false,
        operators: [{ type: "container", id: "container-parser" }],
      },
    },
    processors: { memory_limiter: MEMORY_LIMITER, batch: BATCH },
    exporters: {
      "otlp_grpc/gateway": { endpoint: args.gatewayOtlpGrpc, tls: { insecure: true } },
    },
    service: {
      extensions: ["health_check", CHECKPOINT_STORAGE],
      telemetry: serviceTelemetry(),
      pipelines: {
        logs: {
          receivers: ["filelog"],
          processors: ["memory_limiter", "batch"],
          exporters: ["otlp_grpc/gateway"],
        },
      },
    },
  };
}

/**
 * What k8sattributes reads, and nothing else: pods (their labels and owners' names) and
 * namespaces, as its README requires. No replicasets: the Deployment name comes from the
 * ReplicaSet's name (v1.4 watches ReplicaSets only for Deployment UIDs or labels, which we do not
 * extract). No Secrets, no writes.
 */
export function collectorClusterRoleRules(): RbacRule[] {
  return [{ apiGroups: [""], resources: ["pods", "namespaces"], verbs: ["get", "list", "watch"] }];
}
