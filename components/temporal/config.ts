import { toPortableYaml } from "../../core/yaml";
import { assertValidArgs } from "../lib/validation";
import { historyShardRules } from "./shards";

/**
 * The Temporal server's static configuration, as the text of one file the server reads with
 * `temporal-server --config-file <file> start` (go.temporal.io/server 1.32, `common/config`).
 * Pure: the component renders it into a ConfigMap, and the integration tests hand the same text
 * to a real server.
 *
 * No credential is written here. The file opts into the server's templating (a `# enable-template`
 * comment in its first kilobyte makes `config.Load` render it with Go templates and sprig), and
 * the database user and password are `{{ env "SQL_USER" | quote }}` / `{{ env "SQL_PASSWORD" |
 * quote }}`, read by the server at start from variables the pod fills from the Secret.
 *
 * Checked with go.temporal.io/server v1.32.1 (the catalogue's release) built from the module
 * proxy: this text, with only bindOnIP and the metrics address moved to loopback, starts all four
 * services against PostgreSQL 15 prepared by the schema Job's script, and the dynamic config
 * passes `temporal-server validate-dynamic-config`. The integration tests keep that
 * proof running.
 */

/** The four services of a Temporal server, in the order they are listed. */
export const TEMPORAL_SERVICES = ["frontend", "history", "matching", "worker"] as const;
export type TemporalServiceName = (typeof TEMPORAL_SERVICES)[number];

/**
 * gRPC and membership (ringpop) ports, Temporal's defaults. Membership ports are written to the
 * `cluster_membership` table as Postgres `smallint`, so they must stay below 32768.
 */
export const TEMPORAL_PORTS: Readonly<
  Record<TemporalServiceName, { grpc: number; membership: number }>
> = {
  frontend: { grpc: 7233, membership: 6933 },
  history: { grpc: 7234, membership: 6934 },
  matching: { grpc: 7235, membership: 6935 },
  worker: { grpc: 7239, membership: 6939 },
};
/** Exclusive upper bound of a membership port (Postgres `smallint`). */
export const MEMBERSHIP_PORT_LIMIT = 32768;
/** The frontend's HTTP API (also what the system worker uses for Nexus callbacks). */
export const FRONTEND_HTTP_PORT = 7243;
/** Where every server process serves Prometheus metrics (`/metrics`). */
export const TEMPORAL_METRICS_PORT = 9090;

/** Variables the config reads at server start; the pod sets each. */
export const TEMPORAL_CONFIG_ENV = {
  /** Database user, from the Temporal role's Secret. */
  user: "SQL_USER",
  /** Database password, from the Temporal role's Secret. */
  password: "SQL_PASSWORD",
  /** The pod's IP (downward API), broadcast to the other members of the cluster. */
  podIp: "POD_IP",
} as const;

/** Where the ConfigMap is mounted in the server pods, and its two files. */
export const TEMPORAL_CONFIG_DIR = "/etc/temporal/config";
export const TEMPORAL_CONFIG_FILE = "config.yaml";
export const TEMPORAL_DYNAMIC_CONFIG_FILE = "dynamic-config.yaml";

/** Connections one service of one server process may open to each store. */
export interface TemporalSqlConnections {
  /** Pool size for the default store (history, tasks, namespaces). */
  maxConns: number;
  /** Pool size for the visibility store. */
  visibilityMaxConns: number;
}

/**
 * Small pools by default: every service of every server pod opens its own, and all of them count
 * against Postgres's `max_connections` directly (Temporal never goes through PgBouncer).
 */
export const DEFAULT_SQL_CONNECTIONS: TemporalSqlConnections = {
  maxConns: 5,
  visibilityMaxConns: 2,
};

/** What the static config is built from: plain values, so the builder stays pure. */
export interface TemporalServerConfigArgs {
  /** Number of history shards; fixed for the life of the database. */
  numHistoryShards: number;
  /** Where the two databases are: the Postgres Service itself, never PgBouncer. */
  postgres: { host: string; port: number; database: string; visibilityDatabase: string };
  /** `host:port` of the frontend Service, recorded as this cluster's RPC address. */
  frontendAddress: string;
  /** Pool sizes. @default {@link DEFAULT_SQL_CONNECTIONS} */
  connections?: TemporalSqlConnections;
  /** Server log level. @default "info" */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Path of the dynamic config file. @default `/etc/temporal/config/dynamic-config.yaml` */
  dynamicConfigPath?: string;
}

const ENV_MARK = "K3SP_ENV_REF";

/** A placeholder that survives YAML serialisation unquoted; replaced by a template below. */
function envRef(variable: string): string {
  return `${ENV_MARK}${variable}${ENV_MARK}`;
}

/** Every template expression the config may contain: `{{ env "NAME" | quote }}`. */
export const ENV_TEMPLATE_PATTERN = /\{\{ env "([A-Z_][A-Z0-9_]*)" \| quote \}\}/g;

/** The `services` section: every service binds all interfaces and broadcasts the pod IP. */
function servicesSection(): Record<string, unknown> {
  return Object.fromEntries(
    TEMPORAL_SERVICES.map((service) => {
      const ports = TEMPORAL_PORTS[service];
      return [
        service,
        {
          rpc: {
            grpcPort: ports.grpc,
            membershipPort: ports.membership,
            bindOnIP: "0.0.0.0",
            ...(service === "frontend" ? { httpPort: FRONTEND_HTTP_PORT } : {}),
          },
        },
      ];
    }),
  );
}

function sqlStore(
  args: TemporalServerConfigArgs,
  database: string,
  maxConns: number,
): Record<string, unknown> {
  return {
    sql: {
      pluginName: "postgres12",
      databaseName: database,
      connectAddr: `${args.postgres.host}:${args.postgres.port}`,
      connectProtocol: "tcp",
      user: envRef(TEMPORAL_CONFIG_ENV.user),
      password: envRef(TEMPORAL_CONFIG_ENV.password),
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: "1h",
    },
  };
}

/** The static config as a plain object, before the credential placeholders become templates. */
function configObject(args: TemporalServerConfigArgs): Record<string, unknown> {
  const connections = args.connections ?? DEFAULT_SQL_CONNECTIONS;
  return {
    log: { stdout: true, level: args.logLevel ?? "info" },
    persistence: {
      numHistoryShards: args.numHistoryShards,
      defaultStore: "default",
      visibilityStore: "visibility",
      datastores: {
        default: sqlStore(args, args.postgres.database, connections.maxConns),
        // postgres12 is a SQL visibility store with advanced (List/Count) queries.
        visibility: sqlStore(
          args,
          args.postgres.visibilityDatabase,
          connections.visibilityMaxConns,
        ),
      },
    },
    global: {
      membership: { maxJoinDuration: "30s", broadcastAddress: envRef(TEMPORAL_CONFIG_ENV.podIp) },
      metrics: { prometheus: { listenAddress: `0.0.0.0:${TEMPORAL_METRICS_PORT}` } },
    },
    services: servicesSection(),
    // One cluster, no replication: the current cluster is the master and answers at the frontend.
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: "active",
      currentClusterName: "active",
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: "frontend",
          rpcAddress: args.frontendAddress,
        },
      },
    },
    dcRedirectionPolicy: { policy: "noop" },
    // Archival off: the server validates that a disabled archival names no provider and no URI.
    archival: {
      history: { state: "disabled", enableRead: false },
      visibility: { state: "disabled", enableRead: false },
    },
    namespaceDefaults: {
      archival: { history: { state: "disabled" }, visibility: { state: "disabled" } },
    },
    dynamicConfigClient: {
      filepath: args.dynamicConfigPath ?? `${TEMPORAL_CONFIG_DIR}/${TEMPORAL_DYNAMIC_CONFIG_FILE}`,
      pollInterval: "60s",
    },
  };
}

/** The server's static config file (YAML text, templated for credentials and the pod IP). */
export function temporalServerConfig(args: TemporalServerConfigArgs): string {
  assertValidArgs("Temporal server config", historyShardRules(args.numHistoryShards));
  const body = toPortableYaml(configObject(args), { lineWidth: 0 }).replace(
    new RegExp(`${ENV_MARK}([A-Z0-9_]+?)${ENV_MARK}`, "g"),
    (_match, variable: string) => `{{ env "${variable}" | quote }}`,
  );
  return [
    // Must stay within the first 1 KiB: it is what turns the server's templating on.
    "# enable-template",
    "# Rendered by k3s-platform (components/temporal/config.ts); credentials come from the",
    "# environment at server start and are not in this file.",
    body,
  ].join("\n");
}

/**
 * What the server's templating does to the expressions this file contains, for tests and tools:
 * `{{ env "NAME" | quote }}` becomes the variable's value as a double-quoted string.
 */
export function renderConfigTemplate(text: string, env: Record<string, string>): string {
  return text.replace(ENV_TEMPLATE_PATTERN, (_match, variable: string) =>
    JSON.stringify(env[variable] ?? ""),
  );
}

/**
 * Dynamic config (file-based, polled by the server). Workflow and other IDs are limited to 255
 * characters because the Postgres visibility schema stores them in `VARCHAR(255)` columns: a
 * longer ID would pass the frontend (default limit 1000) and then fail the visibility write.
 */
export function temporalDynamicConfig(): string {
  return [
    "# Rendered by k3s-platform (components/temporal/config.ts).",
    toPortableYaml({ "limit.maxIDLength": [{ value: 255, constraints: {} }] }),
  ].join("\n");
}

/**
 * Connections the Temporal server may hold open at most: each service of each server process
 * has its own pools. For checking against the Postgres budget for direct clients.
 */
export function temporalConnectionCount(
  servicePods: Readonly<Record<TemporalServiceName, number>>,
  connections: TemporalSqlConnections = DEFAULT_SQL_CONNECTIONS,
): number {
  const perService = connections.maxConns + connections.visibilityMaxConns;
  return TEMPORAL_SERVICES.reduce((sum, service) => sum + servicePods[service] * perService, 0);
}
