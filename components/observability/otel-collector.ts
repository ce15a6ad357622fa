import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation } from "../lib/hash";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../../core/labels";
import { check, probesFor } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import { scrapeAnnotations } from "../lib/scrape";
import { serviceArgs } from "../lib/stateful";
import { container, disruptionBudget, objectMeta, podTemplate } from "../lib/workload";
import {
  DEFAULT_RESOURCES,
  identityOf,
  PORTS,
  toYaml,
  type RbacRule,
  type WorkloadBaseArgs,
} from "./common";

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

/**
 * The node log collector's config: tail every container log on the node (CRI format, parsed by the
 * `container` operator, which also reads namespace, pod, UID and container from the path), and
 * forward to the gateway, which labels and stores them. Its own logs are skipped, so an export
 * error cannot feed itself.
 */
export function nodeLogCollectorConfig(args: NodeLogCollectorConfigArgs): Record<string, unknown> {
  return {
    extensions: { health_check: { endpoint: `0.0.0.0:${PORTS.collectorHealth}` } },
    receivers: {
      filelog: {
        include: [`${POD_LOGS_DIR}/*/*/*.log`],
        exclude: [`${POD_LOGS_DIR}/${args.ownNamespace}_*/*/*.log`],
        // Offsets are not persisted (that would need a writable host path): a restarted collector
        // starts at the end instead of sending every file again.
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
      extensions: ["health_check"],
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

/** The collector container of either collector, its config mounted from a ConfigMap. */
export function collectorContainer(
  image: string,
  resources: ResourceSpec,
  ports: { name: string; containerPort: number }[],
  extraMounts: k8s.types.input.core.v1.VolumeMount[] = [],
): k8s.types.input.core.v1.Container {
  return container({
    name: "otel-collector",
    image,
    args: [`--config=${COLLECTOR_CONFIG_PATH}`],
    ports: [
      ...ports,
      { name: "metrics", containerPort: PORTS.collectorMetrics },
      { name: "health", containerPort: PORTS.collectorHealth },
    ],
    resources,
    probes: probesFor(check.http("/", "health")),
    volumeMounts: [{ name: "config", mountPath: "/etc/otelcol", readOnly: true }, ...extraMounts],
  });
}

/** Arguments of an {@link OtelCollector}. */
export interface OtelCollectorArgs extends WorkloadBaseArgs {
  /** Replicas of the gateway; 2 or more get a PDB and a spread across nodes. @default 1 */
  replicas?: number;
  /** Where traces, metrics and logs go (the Services of Tempo, Prometheus and Loki). */
  exporters: pulumi.Input<CollectorExporters>;
}

/**
 * The OTel Collector gateway: the one OTLP endpoint of the platform (gRPC 4317, HTTP 4318). It
 * labels telemetry with the Kubernetes workload that sent it and sends traces to Tempo, metrics to
 * Prometheus's OTLP receiver and logs to Loki's OTLP endpoint.
 */
export class OtelCollector extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:4317`, for OTLP gRPC clients (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  public readonly otlpGrpcEndpoint: pulumi.Output<string>;
  /** `http://<host>:4318`, for OTLP HTTP clients. */
  public readonly otlpHttpEndpoint: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The Deployment, for `dependsOn`. */
  public readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: OtelCollectorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:OtelCollector", name, {}, opts);
    const replicas = args.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new pulumi.InputPropertyError({
        propertyPath: "replicas",
        reason: `must be a whole number of at least 1 (got ${replicas})`,
      });
    }
    const image = args.image ?? imageRef("otelCollector");
    this.identity = identityOf("collector", args.instance ?? name, tagOf(image));
    const labels = labelsFor(this.identity);
    const ns = args.namespace;

    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: {
          "config.yaml": pulumi.output(args.exporters).apply((e) => toYaml(collectorConfig(e))),
        },
      },
      { parent: this },
    );

    const account = new k8s.core.v1.ServiceAccount(
      name,
      { metadata: objectMeta(name, ns, this.identity), automountServiceAccountToken: false },
      { parent: this },
    );
    // Cluster-wide: apps send from the platform namespace and from the deployment targets.
    const clusterName = pulumi.interpolate`${ns}-${name}`;
    const role = new k8s.rbac.v1.ClusterRole(
      `${name}-k8sattributes`,
      { metadata: { name: clusterName, labels }, rules: collectorClusterRoleRules() },
      { parent: this },
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-k8sattributes`,
      {
        metadata: { name: clusterName, labels },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: role.metadata.name,
        },
        subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace: ns }],
      },
      { parent: this },
    );

    const main = collectorContainer(image, args.resources ?? DEFAULT_RESOURCES.collector, [
      { name: "otlp-grpc", containerPort: PORTS.otlpGrpc },
      { name: "otlp-http", containerPort: PORTS.otlpHttp },
    ]);
    const annotations = configHashAnnotation(config.data).apply((hash) => ({
      ...hash,
      ...scrapeAnnotations(PORTS.collectorMetrics),
    }));
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: objectMeta(name, ns, this.identity),
        spec: {
          replicas,
          selector: { matchLabels: selectorFor(this.identity) },
          template: podTemplate(
            this.identity,
            {
              containers: [main],
              volumes: [{ name: "config", configMap: { name: config.metadata.name } }],
              security: { runAsUser: IMAGES.otelCollector.uid },
              serviceAccountName: account.metadata.name,
              // k8sattributes watches the API (KUBERNETES_API_USERS names this component).
              automountServiceAccountToken: true,
              spreadAcrossNodes: replicas > 1,
            },
            annotations,
          ),
        },
      },
      { parent: this },
    );
    if (replicas > 1) {
      new k8s.policy.v1.PodDisruptionBudget(name, disruptionBudget(name, ns, this.identity), {
        parent: this,
      });
    }

    const service = new k8s.core.v1.Service(
      name,
      serviceArgs(name, ns, this.identity, [
        { name: "otlp-grpc", port: PORTS.otlpGrpc },
        { name: "otlp-http", port: PORTS.otlpHttp },
      ]),
      { parent: this },
    );
    this.service = service.metadata.name;
    this.host = pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc`;
    this.otlpGrpcEndpoint = pulumi.interpolate`http://${this.host}:${PORTS.otlpGrpc}`;
    this.otlpHttpEndpoint = pulumi.interpolate`http://${this.host}:${PORTS.otlpHttp}`;

    this.registerOutputs({
      service: this.service,
      host: this.host,
      otlpGrpcEndpoint: this.otlpGrpcEndpoint,
      otlpHttpEndpoint: this.otlpHttpEndpoint,
    });
  }
}
