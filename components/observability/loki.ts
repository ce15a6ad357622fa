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

/** Loki's data directory (the PVC): index, chunks in dev, compactor and ruler scratch space. */
export const LOKI_DATA_DIR = "/var/loki";

/**
 * The first day of the v13 schema period. A schema period must start in the past when Loki
 * first runs; changing this date later would orphan every day stored before it.
 */
export const LOKI_SCHEMA_FROM = "2024-04-01";

/** Where Loki's chunks and index go: the PVC (dev) or an S3 bucket (prod). */
export type LokiStorage =
  | { backend: "filesystem" }
  | { backend: "s3"; bucket: string; endpoint: S3Endpoint; region: string };

/** What {@link lokiConfig} is built from. */
export interface LokiConfigArgs {
  /** How long logs are kept, in hours (`168h`). */
  retention: string;
  storage: LokiStorage;
}

/**
 * `loki.yaml` for the single binary: schema v13 on tsdb, OTLP ingest at `/otlp`, and retention
 * that actually deletes: the compactor with `retention_enabled` and a `delete_request_store`
 * (Loki 3 refuses to start with retention on and no delete store, and without retention_enabled
 * `retention_period` is silently ignored). S3 keys come from the environment
 * (`-config.expand-env=true`).
 */
export function lokiConfig(args: LokiConfigArgs): Record<string, unknown> {
  const objectStore = args.storage.backend === "filesystem" ? "filesystem" : "s3";
  const storage =
    args.storage.backend === "filesystem"
      ? {
          filesystem: {
            chunks_directory: `${LOKI_DATA_DIR}/chunks`,
            rules_directory: `${LOKI_DATA_DIR}/rules`,
          },
        }
      : {
          s3: {
            endpoint: args.storage.endpoint.hostPort,
            bucketnames: args.storage.bucket,
            region: args.storage.region,
            insecure: args.storage.endpoint.insecure,
            s3forcepathstyle: true,
            access_key_id: `\${${S3_ENV.accessKey}}`,
            secret_access_key: `\${${S3_ENV.secretKey}}`,
          },
        };
  return {
    auth_enabled: false,
    server: { http_listen_port: PORTS.lokiHttp, grpc_listen_port: PORTS.grpc, log_level: "info" },
    common: {
      // One process: the ring lives in memory and advertises loopback.
      instance_addr: "127.0.0.1",
      path_prefix: LOKI_DATA_DIR,
      replication_factor: 1,
      ring: { kvstore: { store: "inmemory" } },
      storage,
    },
    schema_config: {
      configs: [
        {
          from: LOKI_SCHEMA_FROM,
          store: "tsdb",
          object_store: objectStore,
          schema: "v13",
          index: { prefix: "index_", period: "24h" },
        },
      ],
    },
    limits_config: {
      retention_period: args.retention,
      // OTLP attributes that are not index labels (trace_id among them) become structured
      // metadata; Grafana's trace links filter on it.
      allow_structured_metadata: true,
      volume_enabled: true,
    },
    compactor: {
      working_directory: `${LOKI_DATA_DIR}/compactor`,
      compaction_interval: "10m",
      retention_enabled: true,
      retention_delete_delay: "2h",
      delete_request_store: objectStore,
    },
    // The default /rules is on the read-only root filesystem.
    ruler: { rule_path: `${LOKI_DATA_DIR}/rules-temp` },
    analytics: { reporting_enabled: false },
  };
}

/** Arguments of a {@link Loki}. */
export interface LokiArgs extends StoreArgs {
  /** How long logs are kept: `168h`, `7d`, `2w`. @default "168h" */
  retention?: string;
  /** Size of the PVC (index, WAL, compactor; and chunks in dev). @default "10Gi" */
  storageSize?: string;
  /** Bucket for chunks and index (prod). @default none: everything stays on the PVC */
  objectStorage?: ObjectBucket;
}

/** Loki's defaults, in one place. */
export const LOKI_DEFAULTS = { retention: "168h", storageSize: "10Gi" } as const;

/** Loki 3 single binary: logs from the collector over OTLP, LogQL for Grafana on 3100. */
export class Loki extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:3100`: the query API Grafana reads. */
  public readonly url: pulumi.Output<string>;
  /** `http://<host>:3100/otlp`: the OTLP endpoint the collector sends logs to. */
  public readonly otlpUrl: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: LokiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Loki", name, {}, opts);
    const retention = retentionHours("retention", args.retention ?? LOKI_DEFAULTS.retention);
    const image = args.image ?? imageRef("loki");
    this.identity = identityOf("loki", args.instance ?? name, tagOf(image));
    const ns = args.namespace;
    const bucket = args.objectStorage;

    const configText = pulumi.output(bucket?.endpoint).apply((endpoint) =>
      toYaml(
        lokiConfig({
          retention,
          storage:
            bucket && endpoint
              ? { backend: "s3", bucket: bucket.bucket, endpoint, region: bucket.region }
              : { backend: "filesystem" },
        }),
      ),
    );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: { "loki.yaml": configText },
      },
      { parent: this },
    );
    const store = storeWorkload(this, name, {
      ...singleBinary("loki", config.metadata.name),
      namespace: ns,
      identity: this.identity,
      image,
      ports: [{ name: "http", port: PORTS.lokiHttp }],
      resources: args.resources ?? DEFAULT_RESOURCES.loki,
      dataDir: LOKI_DATA_DIR,
      storageSize: args.storageSize ?? LOKI_DEFAULTS.storageSize,
      storageClass: args.storageClass,
      bucket,
      configHashOf: [config.data],
      scrapePort: PORTS.lokiHttp,
      protect: args.protect ?? false,
    });
    this.statefulSet = store.statefulSet;

    this.service = store.service.metadata.name;
    this.host = store.host;
    this.url = pulumi.interpolate`http://${this.host}:${PORTS.lokiHttp}`;
    this.otlpUrl = pulumi.interpolate`${this.url}/otlp`;
    this.registerOutputs({
      service: this.service,
      host: this.host,
      url: this.url,
      otlpUrl: this.otlpUrl,
    });
  }
}
