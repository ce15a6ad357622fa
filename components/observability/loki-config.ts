import { PORTS, S3_ENV, type S3Storage } from "./common";

/** Loki's `loki.yaml`: a pure function of its inputs. */

/** Loki's data directory (the PVC): index, chunks in dev, compactor and ruler scratch space. */
export const LOKI_DATA_DIR = "/var/loki";

/**
 * The first day of the v13 schema period. A schema period must start in the past when Loki
 * first runs; changing this date later would orphan every day stored before it.
 */
export const LOKI_SCHEMA_FROM = "2024-04-01";

/** Where Loki's chunks and index go: the PVC (dev) or an S3 bucket (prod). */
export type LokiStorage = { backend: "filesystem" } | S3Storage;

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
            s3forcepathstyle: args.storage.pathStyle,
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
