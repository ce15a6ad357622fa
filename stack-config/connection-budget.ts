import { ALL_IN_ONE_REPLICAS, serverUpdateStrategy } from "../components/temporal/args";
import {
  DEFAULT_SQL_CONNECTIONS,
  TEMPORAL_SERVICES,
  temporalConnectionCount,
  type TemporalServiceName,
} from "../components/temporal/config";
import type { ValidatedConfig } from "./types";

/**
 * One connection budget over every client of Postgres. `max_connections` is split three ways:
 *
 * - `superuserReservedConnections`, for a superuser to repair things;
 * - `directConnections`, for every client that connects to Postgres itself rather than through
 *   PgBouncer ({@link directPostgresUsers}): Temporal's services, the migrations Job, the backup
 *   CronJob, postgres_exporter and, with `app.directDatabaseAccess`, the app's pods;
 * - the rest, for PgBouncer's server connections ({@link pgbouncerServerConnections}).
 *
 * Each consumer is counted at the most it may open, so the database never refuses a connection
 * the platform itself makes.
 */

/**
 * Connections one app pod is budgeted on `DATABASE_DIRECT_URL` when the stack sets no
 * `app.directConnectionsPerPod`. The URL carries no limit, so the app's driver pool decides:
 * node-postgres' `Pool` and postgres.js both default to `max: 10`.
 */
export const APP_DIRECT_CONNECTIONS_PER_POD = 10;

/** One client of Postgres that does not go through PgBouncer, at the most it may open. */
export interface DirectUser {
  /** What it is, as a message names it. */
  name: string;
  /** Connections it may hold at once. */
  count: number;
  /** How `count` comes about, e.g. `4 services × 2 pods × (5 + 2)`; none for a fixed count. */
  arithmetic?: string;
  /** Why the count is what it is, said after it, e.g. why a rollout adds no pod. */
  note?: string;
  /** Stack keys (without the project prefix) that size it, the likeliest culprit first. */
  keys: string[];
}

/** Every direct user of Postgres, biggest first. */
export function directPostgresUsers(config: ValidatedConfig): DirectUser[] {
  const users: DirectUser[] = [
    temporalUser(config),
    {
      // temporal-sql-tool runs its statements one at a time; on an upgrade the new Job runs while
      // the old servers still hold their pools.
      name: "Temporal schema Job (temporal-sql-tool, beside the running servers on an upgrade)",
      count: 1,
      keys: [],
    },
    { name: "migrations Job (Atlas's advisory-lock session)", count: 1, keys: [] },
    { name: "postgres_exporter", count: 1, keys: [] },
  ];
  if (config.postgres.backup.enabled) {
    users.push({
      name: "backup CronJob (pg_dump, one database at a time)",
      count: 1,
      keys: ["postgres.backup.enabled"],
    });
  }
  if (config.app.directDatabaseAccess) users.push(appUser(config));
  return users.sort((a, b) => b.count - a.count);
}

/**
 * Temporal's servers: every service of every server pod has its own pools for the default and the
 * visibility store. Without `separateServices` one pod runs all four services, whatever
 * `temporal.replicas` says. A rollout ({@link serverUpdateStrategy}) never surges, but with more
 * than one pod it replaces them one at a time, and Kubernetes starts the replacement while the
 * old pod may still hold its pools for its grace period: one more pod per service. Only
 * `Recreate` (one pod) waits for the old pod to be gone.
 */
function temporalUser(config: ValidatedConfig): DirectUser {
  const { separateServices, replicas } = config.temporal;
  const pods = separateServices ? replicas : ALL_IN_ONE_REPLICAS;
  const recreated = serverUpdateStrategy(pods).type === "Recreate";
  const counted = recreated ? pods : pods + 1;
  const perService = Object.fromEntries(TEMPORAL_SERVICES.map((service) => [service, counted]));
  const { maxConns, visibilityMaxConns } = DEFAULT_SQL_CONNECTIONS;
  return {
    name: "Temporal",
    count: temporalConnectionCount(perService as Record<TemporalServiceName, number>),
    arithmetic:
      `${TEMPORAL_SERVICES.length} services × ` +
      (recreated ? `${pods} pod${pods === 1 ? "" : "s"}` : `(${pods} pods + 1 shutting down)`) +
      ` × (maxConns ${maxConns} + visibilityMaxConns ${visibilityMaxConns})`,
    note: recreated
      ? "a rollout adds no pod: Recreate starts the new pod once the old one has exited"
      : "a rollout replaces one pod at a time (maxSurge 0), and the pod it replaces may hold its pools while it shuts down",
    keys: separateServices ? ["temporal.replicas", "temporal.separateServices"] : [],
  };
}

/**
 * The app's pods with `DATABASE_DIRECT_URL`: web at its HPA ceiling and the worker, each with the
 * one extra pod its rolling update surges (`maxSurge: 1`), times each pod's pool.
 */
function appUser(config: ValidatedConfig): DirectUser {
  const { web, worker, directConnectionsPerPod } = config.app;
  const pods = web.maxReplicas + 1 + worker.replicas + 1;
  return {
    name: "the app's direct pools",
    count: pods * directConnectionsPerPod,
    arithmetic:
      `(web.maxReplicas ${web.maxReplicas} + 1 surge + worker.replicas ${worker.replicas} + 1 surge) × ` +
      `directConnectionsPerPod ${directConnectionsPerPod}`,
    keys: [
      "app.directDatabaseAccess",
      "app.directConnectionsPerPod",
      "app.web.maxReplicas",
      "app.worker.replicas",
    ],
  };
}

/**
 * Server connections PgBouncer may open against Postgres: every replica's pool and reserve,
 * plus one more replica's worth, because a rolling update surges one new pod before an old one
 * goes and the surge pod fills its pool under load too.
 */
export function pgbouncerServerConnections(config: ValidatedConfig): number {
  const { replicas, defaultPoolSize, reservePoolSize } = config.pgbouncer;
  return (replicas + 1) * (defaultPoolSize + reservePoolSize);
}

/** Connections Postgres has for PgBouncer once superuser slots and direct clients are set aside. */
export function postgresPoolBudget(config: ValidatedConfig): number {
  const { maxConnections, superuserReservedConnections, directConnections } = config.postgres;
  return maxConnections - superuserReservedConnections - directConnections;
}

/** One budget problem: the stack keys it may be reported at (likeliest first) and the message. */
export interface BudgetProblem {
  keys: string[];
  message: string;
}

/** Every way the stack's Postgres clients overrun `max_connections`, with the arithmetic. */
export function connectionBudgetProblems(config: ValidatedConfig): BudgetProblem[] {
  const { maxConnections, superuserReservedConnections, directConnections } = config.postgres;
  const budget = postgresPoolBudget(config);
  if (budget < 1) {
    return [
      {
        keys: ["postgres.directConnections", "postgres.maxConnections"],
        message:
          `leaves no connections for PgBouncer: postgres.maxConnections (${maxConnections}) ` +
          `− superuserReservedConnections (${superuserReservedConnections}) ` +
          `− directConnections (${directConnections}) = ${budget}`,
      },
    ];
  }
  return [...directUserProblems(config), ...pgbouncerProblems(config, budget)];
}

/** The direct users must fit in `postgres.directConnections`. */
function directUserProblems(config: ValidatedConfig): BudgetProblem[] {
  const { maxConnections, superuserReservedConnections, directConnections } = config.postgres;
  const users = directPostgresUsers(config);
  const needed = users.reduce((sum, user) => sum + user.count, 0);
  if (needed <= directConnections) return [];
  const pgbouncer = pgbouncerServerConnections(config);
  const total = superuserReservedConnections + pgbouncer + needed;
  const remedy =
    total <= maxConnections
      ? `raise postgres.directConnections to at least ${needed} (PgBouncer's ${pgbouncer} then ` +
        `still fit: ${maxConnections} − ${superuserReservedConnections} − ${needed} = ` +
        `${maxConnections - superuserReservedConnections - needed})`
      : `raise postgres.directConnections to at least ${needed} and postgres.maxConnections to at ` +
        `least superuserReservedConnections ${superuserReservedConnections} + PgBouncer ${pgbouncer} + ` +
        `direct ${needed} = ${total}`;
  return [
    {
      keys: [...users.flatMap((user) => user.keys), "postgres.directConnections"],
      message:
        `the clients that connect to Postgres directly may open ${needed} connections, more than ` +
        `postgres.directConnections (${directConnections}): ` +
        users
          .map(({ name, arithmetic, count, note }) =>
            [name, arithmetic && `${arithmetic} =`, count, note && `(${note})`]
              .filter((part) => part !== undefined && part !== "")
              .join(" "),
          )
          .join(", ") +
        `; ${remedy}`,
    },
  ];
}

/** PgBouncer's pools, with one surge replica, must fit in what the rest leave. */
function pgbouncerProblems(config: ValidatedConfig, budget: number): BudgetProblem[] {
  const needed = pgbouncerServerConnections(config);
  if (needed <= budget) return [];
  const { replicas, defaultPoolSize, reservePoolSize } = config.pgbouncer;
  const { maxConnections, superuserReservedConnections, directConnections } = config.postgres;
  return [
    {
      keys: [
        "pgbouncer.defaultPoolSize",
        "pgbouncer.reservePoolSize",
        "pgbouncer.replicas",
        "postgres.maxConnections",
        "postgres.directConnections",
        "postgres.superuserReservedConnections",
      ],
      message:
        `(pgbouncer.replicas + 1 rollout surge) × (defaultPoolSize + reservePoolSize) must be ≤ ` +
        `postgres.maxConnections − reserved (got (${replicas} + 1) × (${defaultPoolSize} + ${reservePoolSize}) = ${needed} > ${budget}); ` +
        `reserved: superuserReservedConnections ${superuserReservedConnections} + directConnections ` +
        `${directConnections} of maxConnections ${maxConnections}; lower the pool or raise ` +
        `postgres.maxConnections`,
    },
  ];
}
