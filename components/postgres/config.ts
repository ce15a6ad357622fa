import { toMebibytes } from "../../core/quantity";

/**
 * `postgresql.conf` and `pg_hba.conf` from typed arguments. The server is started with
 * `-c config_file=…`, so this file is the whole configuration: what initdb wrote into PGDATA is
 * never read, and a change here is a change of the ConfigMap (and so a rollout).
 */

/** PostgreSQL's port, on the container, both Services and in every URL. */
export const POSTGRES_PORT = 5432;
/** Directory of the Unix socket: the image's default, an emptyDir in the pod. */
export const SOCKET_DIR = "/var/run/postgresql";

/** A server setting's value; strings are written quoted. */
export type SettingValue = string | number | boolean;

/**
 * What `postgresql.conf` is derived from. The connection counts are valid ones (`postgresRules`
 * checks them): this builds, it does not judge.
 */
export interface PostgresConfArgs {
  /** `max_connections`. */
  maxConnections: number;
  /** `superuser_reserved_connections`: slots only a superuser may take (for repairs). */
  superuserReservedConnections: number;
  /** Memory the server may use (the container's memory limit), e.g. `1Gi`. */
  memoryLimit: string;
  /** Path of the pg_hba.conf the server reads. */
  hbaFile: string;
  /** Further settings, applied last (they win over derived ones). @default none */
  settings?: Record<string, SettingValue>;
}

/** Memory settings in MiB, derived from the memory limit and the connection count. */
export interface MemorySettings {
  sharedBuffersMiB: number;
  effectiveCacheSizeMiB: number;
  workMemMiB: number;
  maintenanceWorkMemMiB: number;
}

/**
 * - `shared_buffers` = 25% of the limit: PostgreSQL's own guidance for a dedicated server; the rest
 *   stays for backends and the page cache (which the cgroup counts against the same limit).
 * - `effective_cache_size` = 75%: only a planner hint of what shared buffers plus cache can hold.
 * - `work_mem` = what is left after shared buffers, spread over every connection using two sort or
 *   hash nodes at once, so a burst of parallel sorts cannot push the pod past its limit (at least
 *   1 MiB).
 * - `maintenance_work_mem` = 1/16 of the limit within 64 MiB…1 GiB (VACUUM, CREATE INDEX: one or
 *   two at a time).
 */
export function memorySettings(memoryLimit: string, maxConnections: number): MemorySettings {
  const limitMiB = toMebibytes(memoryLimit);
  const sharedBuffersMiB = Math.floor(limitMiB / 4);
  return {
    sharedBuffersMiB,
    effectiveCacheSizeMiB: Math.floor((limitMiB * 3) / 4),
    workMemMiB: Math.max(1, Math.floor((limitMiB - sharedBuffersMiB) / (2 * maxConnections))),
    maintenanceWorkMemMiB: Math.min(1024, Math.max(64, Math.floor(limitMiB / 16))),
  };
}

/** Every setting of the server, in file order. */
export function postgresSettings(args: PostgresConfArgs): Record<string, SettingValue> {
  const memory = memorySettings(args.memoryLimit, args.maxConnections);
  return {
    listen_addresses: "*",
    port: POSTGRES_PORT,
    unix_socket_directories: SOCKET_DIR,
    max_connections: args.maxConnections,
    superuser_reserved_connections: args.superuserReservedConnections,
    hba_file: args.hbaFile,
    password_encryption: "scram-sha-256",
    shared_buffers: `${memory.sharedBuffersMiB}MB`,
    effective_cache_size: `${memory.effectiveCacheSizeMiB}MB`,
    work_mem: `${memory.workMemMiB}MB`,
    maintenance_work_mem: `${memory.maintenanceWorkMemMiB}MB`,
    // The container's /dev/shm is a Memory emptyDir sized for this.
    dynamic_shared_memory_type: "posix",
    // Logs go to the container's stderr, where the node's log collector picks them up.
    logging_collector: false,
    log_destination: "stderr",
    log_line_prefix: "%m [%p] %q%u@%d ",
    log_timezone: "UTC",
    timezone: "UTC",
    datestyle: "iso, mdy",
    default_text_search_config: "pg_catalog.english",
    log_lock_waits: true,
    log_temp_files: "10MB",
    ...args.settings,
  };
}

function formatValue(value: SettingValue): string {
  if (typeof value === "boolean") return value ? "on" : "off";
  if (typeof value === "number") return String(value);
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** The `postgresql.conf` text. */
export function postgresqlConf(args: PostgresConfArgs): string {
  const lines = Object.entries(postgresSettings(args)).map(
    ([key, value]) => `${key} = ${formatValue(value)}`,
  );
  return `# Rendered by k3s-platform from the stack config; edit that, not this file.\n${lines.join("\n")}\n`;
}

/**
 * `pg_hba.conf`: SCRAM everywhere. The one exception is the `postgres` superuser over the Unix
 * socket, which peer authentication maps to the container's own OS user: only a process already
 * inside the database container (the image's init scripts, `kubectl exec`) can use it.
 */
export function pgHbaConf(replicationRoles: readonly string[] = []): string {
  return [
    "# TYPE  DATABASE     USER      ADDRESS    METHOD",
    "local   all          postgres             peer",
    "local   all          all                  scram-sha-256",
    "host    all          all       0.0.0.0/0  scram-sha-256",
    "host    all          all       ::/0       scram-sha-256",
    // `all` never matches replication connections: only the roles named here may stream.
    ...replicationRoles.flatMap((role) => [
      `host    replication  ${role}    0.0.0.0/0  scram-sha-256`,
      `host    replication  ${role}    ::/0       scram-sha-256`,
    ]),
    "",
  ].join("\n");
}
