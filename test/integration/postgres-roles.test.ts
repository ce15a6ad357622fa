/**
 * A password rotation and a lost role reach a running database: a real PostgreSQL 15 is
 * initialised with the dev render's init SQL and its passwords; the dev stack is rendered again
 * with every role's password given (`credentials.postgres.*` as `secure:` values), a role is
 * dropped by hand, and the second render's role-reconcile Job (its own script, env and mounts,
 * mapped to loopback) brings the server to the new credentials. The verifiers the test lays out
 * are checked against the Job's hashed name, so they are the ones the render would mount.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scramSalt, scramSha256Verifier } from "../../components/lib/scram";
import { givenScramSaltSource } from "../../components/lib/secrets";
import { PLATFORM_ROLE_NAMES, type PlatformRoleName } from "../../components/postgres";
import { rolesJobName, rolesJobScript } from "../../components/postgres/roles-job";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { startPostgres, type PostgresServer } from "./lib/postgres";
import { freePort } from "./lib/process";
import {
  generatedLikePassword,
  runProgram,
  runShell,
  type RoleLogin,
} from "./lib/rendered-postgres";
import {
  localRolesJob,
  renderedRolesJob,
  type LocalRolesJob,
  type RenderedRolesJob,
  type SecretData,
} from "./lib/roles-job";
import { renderStackToDir, type RenderedStack } from "./lib/rendered-stack";

type Logins = Record<PlatformRoleName, RoleLogin>;

/** What the mocks generate for a password, and the salt beside it (`MOCK-SECRET-<resource>`). */
function generatedLogins(): Logins {
  return loginsBy((role) => {
    const password = `${MOCK_SECRET_PREFIX}postgres-${role}-password`;
    return { password, saltSource: `${MOCK_SECRET_PREFIX}postgres-${role}-scram-salt` };
  });
}

/**
 * What a `secure:` value at `k3s-platform:credentials.postgres.<role>` reads as under mocks, and
 * the salt the component derives from a given password.
 */
function givenLogins(): Logins {
  return loginsBy((role) => {
    const password = `${MOCK_SECRET_PREFIX}config-k3s-platform-credentials-postgres-${role}`;
    return { password, saltSource: givenScramSaltSource(password, `postgres-${role}-scram-salt`) };
  });
}

function loginsBy(of: (role: string) => { password: string; saltSource: string }): Logins {
  return Object.fromEntries(
    PLATFORM_ROLE_NAMES.map((role) => {
      const { password, saltSource } = of(role);
      const scramVerifier = scramSha256Verifier(password, scramSalt(saltSource));
      return [role, { username: role, password, scramVerifier }];
    }),
  ) as Logins;
}

/** The database each role logs in to. */
const LOGIN_DATABASE: Record<PlatformRoleName, string> = {
  app: "app",
  app2: "app",
  temporal: "temporal",
  exporter: "postgres",
  backup: "postgres",
};

/** Every given credential, as `pulumi config set --secret --path` writes it. */
const GIVEN_CONFIG = {
  "k3s-platform:credentials": {
    postgres: Object.fromEntries(
      PLATFORM_ROLE_NAMES.map((role) => [role, { secure: `v1:ciphertext-of-${role}` }]),
    ),
  },
};

let first: RenderedStack;
let second: RenderedStack;
let pg: PostgresServer;
const superuserPassword = generatedLikePassword();
const local: LocalRolesJob[] = [];

/** The Secrets the Job reads, holding these verifiers and the server's superuser. */
function secretsFor(logins: Logins): SecretData {
  return {
    "postgres-superuser": { username: "postgres", password: superuserPassword },
    ...Object.fromEntries(
      Object.values(logins).map((login) => [
        `postgres-${login.username}`,
        { scramVerifier: login.scramVerifier },
      ]),
    ),
  };
}

function layOut(render: RenderedStack, job: RenderedRolesJob, logins: Logins): LocalRolesJob {
  const laidOut = localRolesJob(render, job, pg, secretsFor(logins));
  local.push(laidOut);
  return laidOut;
}

/** psql as one role with one password over TCP (SCRAM), never throwing; prints the login. */
function loginAs(role: PlatformRoleName, password: string) {
  // session_user: app2's sessions act as app (current_user), but log in as themselves.
  return runProgram("psql", ["-X", "-A", "-t", "-c", "SELECT session_user"], {
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGUSER: role,
    PGPASSWORD: password,
    PGDATABASE: LOGIN_DATABASE[role],
  });
}

/** Roles, their stored verifiers and flags, memberships and database ACLs: the whole outcome. */
async function serverState(): Promise<string> {
  return pg.psql(`
    SELECT rolname, rolpassword, rolcanlogin, rolsuper, rolbypassrls FROM pg_authid
      WHERE rolname IN (${PLATFORM_ROLE_NAMES.map((r) => `'${r}'`).join(", ")}) ORDER BY 1;
    SELECT m.rolname, r.rolname FROM pg_auth_members a
      JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member ORDER BY 1, 2;
    SELECT datname, pg_get_userbyid(datdba), datacl::text FROM pg_database ORDER BY 1;`);
}

beforeAll(async () => {
  // One render after the other: two cores, shared.
  first = await renderStackToDir("dev");
  second = await renderStackToDir("dev", { config: GIVEN_CONFIG });
  pg = await startPostgres({ password: superuserPassword });
}, 120_000);

afterAll(async () => {
  for (const job of local) job.remove();
  await pg?.stop();
  first?.remove();
  second?.remove();
});

describe("the role-reconcile Job on a real PostgreSQL 15", () => {
  it("is named by the init SQL and the verifiers its Secrets hold: new passwords, new Job", () => {
    const sql = (render: RenderedStack) => render.configMap("postgres-init")["10-platform.sql"];
    const verifiers = (logins: Logins) =>
      Object.fromEntries(Object.values(logins).map((l) => [l.username, l.scramVerifier]));
    for (const [render, logins] of [
      [first, generatedLogins()],
      [second, givenLogins()],
    ] as const) {
      const job = renderedRolesJob(render);
      const expected = rolesJobName("postgres-roles", {
        sql: sql(render),
        verifiers: verifiers(logins),
        image: job.image,
      });
      expect(job.name).toBe(expected);
    }
    expect(renderedRolesJob(second).name).not.toBe(renderedRolesJob(first).name);
  });

  it("the first render's init SQL, run as the image runs it, admits the first passwords", async () => {
    const job = layOut(first, renderedRolesJob(first), generatedLogins());
    const sqlFile = job.mappings
      .find((line) => line.startsWith("env ROLES_SQL_FILE"))
      ?.split(" -> ")[1];
    expect(sqlFile).toBeDefined();
    const init = await runProgram(
      "psql",
      ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname=postgres", `--file=${sqlFile}`],
      pg.env(),
    );
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    for (const [role, login] of Object.entries(generatedLogins()) as [
      PlatformRoleName,
      RoleLogin,
    ][]) {
      const result = await loginAs(role, login.password);
      expect(result.stderr, role).toBe("");
      expect(result.stdout.trim()).toBe(role);
    }
  });

  it("after a rotation and a dropped role, the second render's Job brings the server to them", async () => {
    await pg.psql("DROP OWNED BY exporter; DROP ROLE exporter;");
    expect(await pg.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'exporter'")).toBe("0");

    const job = layOut(second, renderedRolesJob(second), givenLogins());
    console.log(`role-reconcile Job ${renderedRolesJob(second).name} on loopback:`);
    console.log(job.mappings.map((line) => `  ${line}`).join("\n"));
    const run = await job.run();
    console.log(
      `  first run: exit ${run.code} in ${run.seconds.toFixed(2)}s: ${run.stdout.trim()}`,
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^roles reconciled in \d+s$/m);

    const given = givenLogins();
    const old = generatedLogins();
    for (const role of PLATFORM_ROLE_NAMES) {
      const stored = await pg.psql(`SELECT rolpassword FROM pg_authid WHERE rolname = '${role}'`);
      expect(stored, `${role}'s stored verifier`).toBe(given[role].scramVerifier);
      const fresh = await loginAs(role, given[role].password);
      expect(fresh.stderr, `${role} with the new password`).toBe("");
      expect(fresh.stdout.trim()).toBe(role);
      const stale = await loginAs(role, old[role].password);
      expect(stale.code, `${role} with the old password`).not.toBe(0);
      expect(stale.stderr).toMatch(/password authentication failed for user "\w+"/);
    }
  });

  it("the dropped role is back with its grants, and no more than them", async () => {
    const facts = await pg.psql(`
      SELECT pg_has_role('exporter', 'pg_monitor', 'MEMBER'),
             has_database_privilege('exporter', 'postgres', 'CONNECT'),
             has_database_privilege('exporter', 'app', 'CONNECT'),
             rolsuper, rolcreatedb, rolcreaterole
        FROM pg_roles WHERE rolname = 'exporter'`);
    expect(facts).toBe("t|t|f|f|f|f");
    const stats = await runProgram(
      "psql",
      ["-X", "-A", "-t", "-c", "SELECT count(*) > 0 FROM pg_stat_activity"],
      { ...pg.env(), PGUSER: "exporter", PGPASSWORD: givenLogins().exporter.password },
    );
    expect(stats.stdout.trim()).toBe("t");
  });

  it("running it again succeeds and changes nothing", async () => {
    const before = await serverState();
    const job = local[local.length - 1];
    const again = await job.run();
    console.log(`  second run: exit ${again.code} in ${again.seconds.toFixed(2)}s`);
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(await serverState()).toBe(before);
  });

  it("gives up, failing, after its limit of tries when no server answers", async () => {
    const port = await freePort();
    const result = await runShell("/bin/bash", rolesJobScript(2), {
      PGHOST: "127.0.0.1",
      PGPORT: String(port),
      PGUSER: "postgres",
      ROLES_SQL_FILE: "/nonexistent.sql",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Postgres at 127.0.0.1:${port} is not ready after 2 tries`);
  });
});
