import type { S3KeyPair as GivenS3KeyPair } from "../lib/s3";
import type * as pulumi from "@pulumi/pulumi";
import {
  fieldErrorIf,
  nestedErrors,
  type FieldError,
  type Settings,
  storageSizeErrors,
} from "../../core/validation";
import { DEFAULT_INGRESS_CLASS, ingressRules, type IngressSettings } from "../lib/ingress";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import {
  ALERT_SEVERITIES,
  BLACKHOLE_RECEIVER,
  RECEIVER_KINDS,
  type GroupingSpec,
  type ReceiverSpec,
} from "./alertmanager-config";
import type { BackupSchedule } from "./backup-rules";
import type { CollectorExporters } from "./collector-config";
import {
  matchS3Endpoint,
  parseRetentionHours,
  type ObservabilityWorkload,
  type S3Endpoint,
} from "./common";
import type { GrafanaDatasourceArgs } from "./grafana-provisioning";

/**
 * The arguments of every observability component, their defaults, and their rules: each
 * component's rules check its own args, and {@link observabilityRules} runs them all on the
 * settings the {@link Observability} component hands each one, with its key in front.
 */

/** Requests and limits of each workload when the args give none. */
export const DEFAULT_RESOURCES = {
  collector: { cpu: "100m", memory: "256Mi", memoryLimit: "512Mi" },
  nodeLogCollector: { cpu: "50m", memory: "128Mi", memoryLimit: "256Mi" },
  tempo: { cpu: "100m", memory: "512Mi", memoryLimit: "1Gi" },
  loki: { cpu: "100m", memory: "256Mi", memoryLimit: "1Gi" },
  prometheus: { cpu: "200m", memory: "1Gi", memoryLimit: "2Gi" },
  grafana: { cpu: "50m", memory: "256Mi", memoryLimit: "512Mi" },
  alertmanager: { cpu: "20m", memory: "64Mi", memoryLimit: "128Mi" },
  kubeStateMetrics: RESOURCE_PRESETS.small,
} as const satisfies Record<ObservabilityWorkload, ResourceSpec>;

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

/** What every store component (Loki, Tempo, Prometheus, Grafana) takes besides its own settings. */
export interface StoreArgs extends WorkloadBaseArgs {
  /** StorageClass of its data volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /** Protect the StatefulSet and retain it on delete (prod). @default false */
  protect?: boolean;
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
  /**
   * Key pair of a user scoped to that bucket: keys of a Secret that exists (the object store's),
   * or values (an external store's), kept in a Secret `<consumer>-s3`.
   */
  credentials: GivenS3KeyPair;
}

/** An S3 endpoint and the bucket of Loki and of Tempo (prod); without it both use their PVC. */
export interface ObjectStorageArgs {
  /**
   * `http://host:port` or `https://host:port` of the S3 API, with no path, e.g. the ObjectStore's
   * `endpoint`.
   */
  endpoint: pulumi.Input<string>;
  /** S3 region. @default "us-east-1" (what MinIO answers to) */
  region?: string;
  /**
   * Path-style addressing (`https://endpoint/bucket/key`), which MinIO and most self-hosted stores
   * need; `false` for virtual-hosted (AWS). @default true
   */
  pathStyle?: boolean;
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

/** The object storage's defaults, in one place. */
export const OBJECT_STORAGE_DEFAULTS = { region: "us-east-1", pathStyle: true } as const;

/** One consumer's bucket, resolved for a component: endpoint parsed, region set, keys in a Secret. */
export interface ObjectBucket {
  /** Bucket name. */
  bucket: string;
  /** Key pair of a user scoped to that bucket. */
  credentials: S3KeyPair;
  /** The S3 endpoint as `host:port` and TLS flag. */
  endpoint: pulumi.Input<S3Endpoint>;
  /** The endpoint as given (`http(s)://host:port`). */
  url: pulumi.Input<string>;
  /** S3 region. */
  region: string;
  /** Path-style addressing. */
  pathStyle: boolean;
  /** What must exist first (the bucket Job). */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Arguments of an {@link OtelCollector}. */
export interface OtelCollectorArgs extends WorkloadBaseArgs {
  /** Replicas of the gateway, at least 1; 2 or more get a PDB and a spread across nodes. @default 1 */
  replicas?: number;
  /** Where traces, metrics and logs go (the Services of Tempo, Prometheus and Loki). */
  exporters: pulumi.Input<CollectorExporters>;
}

/** Arguments of a {@link NodeLogCollector}. */
export interface NodeLogCollectorArgs extends WorkloadBaseArgs {
  /**
   * The platform namespace; the collector gets its own, `nodeLogsNamespace(namespace)`, labelled
   * Pod Security `privileged` (the exception in `security-exceptions.ts`).
   */
  namespace: pulumi.Input<string>;
  /** `host:port` of the gateway collector's OTLP gRPC receiver. */
  gatewayOtlpGrpc: pulumi.Input<string>;
}

/** Arguments of a {@link Prometheus}. */
export interface PrometheusArgs extends StoreArgs {
  /** How long samples are kept, in whole hours, days or weeks: `360h`, `15d`, `2w`. @default "15d" */
  retention?: string;
  /** Size of the TSDB volume, a quantity; 85% of it caps the TSDB. @default "20Gi" */
  storageSize?: string;
  /** Scrape and rule evaluation interval. @default "30s" */
  scrapeInterval?: string;
  /** Namespaces whose annotated pods are scraped. @default [namespace] */
  scrapeNamespaces?: pulumi.Input<string>[];
  /** Rule files by name (`charts/alerts/*.yaml`), loaded from a ConfigMap. @default none */
  ruleFiles?: Record<string, string>;
  /** `host:port` of the Alertmanagers it sends firing alerts to. @default none */
  alertmanagers?: pulumi.Input<string>[];
  /**
   * The pod labels of kube-state-metrics in `namespace`, scraped by a job of their own.
   * @default none: no such job
   */
  kubeStateMetrics?: Record<string, string>;
}

/** Prometheus's defaults, in one place. */
export const PROMETHEUS_DEFAULTS = {
  retention: "15d",
  storageSize: "20Gi",
  scrapeInterval: "30s",
} as const;

/** Arguments of a {@link Loki}. */
export interface LokiArgs extends StoreArgs {
  /** How long logs are kept, in whole hours, days or weeks: `168h`, `7d`, `2w`. @default "168h" */
  retention?: string;
  /** Size of the PVC (index, WAL, compactor; and chunks in dev). @default "10Gi" */
  storageSize?: string;
  /** Bucket for chunks and index (prod). @default none: everything stays on the PVC */
  objectStorage?: ObjectBucket;
}

/** Loki's defaults, in one place. */
export const LOKI_DEFAULTS = { retention: "168h", storageSize: "10Gi" } as const;

/** Arguments of a {@link Tempo}. */
export interface TempoArgs extends StoreArgs {
  /** How long traces are kept, in whole hours, days or weeks: `168h`, `7d`, `2w`. @default "168h" */
  retention?: string;
  /** Size of the PVC (WAL, live-store, generator WAL; and blocks in dev). @default "10Gi" */
  storageSize?: string;
  /** Prometheus's remote-write URL (`…/api/v1/write`). */
  prometheusRemoteWriteUrl: pulumi.Input<string>;
  /** Bucket for trace blocks (prod). @default none: blocks stay on the PVC */
  objectStorage?: ObjectBucket;
}

/** Tempo's defaults, in one place. */
export const TEMPO_DEFAULTS = { retention: "168h", storageSize: "10Gi" } as const;

/** Arguments of a {@link Grafana}. */
export interface GrafanaArgs extends StoreArgs {
  /**
   * Where users reach it: the host (e.g. `grafana.platform.example.com`), the IngressClass
   * (@default "traefik") and the TLS Secret (@default none: plain HTTP).
   */
  ingress: IngressSettings;
  /** Let visitors in without logging in, as Viewer only (dev). @default false */
  anonymousViewer?: boolean;
  /** Login name of the admin user. @default "admin" */
  adminUser?: string;
  /** The admin user's password, given instead of generated. @default generated with `@pulumi/random` */
  adminPassword?: pulumi.Input<string>;
  /** Size of the data volume (users, sessions, preferences). @default "1Gi" */
  storageSize?: string;
  /** URLs of Prometheus, Tempo and Loki, for the datasources. */
  datasources: pulumi.Input<GrafanaDatasourceArgs>;
  /** Dashboard JSON files by name (`charts/dashboards/*.json`). @default none */
  dashboards?: Record<string, string>;
}

/** Grafana's defaults, in one place. */
export const GRAFANA_DEFAULTS = {
  anonymousViewer: false,
  ingressClassName: DEFAULT_INGRESS_CLASS,
  adminUser: "admin",
  storageSize: "1Gi",
} as const;

/** One receiver with its credential: the webhook URL (webhook, Slack) or the SMTP password. */
export interface AlertReceiverArgs extends ReceiverSpec {
  /** A secret: it goes into a Secret mounted as a file, never into the config or the env. */
  credential: pulumi.Input<string>;
}

/** Arguments of an {@link Alertmanager}. */
export interface AlertmanagerArgs extends StoreArgs, GroupingSpec {
  /**
   * Where alerts go, routed by severity. @default none: every alert goes to the blackhole
   * receiver, listed by Alertmanager and Grafana but sent nowhere (the dev default)
   */
  receivers?: AlertReceiverArgs[];
  /** Size of the volume of silences and the notification log. @default "1Gi" */
  storageSize?: string;
}

/** Alertmanager's defaults, in one place. */
export const ALERTMANAGER_DEFAULTS = { storageSize: "1Gi" } as const;

/**
 * Arguments of a {@link KubeStateMetrics}: where it runs and what it may use. It reports the
 * Jobs and CronJobs of `namespace` only.
 */
export interface KubeStateMetricsArgs extends WorkloadBaseArgs {
  /**
   * Replicas, at least 1; 2 or more get a PDB and a spread across nodes, and each reports every
   * series (the alerts aggregate them). @default 1
   */
  replicas?: number;
}

/** Settings every workload takes: image, requests and limits. */
type WorkloadSettings = "image" | "resources";

/** Arguments of {@link Observability}; every default is documented on the component's own args. */
export interface ObservabilityArgs {
  /** Namespace of every workload except the node log collector (Pod Security `restricted`). */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of every label. @default the component's name */
  instance?: string;
  /** StorageClass of every volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /**
   * Protect the StatefulSets (Prometheus, Loki, Tempo, Grafana) and retain them on delete.
   * @default false
   */
  protect?: boolean;
  /** The OTLP gateway. @default 1 replica, DEFAULT_RESOURCES.collector, the catalogue image */
  collector?: Pick<OtelCollectorArgs, WorkloadSettings | "replicas">;
  /** Container logs from every node. @default enabled, DEFAULT_RESOURCES.nodeLogCollector */
  nodeLogs?: Pick<NodeLogCollectorArgs, WorkloadSettings> & {
    /** Run the DaemonSet (and its privileged namespace). @default true */
    enabled?: boolean;
  };
  /** Traces. @default TEMPO_DEFAULTS (168h, 10Gi), DEFAULT_RESOURCES.tempo */
  tempo?: Pick<TempoArgs, WorkloadSettings | "retention" | "storageSize">;
  /** Logs. @default LOKI_DEFAULTS (168h, 10Gi), DEFAULT_RESOURCES.loki */
  loki?: Pick<LokiArgs, WorkloadSettings | "retention" | "storageSize">;
  /**
   * Metrics and alerts.
   * @default PROMETHEUS_DEFAULTS (15d, 20Gi, 30s), DEFAULT_RESOURCES.prometheus
   */
  prometheus?: Pick<
    PrometheusArgs,
    WorkloadSettings | "retention" | "storageSize" | "scrapeInterval"
  >;
  /** Dashboards. `ingress.host` is required; the rest defaults as GRAFANA_DEFAULTS says. */
  grafana: Pick<
    GrafanaArgs,
    WorkloadSettings | "ingress" | "anonymousViewer" | "adminUser" | "adminPassword" | "storageSize"
  >;
  /**
   * Alerts to receivers. @default no receivers (the blackhole), 1Gi, DEFAULT_RESOURCES.alertmanager
   */
  alertmanager?: Pick<
    AlertmanagerArgs,
    WorkloadSettings | "receivers" | "groupBy" | "groupInterval" | "storageSize"
  >;
  /**
   * Job and CronJob state for the alerts. @default 1 replica, DEFAULT_RESOURCES.kubeStateMetrics
   * (the small preset), the catalogue image
   */
  kubeStateMetrics?: Pick<KubeStateMetricsArgs, WorkloadSettings | "replicas">;
  /** S3 buckets for Loki and Tempo (prod). @default none: both keep their data on their PVC */
  objectStorage?: ObjectStorageArgs;
  /**
   * The Postgres backup CronJobs (dumps, base backups) and how old each one's last success may
   * get (`PostgresBackupTooOld`); `PostgresBackupFailed` judges the same CronJobs.
   * @default none: no backups, so no threshold and both alerts stay silent
   */
  backupSchedules?: BackupSchedule[];
  /** Prometheus rule files. @default the repository's `charts/alerts` */
  alertsDir?: string;
  /** Grafana dashboards. @default the repository's `charts/dashboards` */
  dashboardsDir?: string;
}

/** A retention, when given, must be whole hours, days or weeks, at least one. */
function retentionRules(retention: string | undefined): FieldError[] {
  return fieldErrorIf(
    retention !== undefined && parseRetentionHours(retention) === undefined,
    "retention",
    () =>
      `must be a whole number of hours, days or weeks such as 168h, 7d or 2w (got "${retention}")`,
  );
}

/** A volume size, when given, must be a quantity. */
function storageSizeRules(storageSize: string | undefined): FieldError[] {
  return storageSizeErrors("storageSize", storageSize, "20Gi");
}

/** Every problem with a store's retention and volume (Prometheus, Loki, Tempo). */
function retainingStoreRules(args: { retention?: string; storageSize?: string }): FieldError[] {
  return [...retentionRules(args.retention), ...storageSizeRules(args.storageSize)];
}

/** Every problem with a Prometheus's args. */
export function prometheusRules(
  args: Pick<PrometheusArgs, "retention" | "storageSize">,
): FieldError[] {
  return retainingStoreRules(args);
}

/** Every problem with a Loki's args. */
export function lokiRules(args: Pick<LokiArgs, "retention" | "storageSize">): FieldError[] {
  return retainingStoreRules(args);
}

/** Every problem with a Tempo's args. */
export function tempoRules(args: Pick<TempoArgs, "retention" | "storageSize">): FieldError[] {
  return retainingStoreRules(args);
}

/** Every problem with a Grafana's args. */
export function grafanaRules(args: Pick<GrafanaArgs, "ingress" | "storageSize">): FieldError[] {
  return [
    ...nestedErrors("ingress", ingressRules(args.ingress)),
    ...storageSizeRules(args.storageSize),
  ];
}

const RECEIVER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DURATION = /^\d+(ms|s|m|h|d|w|y)$/;
const HOST_PORT = /^[^\s:/]+:(\d{1,5})$/;

/** Every problem with one receiver, by its index. */
function receiverRules(receiver: ReceiverSpec, names: string[]): FieldError[] {
  const { name, kind } = receiver;
  const port = HOST_PORT.exec(receiver.email?.smarthost ?? "")?.[1];
  return [
    ...fieldErrorIf(
      !RECEIVER_NAME.test(name) || name === BLACKHOLE_RECEIVER,
      "name",
      () =>
        `must be a DNS label other than "${BLACKHOLE_RECEIVER}" (the catch-all's name) (got "${name}")`,
    ),
    ...fieldErrorIf(
      names.filter((other) => other === name).length > 1,
      "name",
      () => `"${name}" names two receivers`,
    ),
    ...fieldErrorIf(
      !RECEIVER_KINDS.includes(kind),
      "kind",
      () => `must be one of ${RECEIVER_KINDS.join(", ")} (got "${String(kind)}")`,
    ),
    ...fieldErrorIf(
      (receiver.severities ?? []).some((severity) => !ALERT_SEVERITIES.includes(severity)),
      "severities",
      () => `may only list ${ALERT_SEVERITIES.join(", ")}`,
    ),
    ...fieldErrorIf(
      kind === "email" && !receiver.email,
      "email",
      () => "is required for kind email",
    ),
    ...fieldErrorIf(
      kind === "email" &&
        receiver.email !== undefined &&
        (port === undefined || Number(port) < 1 || Number(port) > 65535),
      "email.smarthost",
      () => `must be host:port, e.g. smtp.example.com:587 (got "${receiver.email?.smarthost}")`,
    ),
    ...fieldErrorIf(
      receiver.port !== undefined &&
        (!Number.isInteger(receiver.port) || receiver.port < 1 || receiver.port > 65535),
      "port",
      () => `must be a TCP port (got ${receiver.port})`,
    ),
  ];
}

/** Every problem with an Alertmanager's args. */
export function alertmanagerRules(
  args: Pick<AlertmanagerArgs, "receivers" | "groupBy" | "groupInterval" | "storageSize">,
): FieldError[] {
  const receivers = args.receivers ?? [];
  const names = receivers.map((receiver) => receiver.name);
  return [
    ...receivers.flatMap((receiver, index) =>
      nestedErrors(`receivers.${index}`, receiverRules(receiver, names)),
    ),
    ...fieldErrorIf(
      args.groupBy !== undefined && args.groupBy.length === 0,
      "groupBy",
      () =>
        "must list at least one label (an empty list would put every alert in one notification)",
    ),
    ...fieldErrorIf(
      args.groupInterval !== undefined && !DURATION.test(args.groupInterval),
      "groupInterval",
      () => `must be a duration such as "5m" (got "${args.groupInterval}")`,
    ),
    ...storageSizeErrors("storageSize", args.storageSize, "1Gi"),
  ];
}

/** A replica count, when given, must be a whole number of at least 1. */
function replicaRules(replicas = 1): FieldError[] {
  return fieldErrorIf(
    !Number.isInteger(replicas) || replicas < 1,
    "replicas",
    () => `must be a whole number of at least 1 (got ${replicas})`,
  );
}

/** Every problem with an OtelCollector's args. */
export function otelCollectorRules(args: Pick<OtelCollectorArgs, "replicas">): FieldError[] {
  return replicaRules(args.replicas);
}

/** Every problem with a KubeStateMetrics's args. */
export function kubeStateMetricsRules(args: Pick<KubeStateMetricsArgs, "replicas">): FieldError[] {
  return replicaRules(args.replicas);
}

/**
 * Every problem with the object storage of Loki and Tempo. An endpoint that is an output (the
 * ObjectStore's) is checked the same way once it is known.
 */
export function objectStorageRules(args: Pick<ObjectStorageArgs, "endpoint">): FieldError[] {
  const { endpoint } = args;
  return fieldErrorIf(
    typeof endpoint === "string" && matchS3Endpoint(endpoint) === undefined,
    "endpoint",
    () =>
      `must be http(s)://host:port with no path, e.g. http://minio.platform.svc:9000 (got "${String(endpoint)}")`,
  );
}

/** Every problem with an Observability's args: each component's rules, under its key. */
export function observabilityRules(args: Settings<ObservabilityArgs>): FieldError[] {
  return [
    ...nestedErrors("collector", otelCollectorRules(args.collector ?? {})),
    ...nestedErrors("kubeStateMetrics", kubeStateMetricsRules(args.kubeStateMetrics ?? {})),
    ...nestedErrors("tempo", tempoRules(args.tempo ?? {})),
    ...nestedErrors("loki", lokiRules(args.loki ?? {})),
    ...nestedErrors("prometheus", prometheusRules(args.prometheus ?? {})),
    ...nestedErrors("grafana", grafanaRules(args.grafana)),
    ...nestedErrors("alertmanager", alertmanagerRules(args.alertmanager ?? {})),
    ...(args.objectStorage
      ? nestedErrors("objectStorage", objectStorageRules(args.objectStorage))
      : []),
  ];
}
