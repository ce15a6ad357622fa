import type { WorkloadIdentity } from "../../policy/model/labels";
import { toPortableYaml } from "../../core/yaml";

/**
 * What the observability components share: their names, ports and identities (so the collector,
 * Grafana and the network policies address exactly the Services the stack creates), retentions,
 * YAML, and the S3 endpoint of Loki and Tempo. Their arguments and defaults are in `args.ts`.
 */

/** Kubernetes names of the observability workloads and their Services. */
export const SERVICE_NAMES = {
  collector: "otel-collector",
  nodeLogCollector: "node-log-collector",
  tempo: "tempo",
  loki: "loki",
  prometheus: "prometheus",
  grafana: "grafana",
  alertmanager: "alertmanager",
  /** A Deployment without a Service: Prometheus scrapes its pod by its labels. */
  kubeStateMetrics: "kube-state-metrics",
} as const;

/** Container (and Service) ports; network policies match container ports. */
export const PORTS = {
  otlpGrpc: 4317,
  otlpHttp: 4318,
  /** The collector's own Prometheus metrics (`service.telemetry`). */
  collectorMetrics: 8888,
  /** The collector's `health_check` extension. */
  collectorHealth: 13133,
  tempoHttp: 3200,
  /** gRPC server of Tempo and Loki (internal; kept off the Services). */
  grpc: 9095,
  lokiHttp: 3100,
  prometheusHttp: 9090,
  grafanaHttp: 3000,
  /** Alertmanager's API, UI and metrics. */
  alertmanagerHttp: 9093,
  /** The kubelet's HTTPS port on each node, scraped for volume stats and cAdvisor. */
  kubelet: 10250,
  /** kube-state-metrics' metrics of the Jobs and CronJobs (`--port`). */
  kubeStateMetricsHttp: 8080,
  /** kube-state-metrics' own metrics and readiness (`--telemetry-port`). */
  kubeStateMetricsTelemetry: 8081,
} as const;

/** `app.kubernetes.io/component` of each workload; unique across the platform. */
export const COMPONENTS = {
  collector: "telemetry-gateway",
  nodeLogCollector: "node-log-collector",
  tempo: "tracing",
  loki: "logging",
  // Named in KUBERNETES_API_USERS (security-exceptions.ts): its pods mount an API token.
  prometheus: "prometheus",
  grafana: "dashboards",
  alertmanager: "alerting",
  // Named in KUBERNETES_API_USERS: its pods mount an API token.
  kubeStateMetrics: "cluster-state-metrics",
} as const;

export type ObservabilityWorkload = keyof typeof SERVICE_NAMES;

/** The identity of one observability workload. */
export function identityOf(
  workload: ObservabilityWorkload,
  instance: string,
  version?: string,
): WorkloadIdentity {
  return {
    name: SERVICE_NAMES[workload],
    component: COMPONENTS[workload],
    instance,
    ...(version ? { version } : {}),
  };
}

/**
 * A Service's short in-cluster DNS name, `<name>.<namespace>.svc` (no cluster domain), for a
 * namespace known as a string; `serviceHost` in components/lib/stateful.ts gives the full name.
 */
export function shortServiceHost(service: string, namespace: string): string {
  return `${service}.${namespace}.svc`;
}

/** Fixed Grafana datasource UIDs: dashboards and cross-links refer to these, never to names. */
export const DATASOURCE_UIDS = {
  prometheus: "prometheus",
  tempo: "tempo",
  loki: "loki",
  alertmanager: "alertmanager",
} as const;

/** Grafana datasource type of each fixed UID. */
export const DATASOURCE_TYPES = {
  [DATASOURCE_UIDS.prometheus]: "prometheus",
  [DATASOURCE_UIDS.tempo]: "tempo",
  [DATASOURCE_UIDS.loki]: "loki",
  [DATASOURCE_UIDS.alertmanager]: "alertmanager",
} as const;

/**
 * YAML as the components write it: no line folding, so long PromQL stays on one line, no anchors
 * for objects that appear twice, so every section reads on its own, and every string a YAML 1.1
 * reader would take for another type quoted (the Go programs reading these configs are such
 * readers).
 */
export function toYaml(value: unknown): string {
  return toPortableYaml(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

const RETENTION = /^(\d+)(h|d|w)$/;
const HOURS_PER_UNIT = { h: 1, d: 24, w: 168 } as const;

/**
 * A retention such as `168h`, `7d` or `2w` in whole hours, or undefined when it is none: another
 * unit (`30m`), no whole number, or zero.
 */
export function parseRetentionHours(retention: string): number | undefined {
  const match = RETENTION.exec(retention);
  if (!match || Number(match[1]) < 1) return undefined;
  return Number(match[1]) * HOURS_PER_UNIT[match[2] as keyof typeof HOURS_PER_UNIT];
}

/**
 * A retention in hours (`168h`): the one unit that Tempo (Go durations), Loki and Prometheus all
 * read. The components' rules refuse any other retention before this runs.
 */
export function retentionHours(retention: string): string {
  const hours = parseRetentionHours(retention);
  if (hours === undefined) {
    throw new Error(`retentionHours: "${retention}" is not a retention; the rules refuse it first`);
  }
  return `${hours}h`;
}

/** An RBAC rule as plain data (assignable to the provider's PolicyRule input). */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: ("get" | "list" | "watch")[];
}

/** An S3 endpoint as the Go S3 clients of Loki and Tempo want it: `host:port` and TLS or not. */
export interface S3Endpoint {
  hostPort: string;
  insecure: boolean;
}

const S3_ENDPOINT = /^(https?):\/\/([^/\s]+)\/?$/;

/** Splits `http(s)://host:port` into host:port and whether TLS is off; undefined for anything else. */
export function matchS3Endpoint(endpoint: string): S3Endpoint | undefined {
  const match = S3_ENDPOINT.exec(endpoint);
  return match ? { hostPort: match[2], insecure: match[1] === "http" } : undefined;
}

/** Splits an endpoint that the rules accepted (`objectStorageRules`) into host:port and TLS. */
export function parseS3Endpoint(endpoint: string): S3Endpoint {
  const parsed = matchS3Endpoint(endpoint);
  if (!parsed) {
    throw new Error(
      `parseS3Endpoint: "${endpoint}" is not http(s)://host:port; the rules refuse it first`,
    );
  }
  return parsed;
}

/** A store's data in an S3 bucket, as Loki's and Tempo's configs take it. */
export interface S3Storage {
  backend: "s3";
  bucket: string;
  endpoint: S3Endpoint;
  region: string;
  /** Path-style addressing (MinIO, most self-hosted stores) rather than virtual-hosted. */
  pathStyle: boolean;
}

/** The S3 storage of a bucket whose endpoint is known. */
export function s3Storage(
  bucket: { bucket: string; region: string; pathStyle: boolean },
  endpoint: S3Endpoint,
): S3Storage {
  const { region, pathStyle } = bucket;
  return { backend: "s3", bucket: bucket.bucket, endpoint, region, pathStyle };
}

/** Environment variables that carry the S3 key pair into `-config.expand-env=true`. */
export const S3_ENV = { accessKey: "S3_ACCESS_KEY_ID", secretKey: "S3_SECRET_ACCESS_KEY" } as const;
