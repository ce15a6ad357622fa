import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imageRef, tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../core/labels";
import { objectMeta } from "../lib/workload";
import {
  DEFAULT_RESOURCES,
  identityOf,
  PORTS,
  retentionHours,
  S3_ENV,
  toYaml,
  type S3Endpoint,
} from "./common";
import { singleBinary, storeWorkload, type ObjectBucket, type StoreArgs } from "./store";

/** Where Tempo keeps its WAL, live-store and generator data (the PVC). */
export const TEMPO_DATA_DIR = "/var/tempo";

/** Where Tempo's blocks go: the PVC (dev) or an S3 bucket (prod). */
export type TempoStorage =
  { backend: "local" } | { backend: "s3"; bucket: string; endpoint: S3Endpoint; region: string };

/** What {@link tempoConfig} is built from. */
export interface TempoConfigArgs {
  /** How long trace blocks are kept, in hours (`168h`). */
  retention: string;
  /** Prometheus's remote-write URL, where span metrics and service graphs go. */
  prometheusRemoteWriteUrl: string;
  storage: TempoStorage;
}

/**
 * `tempo.yaml` for Tempo 3 monolithic mode. Receivers bind 0.0.0.0 (Tempo ≥ 2.7 defaults to
 * localhost, which no other pod can reach). S3 keys are `${…}` references that
 * `-config.expand-env=true` fills from environment variables fed by `secretKeyRef`.
 */
export function tempoConfig(args: TempoConfigArgs): Record<string, unknown> {
  const trace =
    args.storage.backend === "local"
      ? { backend: "local", local: { path: `${TEMPO_DATA_DIR}/blocks` } }
      : {
          backend: "s3",
          s3: {
            bucket: args.storage.bucket,
            endpoint: args.storage.endpoint.hostPort,
            region: args.storage.region,
            insecure: args.storage.endpoint.insecure,
            // MinIO and most S3-compatible stores address buckets by path, not by host name.
            forcepathstyle: true,
            access_key: `\${${S3_ENV.accessKey}}`,
            secret_key: `\${${S3_ENV.secretKey}}`,
          },
        };
  const compaction = { block_retention: args.retention };
  return {
    stream_over_http_enabled: true,
    server: { http_listen_port: PORTS.tempoHttp, grpc_listen_port: PORTS.grpc, log_level: "info" },
    distributor: {
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: `0.0.0.0:${PORTS.otlpGrpc}` },
            http: { endpoint: `0.0.0.0:${PORTS.otlpHttp}` },
          },
        },
      },
    },
    // Retention runs as backend-scheduler jobs executed by the backend worker; both read it.
    backend_scheduler: { provider: { compaction: { compaction } } },
    backend_worker: { compaction },
    metrics_generator: {
      registry: { external_labels: { source: "tempo" } },
      storage: {
        path: `${TEMPO_DATA_DIR}/generator/wal`,
        // Exemplars carry trace IDs, so a latency spike on a graph links to its traces.
        remote_write: [{ url: args.prometheusRemoteWriteUrl, send_exemplars: true }],
      },
    },
    storage: { trace: { ...trace, wal: { path: `${TEMPO_DATA_DIR}/wal` } } },
    overrides: {
      defaults: {
        // `traces_spanmetrics_*` (the app RED dashboard) and `traces_service_graph_*` (the
        // service map) are only generated for the processors named here.
        metrics_generator: { processors: ["service-graphs", "span-metrics"] },
      },
    },
    usage_report: { reporting_enabled: false },
  };
}

/** Arguments of a {@link Tempo}. */
export interface TempoArgs extends StoreArgs {
  /** How long traces are kept: `168h`, `7d`, `2w`. @default "168h" */
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

/**
 * Tempo, the trace store: OTLP in from the collector, TraceQL for Grafana on 3200, and a
 * metrics-generator that remote-writes span metrics and service graphs to Prometheus.
 */
export class Tempo extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:3200`: the query API Grafana reads. */
  public readonly url: pulumi.Output<string>;
  /** `<host>:4317`: the OTLP gRPC receiver the collector sends traces to. */
  public readonly otlpGrpcAddress: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: TempoArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Tempo", name, {}, opts);
    const retention = retentionHours("retention", args.retention ?? TEMPO_DEFAULTS.retention);
    const image = args.image ?? imageRef("tempo");
    this.identity = identityOf("tempo", args.instance ?? name, tagOf(image));
    const ns = args.namespace;
    const bucket = args.objectStorage;

    const configText = pulumi
      .all([args.prometheusRemoteWriteUrl, bucket?.endpoint])
      .apply(([prometheusRemoteWriteUrl, endpoint]) =>
        toYaml(
          tempoConfig({
            retention,
            prometheusRemoteWriteUrl,
            storage:
              bucket && endpoint
                ? { backend: "s3", bucket: bucket.bucket, endpoint, region: bucket.region }
                : { backend: "local" },
          }),
        ),
      );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: { "tempo.yaml": configText },
      },
      { parent: this },
    );
    const store = storeWorkload(this, name, {
      ...singleBinary("tempo", config.metadata.name),
      namespace: ns,
      identity: this.identity,
      image,
      ports: [
        { name: "http", port: PORTS.tempoHttp },
        { name: "otlp-grpc", port: PORTS.otlpGrpc },
        { name: "otlp-http", port: PORTS.otlpHttp },
      ],
      resources: args.resources ?? DEFAULT_RESOURCES.tempo,
      dataDir: TEMPO_DATA_DIR,
      storageSize: args.storageSize ?? TEMPO_DEFAULTS.storageSize,
      storageClass: args.storageClass,
      bucket,
      configHashOf: [config.data],
      scrapePort: PORTS.tempoHttp,
      protect: args.protect ?? false,
    });
    this.statefulSet = store.statefulSet;

    this.service = store.service.metadata.name;
    this.host = store.host;
    this.url = pulumi.interpolate`http://${this.host}:${PORTS.tempoHttp}`;
    this.otlpGrpcAddress = pulumi.interpolate`${this.host}:${PORTS.otlpGrpc}`;
    this.registerOutputs({
      service: this.service,
      host: this.host,
      url: this.url,
      otlpGrpcAddress: this.otlpGrpcAddress,
    });
  }
}
