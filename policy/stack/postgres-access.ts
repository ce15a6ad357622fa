import type { StackValidationPolicy } from "@pulumi/policy";
import * as ports from "../model/port-set";
import type { Endpoint } from "../model/reachability";
import {
  connectionsInto,
  describeEndpoint,
  matrixOf,
  objectOf,
  plays,
  ROLES,
  setsEnv,
  tcp,
  type Role,
} from "../lib/invariants";
import { validateKubeStack } from "../lib/rule";

/** The variable that carries the app's direct Postgres URL: the render's own sign of the config. */
export const DIRECT_DATABASE_ENV = "DATABASE_DIRECT_URL";

/** Postgres's port when its container names none (`postgres`). */
const DEFAULT_POSTGRES_PORT = 5432;

/**
 * Who may open Postgres's server port, each with its reason. The exporter is a sidecar of the
 * Postgres pod itself and dials localhost, which no NetworkPolicy sees; the pod reaching itself is
 * admitted for it.
 */
const DIRECT_CLIENTS: readonly { role: Role; why: string }[] = [
  { role: ROLES.pgbouncer, why: "the pool's server connections" },
  { role: ROLES.migrations, why: "Atlas holds a session advisory lock, which a pool breaks" },
  { role: ROLES.temporalServer, why: "Temporal's persistence" },
  { role: ROLES.temporalSchema, why: "installs Temporal's schema" },
  { role: ROLES.backup, why: "pg_dump" },
  { role: ROLES.baseBackup, why: "pg_basebackup streams the cluster for point-in-time restores" },
  {
    role: ROLES.roleReconcile,
    why: "logs in as the superuser to bring roles, verifiers and grants to the stack's",
  },
  { role: ROLES.postgres, why: "the postgres_exporter sidecar" },
];

/** The app's pods, which reach Postgres through PgBouncer unless they carry the direct URL. */
const APP_ROLES: readonly Role[] = [ROLES.web, ROLES.worker];

/** The server port(s) of a Postgres endpoint: its container port named `postgres`. */
function serverPorts(postgres: Endpoint): ports.PortSet {
  const named = postgres.containerPorts.filter((port) => port.name === "postgres");
  return named.length > 0 ? tcp(...named.map((port) => port.port)) : tcp(DEFAULT_POSTGRES_PORT);
}

/**
 * Whole-stack rule `postgres-access`: only PgBouncer, the migrations Job, Temporal (servers and
 * schema Job), the backups, the role-reconcile Job and the Postgres pod itself (its exporter)
 * reach Postgres; the app's
 * web and worker reach it only through PgBouncer, unless their own pod template carries
 * `DATABASE_DIRECT_URL`, which the Platform sets only with `app.directDatabaseAccess`. Judged on
 * the rendered NetworkPolicies, never on the wiring table.
 */
export const postgresAccess: StackValidationPolicy = {
  name: "postgres-access",
  description:
    "Only PgBouncer, the migrations Job, Temporal, the backups, the role-reconcile Job and the " +
    "exporter reach Postgres; " +
    `the app reaches it only through PgBouncer unless its pods carry ${DIRECT_DATABASE_ENV}.`,
  enforcementLevel: "mandatory",
  remediationSteps:
    "Remove the edge to Postgres from the wiring table (platform/wiring.ts) and connect through " +
    `PgBouncer; an app that needs a session turns on app.directDatabaseAccess, which gives its ` +
    `pods ${DIRECT_DATABASE_ENV} and the edge together.`,
  validateStack: validateKubeStack((stack, report, args) => {
    const matrix = matrixOf(stack, args);
    const connections = connectionsInto(matrix, (to) => plays(to, ROLES.postgres));
    for (const { from, to, entry } of connections) {
      const open = ports.intersect(entry.ports, serverPorts(to));
      if (ports.isEmpty(open)) continue;
      if (DIRECT_CLIENTS.some(({ role }) => plays(from, role))) continue;
      const holder = objectOf(stack, from) ?? objectOf(stack, to);
      if (holder === undefined) continue;
      const port = ports.describePorts(open).join(",");
      if (APP_ROLES.some((role) => plays(from, role))) {
        if (setsEnv(stack, from, DIRECT_DATABASE_ENV)) continue;
        report(
          holder,
          `the NetworkPolicies let it reach Postgres (${to.id})${port} directly, but its pods ` +
            `have no ${DIRECT_DATABASE_ENV}: the app goes through PgBouncer unless ` +
            "app.directDatabaseAccess is on; remove the edge or turn the setting on",
        );
        continue;
      }
      report(
        holder,
        `${describeEndpoint(from)} may reach Postgres (${to.id})${port}, and only PgBouncer, ` +
          "the migrations Job, Temporal, the backups, the role-reconcile Job and the exporter " +
          "may; remove the edge " +
          "and connect through PgBouncer",
      );
    }
  }),
};
