import { nodeSpreadFor } from "../../components/lib/workload";
import { pgbouncerRules, type PgBouncerSettings } from "../../components/pgbouncer/args";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/** PgBouncer's settings; the Platform adds the Postgres host, port and credentials. */
export function argsForPgBouncer(config: PlatformSettings): PgBouncerSettings {
  const { pgbouncer, cluster } = config;
  return {
    replicas: pgbouncer.replicas,
    nodeSpread: nodeSpreadFor(cluster.nodes),
    drainSeconds: pgbouncer.drainSeconds,
    resources: pgbouncer.resources,
    pool: {
      maxClientConn: pgbouncer.maxClientConn,
      defaultPoolSize: pgbouncer.defaultPoolSize,
      minPoolSize: pgbouncer.minPoolSize,
      reservePoolSize: pgbouncer.reservePoolSize,
      reservePoolTimeoutSeconds: pgbouncer.reservePoolTimeoutSeconds,
      serverIdleTimeoutSeconds: pgbouncer.serverIdleTimeoutSeconds,
      serverLifetimeSeconds: pgbouncer.serverLifetimeSeconds,
      queryWaitTimeoutSeconds: pgbouncer.queryWaitTimeoutSeconds,
      maxPreparedStatements: pgbouncer.maxPreparedStatements,
    },
  };
}

export const pgbouncerCheck: ComponentCheck = {
  rules: (config) => pgbouncerRules(argsForPgBouncer(config)),
  keys: {
    replicas: "pgbouncer.replicas",
    drainSeconds: "pgbouncer.drainSeconds",
    // The pool settings sit directly in the `pgbouncer` section, under the same names.
    pool: "pgbouncer",
    // Clients must fit in the container's memory: a stack that shrank the memory hears it there.
    "pool.maxClientConn": ["pgbouncer.maxClientConn", "pgbouncer.resources"],
  },
};
