import type * as pulumi from "@pulumi/pulumi";
import { imageRef } from "../../core/images";
import { parseQuantity, QUANTITY_PATTERN } from "../../core/quantity";
import {
  fieldError,
  fieldErrorIf,
  nestedErrors,
  type FieldError,
  type Settings,
} from "../../core/validation";
import { memoryCeiling, RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { NodeSpreadMode } from "../lib/workload";
import type { RoleCredentials } from "../postgres";
import type { PoolUserEntry } from "./builders";

/** Pool sizes and timeouts; the names match the stack config's `pgbouncer` section. */
export interface PoolSettings {
  /** `max_client_conn`: client connections accepted in total; at least 1. */
  maxClientConn: number;
  /** `default_pool_size`: server connections per database/user pair; at least 1. */
  defaultPoolSize: number;
  /** `min_pool_size`: server connections kept open when idle; at most `defaultPoolSize`. */
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

/** Arguments of a {@link PgBouncer}. */
export interface PgBouncerArgs {
  /** Namespace of every object the component creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its objects. @default the component's name */
  instance?: string;
  /** Replicas, at least 1; 2 or more also get a PodDisruptionBudget and a spread across nodes. */
  replicas: number;
  /**
   * How hard that spread is: `DoNotSchedule` where the cluster has more than one node.
   * @default "ScheduleAnyway"
   */
  nodeSpread?: NodeSpreadMode;
  /**
   * How long a pod being stopped waits for its in-flight transactions, in seconds, after it has
   * stopped taking new clients: the longest transaction the app runs through PgBouncer. The
   * pod's grace period is this plus the preStop pause ({@link PGBOUNCER_PRESTOP_SECONDS}); a
   * transaction still running after it is killed with the pod.
   * @default 25
   */
  drainSeconds?: number;
  /**
   * Password of the `stats` user the exporter logs in with, given instead of generated.
   * @default generated with `@pulumi/random`
   */
  statsPassword?: pulumi.Input<string>;
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
  /**
   * A second login admitted to the same database (the Postgres component's `appStandbyLogin`, the
   * app's login not in use): every userlist holds both, so through a password rotation app pods
   * on the previous login and pods on the new one both get in, whichever PgBouncer pod serves
   * them. @default none: only `credentials`
   */
  standbyLogin?: pulumi.Input<PoolUserEntry>;
  /** PgBouncer image. @default the catalogue's `pgbouncer` (1.24, which has max_prepared_statements) */
  image?: pulumi.Input<string>;
  /** pgbouncer-exporter image. @default the catalogue's `pgbouncerExporter` */
  exporterImage?: pulumi.Input<string>;
  /** Requests and limits of the exporter sidecar. @default the `nano` preset */
  exporterResources?: ResourceSpec;
  /** Kubernetes cluster domain, for the Service host name. @default "cluster.local" */
  clusterDomain?: string;
  /**
   * What the Deployment waits for before it rolls, e.g. the Postgres component's `rolesReady`:
   * pods with a new userlist must not start before the server holds the same verifiers.
   * @default none
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The args the stack config can give: all but the Postgres component's outputs. */
export type PgBouncerSettings = Omit<
  Settings<PgBouncerArgs>,
  "postgresHost" | "postgresPort" | "credentials" | "standbyLogin" | "dependsOn"
>;

/**
 * Seconds a stopping pod keeps serving as before, so that every node's kube-proxy has dropped
 * it from the Service (the endpoint goes not-ready the moment the pod is deleted; propagation
 * takes about a second) before PgBouncer stops listening: no new client meets a closed port.
 */
export const PGBOUNCER_PRESTOP_SECONDS = 5;

/** {@link PgBouncerArgs.drainSeconds}'s default: with the preStop pause, Kubernetes' usual 30 s. */
export const PGBOUNCER_DRAIN_SECONDS = 25;

/** The images, exporter resources and shutdown timing of a PgBouncer, defaults filled in. */
export interface PgBouncerDefaults {
  image: pulumi.Input<string>;
  exporterImage: pulumi.Input<string>;
  exporterResources: ResourceSpec;
  nodeSpread: NodeSpreadMode;
  drainSeconds: number;
}

/** The documented defaults of the args, in one place. */
export function resolvePgBouncerDefaults(
  args: Pick<
    PgBouncerArgs,
    "image" | "exporterImage" | "exporterResources" | "nodeSpread" | "drainSeconds"
  >,
): PgBouncerDefaults {
  return {
    image: args.image ?? imageRef("pgbouncer"),
    exporterImage: args.exporterImage ?? imageRef("pgbouncerExporter"),
    exporterResources: args.exporterResources ?? RESOURCE_PRESETS.nano,
    nodeSpread: args.nodeSpread ?? "ScheduleAnyway",
    drainSeconds: args.drainSeconds ?? PGBOUNCER_DRAIN_SECONDS,
  };
}

/** The counts and timeouts of {@link PoolSettings}, each with the least value the rules accept. */
const POOL_MINIMUMS: Record<Exclude<keyof PoolSettings, "serverResetQueryAlways">, number> = {
  maxClientConn: 1,
  defaultPoolSize: 1,
  minPoolSize: 0,
  reservePoolSize: 0,
  reservePoolTimeoutSeconds: 0,
  serverIdleTimeoutSeconds: 0,
  serverLifetimeSeconds: 0,
  queryWaitTimeoutSeconds: 0,
  maxPreparedStatements: 0,
};

/** Every problem with pool settings, by their path in the pool (`minPoolSize`). */
export function poolRules(pool: PoolSettings): FieldError[] {
  const counts = Object.entries(POOL_MINIMUMS).flatMap(([key, minimum]) => {
    const value = pool[key as keyof typeof POOL_MINIMUMS];
    return fieldErrorIf(
      !Number.isInteger(value) || value < minimum,
      key,
      () => `must be a whole number ≥ ${minimum} (got ${value})`,
    );
  });
  return [
    ...counts,
    ...fieldErrorIf(
      pool.minPoolSize > pool.defaultPoolSize,
      "minPoolSize",
      () => `must not exceed defaultPoolSize (${pool.minPoolSize} > ${pool.defaultPoolSize})`,
    ),
  ];
}

/**
 * What one PgBouncer process is estimated to need, for checking `maxClientConn` against the
 * container's memory limit. PgBouncer documents about 2 KiB per client connection; each server
 * connection also holds a packet buffer (`pkt_buf`, 4 KiB) and its own state (2 KiB), plus the
 * prepared statements it tracks (`max_prepared_statements`, counted at 1 KiB of query text each);
 * the process itself (libevent, TLS context, config) is counted at 16 MiB. An over-estimate on
 * purpose: a PgBouncer killed for memory drops every client at once.
 */
export const PGBOUNCER_MEMORY_ESTIMATE = {
  baseMiB: 16,
  perClientKiB: 2,
  perServerConnectionKiB: 6,
  perPreparedStatementKiB: 1,
} as const;

/**
 * Estimated memory of one PgBouncer process in MiB ({@link PGBOUNCER_MEMORY_ESTIMATE}): one
 * database/user pair, so `defaultPoolSize + reservePoolSize` server connections at most.
 */
export function pgbouncerMemoryMiB(pool: PoolSettings): number {
  const e = PGBOUNCER_MEMORY_ESTIMATE;
  const servers = pool.defaultPoolSize + pool.reservePoolSize;
  const perServer =
    e.perServerConnectionKiB + pool.maxPreparedStatements * e.perPreparedStatementKiB;
  return e.baseMiB + (pool.maxClientConn * e.perClientKiB + servers * perServer) / 1024;
}

/** `maxClientConn` must fit in the container's memory limit, by the estimate above. */
function clientMemoryRules(pool: PoolSettings, resources: ResourceSpec | undefined): FieldError[] {
  const ceiling = resources && memoryCeiling(resources);
  if (!ceiling || !QUANTITY_PATTERN.test(ceiling)) return [];
  const limitMiB = parseQuantity(ceiling) / 2 ** 20;
  const needed = pgbouncerMemoryMiB(pool);
  if (!Number.isFinite(needed) || needed <= limitMiB) return [];
  const e = PGBOUNCER_MEMORY_ESTIMATE;
  const most = Math.max(
    0,
    Math.floor(
      ((limitMiB - pgbouncerMemoryMiB({ ...pool, maxClientConn: 0 })) * 1024) / e.perClientKiB,
    ),
  );
  return [
    fieldError(
      "pool.maxClientConn",
      `${pool.maxClientConn} clients need about ${Math.ceil(needed)} MiB, more than the PgBouncer ` +
        `container's memory limit (${ceiling}); estimated as ${e.baseMiB} MiB + ${e.perClientKiB} KiB ` +
        `per client + (${e.perServerConnectionKiB} KiB + ${e.perPreparedStatementKiB} KiB per ` +
        `prepared statement) per server connection: lower maxClientConn to at most ${most} or ` +
        `raise the memory limit`,
    ),
  ];
}

/** Every problem with a PgBouncer's args (`resources`, when given, bounds `maxClientConn`). */
export function pgbouncerRules(
  args: Pick<PgBouncerArgs, "replicas" | "pool"> &
    Partial<Pick<PgBouncerArgs, "resources" | "drainSeconds">>,
): FieldError[] {
  const pool = poolRules(args.pool);
  const drain = args.drainSeconds;
  return [
    ...fieldErrorIf(
      !Number.isInteger(args.replicas) || args.replicas < 1,
      "replicas",
      () => `must be a whole number ≥ 1 (got ${args.replicas})`,
    ),
    ...fieldErrorIf(
      drain !== undefined && (!Number.isInteger(drain) || drain < 1 || drain > 3600),
      "drainSeconds",
      () => `must be a whole number of seconds from 1 to 3600 (got ${drain})`,
    ),
    ...nestedErrors("pool", pool),
    // Only for counts the pool rules accept: the estimate of a malformed pool means nothing.
    ...(pool.length === 0 ? clientMemoryRules(args.pool, args.resources) : []),
  ];
}
