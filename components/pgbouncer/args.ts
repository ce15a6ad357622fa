import type * as pulumi from "@pulumi/pulumi";
import { imageRef } from "../../core/images";
import { fieldErrorIf, nestedErrors, type FieldError, type Settings } from "../../core/validation";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { RoleCredentials } from "../postgres";

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
  /** PgBouncer image. @default the catalogue's `pgbouncer` (1.24, which has max_prepared_statements) */
  image?: pulumi.Input<string>;
  /** pgbouncer-exporter image. @default the catalogue's `pgbouncerExporter` */
  exporterImage?: pulumi.Input<string>;
  /** Requests and limits of the exporter sidecar. @default the `nano` preset */
  exporterResources?: ResourceSpec;
  /** Kubernetes cluster domain, for the Service host name. @default "cluster.local" */
  clusterDomain?: string;
}

/** The args the stack config can give: all but the Postgres component's outputs. */
export type PgBouncerSettings = Omit<
  Settings<PgBouncerArgs>,
  "postgresHost" | "postgresPort" | "credentials"
>;

/** The images and exporter resources of a PgBouncer, defaults filled in. */
export interface PgBouncerDefaults {
  image: pulumi.Input<string>;
  exporterImage: pulumi.Input<string>;
  exporterResources: ResourceSpec;
}

/** The documented defaults of the args, in one place. */
export function resolvePgBouncerDefaults(
  args: Pick<PgBouncerArgs, "image" | "exporterImage" | "exporterResources">,
): PgBouncerDefaults {
  return {
    image: args.image ?? imageRef("pgbouncer"),
    exporterImage: args.exporterImage ?? imageRef("pgbouncerExporter"),
    exporterResources: args.exporterResources ?? RESOURCE_PRESETS.nano,
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

/** Every problem with a PgBouncer's args. */
export function pgbouncerRules(args: Pick<PgBouncerArgs, "replicas" | "pool">): FieldError[] {
  return [
    ...fieldErrorIf(
      !Number.isInteger(args.replicas) || args.replicas < 1,
      "replicas",
      () => `must be a whole number ≥ 1 (got ${args.replicas})`,
    ),
    ...nestedErrors("pool", poolRules(args.pool)),
  ];
}
