import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../../core/images";
import { selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { nestedErrors } from "../../core/validation";
import { check, probesFor } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import { parseScramVerifier } from "../lib/scram";
import type { SecretKey } from "../lib/secrets";
import { assertValidArgs } from "../lib/validation";
import { container, objectMeta, podTemplate, type NodeSpreadMode } from "../lib/workload";
import { PGBOUNCER_PRESTOP_SECONDS, poolRules, type PoolSettings } from "./args";

/** PgBouncer's port, on the container, the Service and in the app's URL. */
export const PGBOUNCER_PORT = 6432;
/** pgbouncer-exporter's metrics port. */
export const PGBOUNCER_EXPORTER_PORT = 9127;
/** The user the exporter logs into PgBouncer's admin console as (`stats_users`: SHOW only). */
export const STATS_USER = "pgbouncer_stats";
/** Where the ConfigMap with `pgbouncer.ini` is mounted. */
export const PGBOUNCER_CONFIG_DIR = "/etc/pgbouncer";
/** Where the Secret with `userlist.txt` is mounted. */
export const PGBOUNCER_AUTH_DIR = "/etc/pgbouncer-auth";

/** A database PgBouncer serves, and the Postgres it forwards to. */
export interface PooledDatabase {
  /** Name clients connect to (and the name on the server). */
  name: string;
  /** Postgres host. */
  host: string;
  /** Postgres port. */
  port: number;
}

/** What `pgbouncer.ini` is made of. */
export interface PgBouncerIniArgs {
  /** Pool sizes and timeouts. */
  pool: PoolSettings;
  /** The databases served; any other name is refused. */
  databases: PooledDatabase[];
  /** Path of `userlist.txt`. */
  authFile: string;
  /** Users allowed read-only `SHOW` commands on the admin console. @default none */
  statsUsers?: string[];
  /** Address to listen on. @default "0.0.0.0" */
  listenAddr?: string;
  /** Port to listen on. @default 6432 */
  listenPort?: number;
}

/**
 * Every `pgbouncer.ini` setting, by section. No secret is among them: passwords and verifiers are
 * in `userlist.txt`, a Secret.
 */
export function pgbouncerSettings(
  args: PgBouncerIniArgs,
): Record<"databases" | "pgbouncer", Record<string, string | number>> {
  const { pool } = args;
  const databases = Object.fromEntries(
    args.databases.map((db) => [db.name, `host=${db.host} port=${db.port} dbname=${db.name}`]),
  );
  return {
    databases,
    pgbouncer: {
      listen_addr: args.listenAddr ?? "0.0.0.0",
      listen_port: args.listenPort ?? PGBOUNCER_PORT,
      // No Unix socket and no pid file: the root filesystem is read-only.
      unix_socket_dir: "",
      auth_type: "scram-sha-256",
      auth_file: args.authFile,
      admin_users: "",
      stats_users: (args.statsUsers ?? []).join(","),
      // Transaction pooling: a server connection serves one transaction, then the next client.
      pool_mode: "transaction",
      max_client_conn: pool.maxClientConn,
      default_pool_size: pool.defaultPoolSize,
      min_pool_size: pool.minPoolSize,
      reserve_pool_size: pool.reservePoolSize,
      reserve_pool_timeout: pool.reservePoolTimeoutSeconds,
      // A hard ceiling per database: what the config's connection budget counted per replica.
      max_db_connections: pool.defaultPoolSize + pool.reservePoolSize,
      server_reset_query: "DISCARD ALL",
      server_reset_query_always: pool.serverResetQueryAlways ? 1 : 0,
      server_idle_timeout: pool.serverIdleTimeoutSeconds,
      server_lifetime: pool.serverLifetimeSeconds,
      query_wait_timeout: pool.queryWaitTimeoutSeconds,
      // A failed server login (Postgres restarting, or failing over) is retried after 1 s rather
      // than PgBouncer's 15: queued clients get the new primary as soon as it takes connections.
      server_login_retry: 1,
      max_prepared_statements: pool.maxPreparedStatements,
      // JDBC and the exporter's driver send it; PgBouncer would otherwise refuse the connection.
      ignore_startup_parameters: "extra_float_digits",
      // One log line per connection is noise at a thousand clients; the exporter counts them.
      log_connections: 0,
      log_disconnections: 0,
      log_pooler_errors: 1,
      stats_period: 60,
    },
  };
}

/**
 * The `pgbouncer.ini` text. Refuses pool settings that break the component's rules, as the
 * component does, since benches and integration tests render it on its own.
 */
export function pgbouncerIni(args: PgBouncerIniArgs): string {
  assertValidArgs("pgbouncer.ini", nestedErrors("pool", poolRules(args.pool)));
  const sections = pgbouncerSettings(args);
  const lines = ["; Rendered by k3s-platform from the stack config; edit that, not this file."];
  for (const [section, settings] of Object.entries(sections)) {
    lines.push("", `[${section}]`);
    for (const [key, value] of Object.entries(settings)) {
      lines.push(value === "" ? `${key} =` : `${key} = ${value}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** One line of `userlist.txt`. */
export interface PoolUserEntry {
  /** User name. */
  username: string;
  /** Its SCRAM-SHA-256 verifier; never the plain password. */
  scramVerifier: string;
}

/**
 * `userlist.txt`: one `"user" "SCRAM-SHA-256$…"` line per user. Only verifiers are accepted, so
 * the plain password is never in PgBouncer's file; PgBouncer still logs into Postgres with the
 * client's proof, because Postgres holds the very same verifier. The users are the Postgres
 * component's role and {@link STATS_USER}, known only once outputs resolve: a bad one is a
 * programming error, thrown here.
 */
export function userlistTxt(users: PoolUserEntry[]): string {
  return users
    .map(({ username, scramVerifier }) => {
      if (!/^[A-Za-z0-9_.-]+$/.test(username)) {
        throw new Error(`user name "${username}" may only use letters, digits, '_', '.', '-'`);
      }
      parseScramVerifier(scramVerifier);
      return `"${username}" "${scramVerifier}"\n`;
    })
    .join("");
}

/** What {@link pgbouncerDeployment} builds from. */
export interface PgBouncerWorkloadSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  replicas: number;
  image: pulumi.Input<string>;
  resources: ResourceSpec;
  exporterImage: pulumi.Input<string>;
  exporterResources: ResourceSpec;
  /** Name of the ConfigMap holding `pgbouncer.ini`. */
  configMapName: pulumi.Input<string>;
  /** The volume of the Secret holding `userlist.txt`. */
  authVolume: k8s.types.input.core.v1.Volume;
  /** The exporter's connection string to PgBouncer's admin console. */
  exporterUrl: SecretKey;
  /** Pod-template annotations: scrape settings and the config hash. */
  annotations: pulumi.Input<Record<string, string>>;
  /** How hard the spread across nodes is (two replicas or more). */
  nodeSpread: NodeSpreadMode;
  /** Seconds a stopping pod waits for in-flight transactions after the preStop pause. */
  drainSeconds: number;
}

/**
 * The container's PID 1 (the image's busybox `sh`): it runs PgBouncer (`$1`, on the ini `$2`) and
 * turns the kubelet's SIGTERM into SIGINT. PgBouncer 1.23+ takes SIGTERM as `SHUTDOWN
 * WAIT_FOR_CLIENTS`, which waits for every client to disconnect: an app's pool never does, so the
 * pod would be killed at the end of its grace period, mid-transaction. SIGINT is `SHUTDOWN
 * WAIT_FOR_SERVERS`: stop listening, disconnect clients waiting for a server (they hold no
 * transaction), let every in-flight transaction finish, then exit. A second signal during a
 * shutdown is PgBouncer's immediate exit, so the kubelet's SIGTERM must never reach it as well;
 * Kubernetes' own `lifecycle.stopSignal` would do this, but it is still an alpha gate.
 * After a trapped signal `wait` returns early: it waits again until PgBouncer has exited.
 */
export const PGBOUNCER_ENTRYPOINT = [
  `trap 'kill -INT "$child" 2>/dev/null' TERM INT`,
  `"$1" "$2" &`,
  `child=$!`,
  `while :; do`,
  `  wait "$child"; status=$?`,
  `  kill -0 "$child" 2>/dev/null || exit "$status"`,
  `done`,
].join("\n");

/** The PgBouncer container: the binary on the mounted ini, probed on its own port. */
export function pgbouncerContainer(
  image: pulumi.Input<string>,
  resources: ResourceSpec,
): k8s.types.input.core.v1.Container {
  return container({
    name: "pgbouncer",
    image,
    // Not the image's entrypoint, which would write config files we mount read-only.
    command: [
      "/bin/sh",
      "-c",
      PGBOUNCER_ENTRYPOINT,
      "pgbouncer",
      "/usr/bin/pgbouncer",
      `${PGBOUNCER_CONFIG_DIR}/pgbouncer.ini`,
    ],
    ports: [{ name: "pgbouncer", containerPort: PGBOUNCER_PORT }],
    resources,
    // Both on PgBouncer's own port: it accepts clients whether or not Postgres is up, so a
    // database outage never restarts the poolers. Liveness only waits longer.
    probes: probesFor(check.tcp("pgbouncer")),
    volumeMounts: [
      { name: "config", mountPath: PGBOUNCER_CONFIG_DIR, readOnly: true },
      { name: "auth", mountPath: PGBOUNCER_AUTH_DIR, readOnly: true },
    ],
    // The endpoint went not-ready when the pod was deleted; the kubelet's sleep (no process in
    // the container) lets every kube-proxy catch up before SIGTERM, i.e. SIGINT, closes the port.
    lifecycle: { preStop: { sleep: { seconds: PGBOUNCER_PRESTOP_SECONDS } } },
  });
}

/** The pgbouncer-exporter sidecar, serving metrics on {@link PGBOUNCER_EXPORTER_PORT}. */
export function exporterContainer(
  image: pulumi.Input<string>,
  resources: ResourceSpec,
  url: SecretKey,
): k8s.types.input.core.v1.Container {
  return container({
    name: "exporter",
    image,
    args: [`--web.listen-address=:${PGBOUNCER_EXPORTER_PORT}`],
    ports: [{ name: "metrics", containerPort: PGBOUNCER_EXPORTER_PORT }],
    env: [url.env("PGBOUNCER_EXPORTER_CONNECTION_STRING")],
    resources,
    probes: probesFor(check.http("/", "metrics"), { liveness: check.tcp("metrics") }),
  });
}

/** The Deployment: PgBouncer and its exporter, spread across nodes from two replicas on. */
export function pgbouncerDeployment(spec: PgBouncerWorkloadSpec): k8s.apps.v1.DeploymentArgs {
  const { identity } = spec;
  return {
    metadata: objectMeta(spec.name, spec.namespace, identity),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selectorFor(identity) },
      // Capacity never drops during a rollout. The surge pod opens server connections only on
      // demand (min_pool_size 0) while the old pod drains, so the two together stay near one
      // pool; only a rollout under peak load can briefly hold one extra pool.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: podTemplate(
        identity,
        {
          containers: [
            pgbouncerContainer(spec.image, spec.resources),
            exporterContainer(spec.exporterImage, spec.exporterResources, spec.exporterUrl),
          ],
          volumes: [{ name: "config", configMap: { name: spec.configMapName } }, spec.authVolume],
          security: { runAsUser: IMAGES.pgbouncer.uid },
          // The preStop pause, then the drain; the exporter just stops on SIGTERM.
          terminationGracePeriodSeconds: PGBOUNCER_PRESTOP_SECONDS + spec.drainSeconds,
          spreadAcrossNodes: isHighlyAvailable(spec.replicas),
          nodeSpread: spec.nodeSpread,
        },
        spec.annotations,
      ),
    },
  };
}

/** Two or more replicas: a spread across nodes and a PodDisruptionBudget. */
export function isHighlyAvailable(replicas: number): boolean {
  return replicas >= 2;
}
