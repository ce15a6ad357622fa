import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { WorkloadIdentity } from "../../core/labels";
import type { ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";

/**
 * What the observability components share: their names, ports and identities (so the collector,
 * Grafana and the network policies address exactly the Services the stack creates), durations,
 * and the object-storage arguments of Loki and Tempo.
 */

/** Kubernetes names of the observability workloads and their Services. */
export const SERVICE_NAMES = {
  collector: "otel-collector",
  nodeLogCollector: "node-log-collector",
  tempo: "tempo",
  loki: "loki",
  prometheus: "prometheus",
  grafana: "grafana",
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
  /** The kubelet's HTTPS port on each node, scraped for volume stats and cAdvisor. */
  kubelet: 10250,
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

/** In-cluster DNS name of a Service: `<name>.<namespace>.svc`. */
export function serviceHost(service: string, namespace: string): string {
  return `${service}.${namespace}.svc`;
}

/** Fixed Grafana datasource UIDs: dashboards and cross-links refer to these, never to names. */
export const DATASOURCE_UIDS = { prometheus: "prometheus", tempo: "tempo", loki: "loki" } as const;

/** Grafana datasource type of each fixed UID. */
export const DATASOURCE_TYPES = {
  [DATASOURCE_UIDS.prometheus]: "prometheus",
  [DATASOURCE_UIDS.tempo]: "tempo",
  [DATASOURCE_UIDS.loki]: "loki",
} as const;

/**
 * YAML as the components write it: no line folding, so long PromQL stays on one line, and no
 * anchors for objects that appear twice, so every section reads on its own.
 */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

const DURATION = /^(\d+)(h|d|w)$/;

/**
 * A retention such as `168h`, `7d` or `2w` in hours (`168h`): the one unit that Tempo (Go
 * durations), Loki and Prometheus all read.
 */
export function retentionHours(propertyPath: string, retention: string): string {
  const match = DURATION.exec(retention);
  if (!match || Number(match[1]) < 1) {
    throw new pulumi.InputPropertyError({
      propertyPath,
      reason: `must be a whole number of hours, days or weeks such as 168h, 7d or 2w (got "${retention}")`,
    });
  }
  const factor = { h: 1, d: 24, w: 168 }[match[2] as "h" | "d" | "w"];
  return `${Number(match[1]) * factor}h`;
}

/** An RBAC rule as plain data (assignable to the provider's PolicyRule input). */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: ("get" | "list" | "watch")[];
}

/** An S3 key pair from a Secret; the object store's per-consumer credentials have this shape. */
export interface S3KeyPair {
  /** Access key id. */
  accessKey: SecretKey;
  /** Secret access key. */
  secretKey: SecretKey;
}

/** One consumer's bucket. */
export interface BucketAccess {
  /** Bucket name. */
  bucket: string;
  /** Key pair of a user scoped to that bucket. */
  credentials: S3KeyPair;
}

/** An S3 endpoint and the bucket of Loki and of Tempo (prod); without it both use their PVC. */
export interface ObjectStorageArgs {
  /** `http://host:port` or `https://host:port` of the S3 API, e.g. the ObjectStore's `endpoint`. */
  endpoint: pulumi.Input<string>;
  /** S3 region. @default "us-east-1" (what MinIO answers to) */
  region?: string;
  /** Loki's chunks and index. */
  loki: BucketAccess;
  /** Tempo's trace blocks. */
  tempo: BucketAccess;
  /**
   * What must exist before Loki and Tempo start, e.g. the ObjectStore's bucket Job.
   * @default none
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** An S3 endpoint as the Go S3 clients of Loki and Tempo want it: `host:port` and TLS or not. */
export interface S3Endpoint {
  hostPort: string;
  insecure: boolean;
}

/** Splits `http(s)://host:port` into host:port and whether TLS is off. */
export function parseS3Endpoint(endpoint: string): S3Endpoint {
  const match = /^(https?):\/\/([^/\s]+)\/?$/.exec(endpoint);
  if (!match) {
    throw new pulumi.InputPropertyError({
      propertyPath: "objectStorage.endpoint",
      reason: `must be http(s)://host:port with no path, e.g. http://minio.platform.svc:9000 (got "${endpoint}")`,
    });
  }
  return { hostPort: match[2], insecure: match[1] === "http" };
}

/** Environment variables that carry the S3 key pair into `-config.expand-env=true`. */
export const S3_ENV = { accessKey: "S3_ACCESS_KEY_ID", secretKey: "S3_SECRET_ACCESS_KEY" } as const;

/** What every observability workload component takes besides its own settings. */
export interface WorkloadBaseArgs {
  /** Namespace of every object it creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its labels. @default the component's name */
  instance?: string;
  /** Image reference. @default the catalogue's image of the component */
  image?: string;
  /**
   * Requests and limits of the main container.
   * @default the component's entry in {@link DEFAULT_RESOURCES}
   */
  resources?: ResourceSpec;
}

/** Requests and limits of each workload when the args give none. */
export const DEFAULT_RESOURCES = {
  collector: { cpu: "100m", memory: "256Mi", memoryLimit: "512Mi" },
  nodeLogCollector: { cpu: "50m", memory: "128Mi", memoryLimit: "256Mi" },
  tempo: { cpu: "100m", memory: "512Mi", memoryLimit: "1Gi" },
  loki: { cpu: "100m", memory: "256Mi", memoryLimit: "1Gi" },
  prometheus: { cpu: "200m", memory: "1Gi", memoryLimit: "2Gi" },
  grafana: { cpu: "50m", memory: "256Mi", memoryLimit: "512Mi" },
} as const satisfies Record<ObservabilityWorkload, ResourceSpec>;
