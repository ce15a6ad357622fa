import { stringify } from "yaml";
import { pgHbaConf, POSTGRES_PORT, type SettingValue } from "./config";

/**
 * The Patroni config file of the HA members (`postgres.ha`): Kubernetes as the DCS in its
 * Endpoints mode, PostgreSQL's settings from the same `postgresSettings()` the single server
 * reads, and pg_hba from the same `pgHbaConf()` plus the replication login. Nothing secret and
 * nothing per member is in it: each member's name and address and both passwords come from
 * Patroni's `PATRONI_*` environment (see {@link PATRONI_ENV}), so every member mounts one file.
 */

/** Patroni's REST API port: health checks, the members' leader race, `patronictl`. */
export const PATRONI_API_PORT = 8008;
/** The role Patroni's standbys stream WAL as. */
export const REPLICATION_USER = "standby";
/** The pod label Patroni keeps at `primary` or `replica` (Patroni's `role_label`). */
export const ROLE_LABEL = "role";
/** The {@link ROLE_LABEL} value of a running standby. */
export const REPLICA_ROLE = "replica";
/**
 * Patroni labels the Endpoints and Services it creates with these, and finds its members by
 * them: the scope label is added to the member pods' own labels.
 */
export const SCOPE_LABEL = "cluster-name";

/**
 * The environment Patroni reads per member; it wins over the file. Names are Patroni's
 * (`PATRONI_<SECTION>_<KEY>`).
 */
export const PATRONI_ENV = {
  name: "PATRONI_NAME",
  podIp: "PATRONI_KUBERNETES_POD_IP",
  postgresAddress: "PATRONI_POSTGRESQL_CONNECT_ADDRESS",
  apiAddress: "PATRONI_RESTAPI_CONNECT_ADDRESS",
  superuserPassword: "PATRONI_SUPERUSER_PASSWORD",
  replicationPassword: "PATRONI_REPLICATION_PASSWORD",
} as const;

/**
 * Settings Patroni takes only from the cluster-wide (DCS) config, because a standby must run with
 * at least the primary's values: a value in a member's own `postgresql.parameters` is ignored.
 * They are written to `bootstrap.dcs`, which seeds the DCS when the cluster is first created.
 */
export const CLUSTER_WIDE_SETTINGS = new Set([
  "max_connections",
  "max_wal_senders",
  "max_prepared_transactions",
  "max_locks_per_transaction",
  "max_replication_slots",
  "max_worker_processes",
  "track_commit_timestamp",
  "wal_level",
  "wal_log_hints",
  "wal_keep_size",
  "hot_standby",
]);

/** Settings Patroni owns: the address comes from `listen`, pg_hba from `pg_hba`. */
const PATRONI_OWNED = new Set(["listen_addresses", "port", "hba_file"]);

/** What {@link patroniConfig} builds from. */
export interface PatroniConfigArgs {
  /** Cluster name: also the name of the primary's Service and Endpoints. */
  scope: string;
  /** Namespace of the members, their Endpoints and Services. */
  namespace: string;
  /** Selector labels of the member pods (Patroni lists its members by them). */
  labels: Record<string, string>;
  /** Every server setting, as `postgresSettings()` gives them. */
  settings: Record<string, SettingValue>;
  /** Commits wait for synchronous standbys. */
  synchronousMode: boolean;
  /** How many synchronous standbys a commit waits for. */
  synchronousStandbys: number;
  /** PGDATA of a member. */
  dataDir: string;
  /** Where PostgreSQL 15's programs are. */
  binDir: string;
  /** Where Patroni writes the replication login's pgpass (a writable scratch folder). */
  pgpassFile: string;
  /** Platform roles that may also stream (the backup role, for base backups). @default none */
  replicationRoles?: readonly string[];
}

/** `ttl` / `loop_wait` / `retry_timeout`: Patroni's defaults, which a failover is timed by. */
const TIMING = { ttl: 30, loop_wait: 10, retry_timeout: 10 };

/** The Patroni config as an object (tests read it; {@link patroniYaml} writes it). */
export function patroniConfig(args: PatroniConfigArgs): Record<string, unknown> {
  const local: Record<string, SettingValue> = {};
  const clusterWide: Record<string, SettingValue> = {};
  for (const [key, value] of Object.entries(args.settings)) {
    if (PATRONI_OWNED.has(key)) continue;
    (CLUSTER_WIDE_SETTINGS.has(key) ? clusterWide : local)[key] = value;
  }
  return {
    scope: args.scope,
    kubernetes: {
      namespace: args.namespace,
      labels: args.labels,
      scope_label: SCOPE_LABEL,
      role_label: ROLE_LABEL,
      // The leader key and the primary's address live in one Endpoints object, updated at once:
      // the `scope` Service (no selector) follows the primary with no second write to race.
      use_endpoints: true,
      ports: [{ name: "postgres", port: POSTGRES_PORT }],
    },
    bootstrap: {
      dcs: {
        ...TIMING,
        // A standby further behind than 1 MiB of WAL is not promoted automatically.
        maximum_lag_on_failover: 1048576,
        synchronous_mode: args.synchronousMode,
        ...(args.synchronousMode ? { synchronous_node_count: args.synchronousStandbys } : {}),
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: clusterWide },
      },
      initdb: [{ encoding: "UTF8" }, "data-checksums"],
    },
    // Each member's connect_address is its pod's address, from PATRONI_ENV.
    restapi: { listen: `0.0.0.0:${PATRONI_API_PORT}` },
    postgresql: {
      listen: `0.0.0.0:${POSTGRES_PORT}`,
      data_dir: args.dataDir,
      bin_dir: args.binDir,
      pgpass: args.pgpassFile,
      authentication: {
        superuser: { username: "postgres" },
        replication: { username: REPLICATION_USER },
      },
      parameters: local,
      pg_hba: patroniHba(args.replicationRoles ?? []),
    },
  };
}

/** The config file's text. */
export function patroniYaml(args: PatroniConfigArgs): string {
  return (
    "# Rendered by k3s-platform from the stack config; edit that, not this file.\n" +
    stringify(patroniConfig(args))
  );
}

/** The single server's pg_hba lines, and the replication login over SCRAM from any member. */
function patroniHba(replicationRoles: readonly string[]): string[] {
  const lines = pgHbaConf(replicationRoles)
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"));
  return [
    ...lines,
    `host    replication  ${REPLICATION_USER}  0.0.0.0/0  scram-sha-256`,
    `host    replication  ${REPLICATION_USER}  ::/0       scram-sha-256`,
  ];
}
