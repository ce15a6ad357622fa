import { PORTS, S3_ENV, type S3Storage } from "./common";

/** Tempo's `tempo.yaml`: a pure function of its inputs. */

/** Where Tempo keeps its WAL, live-store and generator data (the PVC). */
export const TEMPO_DATA_DIR = "/var/tempo";

/** Where Tempo's blocks go: the PVC (dev) or an S3 bucket (prod). */
export type TempoStorage = { backend: "local" } | S3Storage;

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
            forcepathstyle: args.storage.pathStyle,
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
