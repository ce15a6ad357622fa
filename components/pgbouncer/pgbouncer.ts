import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation } from "./lib/hash";
import { imageRef, IMAGES, tagOf } from "../core/images";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../core/labels";
import { check, probesFor } from "./lib/probes";
import { RESOURCE_PRESETS, type ResourceSpec } from "./lib/resources";
import { parseScramVerifier, scramSalt, scramSha256Verifier } from "./lib/scram";
import { scrapeAnnotations } from "./lib/scrape";
import { generatedPassword, PlatformSecret } from "./lib/secrets";
import { serviceArgs, serviceHost } from "./lib/stateful";
import { container, disruptionBudget, objectMeta, podTemplate } from "./lib/workload";
import type { RoleCredentials } from "./postgres";

/** PgBouncer's port, on the container, the Service and in the app's URL. */
export const PGBOUNCER_PORT = 6432;
/** pgbouncer-exporter's metrics port. */
export const PGBOUNCER_EXPORTER_PORT = 9127;
/** The user the exporter logs into PgBouncer's admin console as (`stats_users`: SHOW only). */
export const STATS_USER = "pgbouncer_stats";

const CONFIG_DIR = "/etc/pgbouncer";
const AUTH_DIR = "/etc/pgbouncer-auth";

/** Pool sizes and timeouts; the names match the stack config's `pgbouncer` section. */
export interface PoolSettings {
  /** `max_client_conn`: client connections accepted in total. */
  maxClientConn: number;
  /** `default_pool_size`: server connections per database/user pair. */
  defaultPoolSize: number;
  /** `min_pool_size`: server connections kept open when idle. */
  minPoolSize: number;
  /** `reserve_pool_size`: extra server connections for a pool whose clients waited too long. */
  reservePoolSize: number;
  /** `reserve_pool_timeout`: how long a client waits before the reserve opens, in seconds. */
  reservePoolTimeoutSeconds: number;
  /** `server_idle_timeout`: an idle server connection is closed after this many seconds. */
  serverIdleTimeoutSeconds: number;
  /** `server_lifetime`: a server connection is recycled after this many seconds. */
  serverLifetimeSeconds: number;
  /** `query_wait_timeout`: a client waiting this long for a server connection gets an error. */
  queryWaitTimeoutSeconds: number;
  /** `max_prepared_statements`: protocol-level prepared statements tracked per server connection (0 = off). */
  maxPreparedStatements: number;
  /**
   * `server_reset_query_always`: run `DISCARD ALL` after every transaction too. Transaction
   * pooling never runs the reset query otherwise; clients must not leave session state behind.
   * @default false
   */
  serverResetQueryAlways?: boolean;
}

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

/** The `pgbouncer.ini` text. */
export function pgbouncerIni(args: PgBouncerIniArgs): string {
  validatePool(args.pool);
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
 * client's proof, because Postgres holds the very same verifier.
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

function validatePool(pool: PoolSettings): void {
  const fail = (propertyPath: string, reason: string) => {
    throw new pulumi.InputPropertyError({ propertyPath: `pool.${propertyPath}`, reason });
  };
  for (const [key, value] of Object.entries(pool)) {
    if (typeof value === "number" && (!Number.isInteger(value) || value < 0)) {
      fail(key, `must be a whole number ≥ 0 (got ${value})`);
    }
  }
  if (pool.defaultPoolSize < 1) fail("defaultPoolSize", "must be at least 1");
  if (pool.maxClientConn < 1) fail("maxClientConn", "must be at least 1");
  if (pool.minPoolSize > pool.defaultPoolSize) {
    fail(
      "minPoolSize",
      `must not exceed defaultPoolSize (${pool.minPoolSize} > ${pool.defaultPoolSize})`,
    );
  }
}

/** Arguments of {@link PgBouncer}. */
export interface PgBouncerArgs {
  /** Namespace of every object the component creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its objects. @default the component's name */
  instance?: string;
  /** Replicas; 2 or more also get a PodDisruptionBudget and a spread across nodes. */
  replicas: number;
  /** Requests and limits of the PgBouncer container. */
  resources: ResourceSpec;
  /** Pool sizes and timeouts. */
  pool: PoolSettings;
  /** Postgres client Service host (the Postgres component's `host`). */
  postgresHost: pulumi.Input<string>;
  /** Postgres port (the Postgres component's `port`). */
  postgresPort: pulumi.Input<number>;
  /** The role clients log in as, and its database (the Postgres component's `appCredentials`). */
  credentials: pulumi.Input<RoleCredentials>;
  /** PgBouncer image. @default the catalogue's `pgbouncer` (1.24, which has max_prepared_statements) */
  image?: pulumi.Input<string>;
  /** pgbouncer-exporter image. @default the catalogue's `pgbouncerExporter` */
  exporterImage?: pulumi.Input<string>;
  /** Requests and limits of the exporter sidecar. @default the `nano` preset */
  exporterResources?: ResourceSpec;
  /** Kubernetes cluster domain, for the Service host name. @default "cluster.local" */
  clusterDomain?: string;
}

/**
 * PgBouncer in transaction mode in front of Postgres: a thousand app connections share a pool of
 * a few dozen server connections. SCRAM end to end, with verifiers only.
 */
export class PgBouncer extends pulumi.ComponentResource {
  /** Service DNS name. */
  public readonly host: pulumi.Output<string>;
  /** Service port. */
  public readonly port: pulumi.Output<number>;
  /** The app's `DATABASE_URL` through PgBouncer: `postgres://app:…@host:6432/app` (secret). */
  public readonly url: pulumi.Output<string>;
  /** Secret with the app's connection through PgBouncer (`url`, `username`, `password`, `host`, `port`, `database`). */
  public readonly appSecret: PlatformSecret;
  /** The Service. */
  public readonly service: k8s.core.v1.Service;
  /** The Deployment, for `dependsOn`. */
  public readonly deployment: k8s.apps.v1.Deployment;
  /** Labels of the PgBouncer pods, for network policies. */
  public readonly identity: WorkloadIdentity;

  constructor(name: string, args: PgBouncerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:data:PgBouncer", name, {}, opts);
    if (!Number.isInteger(args.replicas) || args.replicas < 1) {
      throw new pulumi.InputPropertyError({
        propertyPath: "replicas",
        reason: `must be a whole number ≥ 1 (got ${args.replicas})`,
      });
    }
    validatePool(args.pool);

    const image = args.image ?? imageRef("pgbouncer");
    const identity: WorkloadIdentity = {
      name,
      component: "pooler",
      instance: args.instance ?? name,
      version: typeof image === "string" ? tagOf(image) : undefined,
    };
    this.identity = identity;
    const ns = args.namespace;
    const labels = labelsFor(identity);
    const childOpts = { parent: this };
    const credentials = pulumi.output(args.credentials);

    this.service = new k8s.core.v1.Service(
      name,
      serviceArgs(name, ns, identity, [{ name: "pgbouncer", port: PGBOUNCER_PORT }]),
      childOpts,
    );
    this.host = serviceHost(name, ns, args.clusterDomain);
    this.port = pulumi.output(PGBOUNCER_PORT);

    const statsPassword = generatedPassword(`${name}-stats-password`, childOpts);
    const statsSalt = generatedPassword(`${name}-stats-scram-salt`, childOpts);
    const userlist = pulumi
      .all([credentials, statsPassword, statsSalt])
      .apply(([app, password, salt]) =>
        userlistTxt([
          { username: app.username, scramVerifier: app.scramVerifier },
          { username: STATS_USER, scramVerifier: scramSha256Verifier(password, scramSalt(salt)) },
        ]),
      );
    const auth = new PlatformSecret(
      `${name}-userlist`,
      { namespace: ns, labels, data: { "userlist.txt": userlist } },
      childOpts,
    );
    const exporterSecret = new PlatformSecret(
      `${name}-exporter`,
      {
        namespace: ns,
        labels,
        data: {
          url: pulumi.interpolate`postgres://${STATS_USER}:${statsPassword}@127.0.0.1:${PGBOUNCER_PORT}/pgbouncer?sslmode=disable`,
        },
      },
      childOpts,
    );

    this.url = pulumi.secret(
      pulumi.interpolate`postgres://${credentials.username}:${credentials.password}@${this.host}:${PGBOUNCER_PORT}/${credentials.database}`,
    );
    this.appSecret = new PlatformSecret(
      `${name}-app`,
      {
        namespace: ns,
        labels,
        data: {
          username: credentials.username,
          password: credentials.password,
          database: credentials.database,
          host: this.host,
          port: String(PGBOUNCER_PORT),
          url: this.url,
        },
      },
      childOpts,
    );

    const ini = pulumi
      .all([args.postgresHost, args.postgresPort, pulumi.unsecret(credentials.database)])
      .apply(([host, port, database]) =>
        pgbouncerIni({
          pool: args.pool,
          databases: [{ name: database, host, port }],
          authFile: `${AUTH_DIR}/userlist.txt`,
          statsUsers: [STATS_USER],
        }),
      );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: objectMeta(`${name}-config`, ns, identity), data: { "pgbouncer.ini": ini } },
      childOpts,
    );

    const pgbouncer = container({
      name: "pgbouncer",
      image,
      // Straight to the binary: the image's entrypoint would write config files we mount read-only.
      command: ["/usr/bin/pgbouncer", `${CONFIG_DIR}/pgbouncer.ini`],
      ports: [{ name: "pgbouncer", containerPort: PGBOUNCER_PORT }],
      resources: args.resources,
      // Both on PgBouncer's own port: it accepts clients whether or not Postgres is up, so a
      // database outage never restarts the poolers. Liveness only waits longer.
      probes: probesFor(check.tcp("pgbouncer")),
      volumeMounts: [
        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
        { name: "auth", mountPath: AUTH_DIR, readOnly: true },
      ],
      // Endpoints drop the pod before PgBouncer stops taking new clients.
      lifecycle: { preStop: { exec: { command: ["sleep", "5"] } } },
    });
    const exporter = container({
      name: "exporter",
      image: args.exporterImage ?? imageRef("pgbouncerExporter"),
      args: [`--web.listen-address=:${PGBOUNCER_EXPORTER_PORT}`],
      ports: [{ name: "metrics", containerPort: PGBOUNCER_EXPORTER_PORT }],
      env: [exporterSecret.key("url").env("PGBOUNCER_EXPORTER_CONNECTION_STRING")],
      resources: args.exporterResources ?? RESOURCE_PRESETS.nano,
      probes: probesFor(check.http("/", "metrics"), { liveness: check.tcp("metrics") }),
    });

    const annotations = configHashAnnotation(ini, auth.content, exporterSecret.content).apply(
      (hash) => ({ ...scrapeAnnotations(PGBOUNCER_EXPORTER_PORT), ...hash }),
    );
    const ha = args.replicas >= 2;
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: objectMeta(name, ns, identity),
        spec: {
          replicas: args.replicas,
          selector: { matchLabels: selectorFor(identity) },
          // Capacity never drops during a rollout. The surge pod opens server connections only on
          // demand (min_pool_size 0) while the old pod's drain, so the two together stay near one
          // pool; only a rollout under peak load can briefly hold one extra pool.
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: podTemplate(
            identity,
            {
              containers: [pgbouncer, exporter],
              volumes: [
                { name: "config", configMap: { name: config.metadata.name } },
                auth.volume("auth"),
              ],
              security: { runAsUser: IMAGES.pgbouncer.uid },
              spreadAcrossNodes: ha,
            },
            annotations,
          ),
        },
      },
      childOpts,
    );

    if (ha) {
      new k8s.policy.v1.PodDisruptionBudget(name, disruptionBudget(name, ns, identity), childOpts);
    }

    this.registerOutputs({
      host: this.host,
      port: this.port,
      url: this.url,
      service: this.service,
      deployment: this.deployment,
    });
  }
}
