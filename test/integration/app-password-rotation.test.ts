/**
 * Rotating the app's password fails no transaction of clients that follow the rollout. A real
 * PostgreSQL 15 is set up by the dev render's init SQL; real PgBouncers run the rendered
 * `pgbouncer.ini` through the container's rendered entrypoint, each with the `userlist.txt` its
 * render holds (checked against the Deployment's config hash), behind a loopback stand-in for the
 * Service; pgbench stands for the app's pods, reconnecting for every transaction, so every
 * transaction logs in again through PgBouncer.
 *
 * The rotation is the second render: `credentials.postgres.app2` given and `postgres.appLogin:
 * app2`. Its role-reconcile Job (the rendered script) sets app2's new verifier while pgbench on
 * the old login (`app`) keeps running; then the steps run in the order the rendered plan gives:
 * the new PgBouncer pod joins the Service, the old one leaves it and drains as the kubelet stops
 * it, the migrations Job applies a new migration with Atlas as app2, the app rolls (pgbench on
 * app2 with the new password), and the old pgbench stops last. pgbench counts zero failed
 * transactions on either login, every transaction is a committed row, and the migrated table
 * belongs to `app`, writable by the old login.
 *
 * Two negative controls run the same machinery and must fail: the same password changed on the
 * login in use (the rotation without a second login), and the rotation's app rollout run before
 * PgBouncer's. The tests share one server and run in file order; each negative control puts the
 * server back with the shipped render's Job before the next test.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readMigrationDir, writeSumFile } from "../../core/atlas-sum";
import { CONFIG_HASH_ANNOTATION, contentHash } from "../../components/lib/hash";
import { scramSalt, scramSha256Verifier } from "../../components/lib/scram";
import { givenScramSaltSource } from "../../components/lib/secrets";
import { PGBOUNCER_PRESTOP_SECONDS, STATS_USER, userlistTxt } from "../../components/pgbouncer";
import { PLATFORM_ROLE_NAMES, type PlatformRoleName } from "../../components/postgres";
import { rolesJobName } from "../../components/postgres/roles-job";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { atlasEngine, type AtlasEngine } from "./lib/atlas-engine";
import { setIniValue } from "./lib/pgbouncer";
import { pgbouncerVersion, startPgBouncerPod, type PgBouncerPod } from "./lib/pgbouncer-pod";
import { startPostgres, type PostgresServer } from "./lib/postgres";
import { generatedLikePassword, runProgram, type ProgramResult } from "./lib/rendered-postgres";
import { renderStackToDir, type RenderedStack } from "./lib/rendered-stack";
import { localRolesJob, renderedRolesJob, type LocalRolesJob } from "./lib/roles-job";
import { startServiceProxy, type ServiceProxy } from "./lib/service-proxy";

const APP_IMAGE = "registry.example.com/acme/app:1.0.0";
const MIGRATIONS = resolve(__dirname, "../../atlas/migrations");
/** The version of the migration the rotation's migrations Job applies. */
const NEW_MIGRATION = "29990101000000";
const CLIENTS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Login = { password: string; scramVerifier: string };
type Logins = Record<PlatformRoleName, Login>;

/** A login as the mocks make it: generated, or given at `credentials.postgres.<role>`. */
function loginOf(role: PlatformRoleName, given: boolean): Login {
  const password = given
    ? `${MOCK_SECRET_PREFIX}config-k3s-platform-credentials-postgres-${role}`
    : `${MOCK_SECRET_PREFIX}postgres-${role}-password`;
  const saltSource = given
    ? givenScramSaltSource(password, `postgres-${role}-scram-salt`)
    : `${MOCK_SECRET_PREFIX}postgres-${role}-scram-salt`;
  return { password, scramVerifier: scramSha256Verifier(password, scramSalt(saltSource)) };
}

/** Every role's login in a render where only `given` roles have a password in the config. */
function loginsWith(given: PlatformRoleName[] = []): Logins {
  return Object.fromEntries(
    PLATFORM_ROLE_NAMES.map((role) => [role, loginOf(role, given.includes(role))]),
  ) as Logins;
}

/** The stack as shipped; the rotation onto app2; the same password changed on `app` in use. */
const STACKS = {
  before: { given: [] as PlatformRoleName[], config: {} },
  rotated: {
    given: ["app2"] as PlatformRoleName[],
    config: {
      "k3s-platform:credentials": { postgres: { app2: { secure: "v1:ciphertext-of-app2" } } },
      "k3s-platform:postgres": { appLogin: "app2" },
    },
  },
  inPlace: {
    given: ["app"] as PlatformRoleName[],
    config: {
      "k3s-platform:credentials": { postgres: { app: { secure: "v1:ciphertext-of-app" } } },
    },
  },
};
type StackName = keyof typeof STACKS;

interface Deployment {
  metadata: { name: string };
  spec: {
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: { containers: { name: string; command?: string[] }[] };
    };
  };
}

/** One render, the logins it gives every role, and what its PgBouncer pods run. */
interface Stack {
  render: RenderedStack;
  logins: Logins;
  /** The login the app's Secrets name, and the other one. */
  active: "app" | "app2";
  command: string[];
  ini: string;
  userlist: string;
  job: LocalRolesJob;
}

let pg: PostgresServer;
let atlas: AtlasEngine;
const stacks = {} as Record<StackName, Stack>;
const superuserPassword = generatedLikePassword();
const scratch = mkdtempSync(join(tmpdir(), "app-rotation-"));
/** How to stop every server a test started, in case it failed before stopping them itself. */
const cleanups: (() => Promise<void>)[] = [];

function deployment(render: RenderedStack, name: string): Deployment {
  const found = (render.manifests("Deployment") as Deployment[]).find(
    (d) => d.metadata.name === name,
  );
  if (!found) throw new Error(`the render has no Deployment ${name}`);
  return found;
}

/** The userlist of a render's PgBouncer, as the component writes it from these logins. */
function userlistFor(logins: Logins, active: "app" | "app2"): string {
  const standby = active === "app" ? "app2" : "app";
  const stats = `${MOCK_SECRET_PREFIX}pgbouncer-stats-password`;
  return userlistTxt([
    { username: active, scramVerifier: logins[active].scramVerifier },
    { username: standby, scramVerifier: logins[standby].scramVerifier },
    {
      username: STATS_USER,
      scramVerifier: scramSha256Verifier(
        stats,
        scramSalt(`${MOCK_SECRET_PREFIX}pgbouncer-stats-scram-salt`),
      ),
    },
  ]);
}

async function stackFor(name: StackName): Promise<Stack> {
  const { given, config } = STACKS[name];
  const render = await renderStackToDir("dev", { appImage: APP_IMAGE, config });
  const logins = loginsWith(given);
  const active = name === "rotated" ? "app2" : "app";
  const pgbouncer = deployment(render, "pgbouncer");
  const secrets = {
    "postgres-superuser": { username: "postgres", password: superuserPassword },
    ...Object.fromEntries(
      PLATFORM_ROLE_NAMES.map((role) => [
        `postgres-${role}`,
        { scramVerifier: logins[role].scramVerifier },
      ]),
    ),
  };
  const ini = setIniValue(
    render.configMap("pgbouncer-config")["pgbouncer.ini"],
    "databases",
    "app",
    `host=${pg.host} port=${pg.port} dbname=app`,
  );
  return {
    render,
    logins,
    active,
    command: pgbouncer.spec.template.spec.containers[0].command ?? [],
    ini,
    userlist: userlistFor(logins, active),
    job: localRolesJob(render, renderedRolesJob(render), pg, secrets),
  };
}

beforeAll(async () => {
  // A cold build of the Atlas engine takes minutes; a cached one, none.
  atlas = await atlasEngine();
  pg = await startPostgres({ password: superuserPassword });
  // One render after the other: two cores, shared.
  for (const name of Object.keys(STACKS) as StackName[]) stacks[name] = await stackFor(name);
  // The database as the shipped stack leaves it: its init SQL, by its role-reconcile Job.
  const init = await stacks.before.job.run();
  if (init.code !== 0) throw new Error(init.stderr);
  // The shipped migrations, applied by the migrations Job on the login in use.
  const shipped = await atlas.apply(MIGRATIONS, appUrl("app", stacks.before.logins.app.password));
  if (shipped.length !== readMigrationDir(MIGRATIONS).length) throw new Error("migrations");
  const setup = await runProgram(
    "psql",
    [
      "-X",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      "CREATE TABLE rotation_tx (id bigserial PRIMARY KEY, login text NOT NULL, client int NOT NULL)",
    ],
    appDirect(),
  );
  if (setup.code !== 0) throw new Error(setup.stderr);
  writeFileSync(
    join(scratch, "tx.sql"),
    "BEGIN;\nINSERT INTO rotation_tx (login, client) VALUES (session_user, :client_id);\n" +
      "SELECT pg_sleep(0.01);\nCOMMIT;\n",
  );
}, 600_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await pg?.stop();
  for (const stack of Object.values(stacks)) {
    stack.job.remove();
    stack.render.remove();
  }
  rmSync(scratch, { recursive: true, force: true });
});

/** libpq environment of one app login, straight to Postgres. */
function directEnv(user: string, password: string): Record<string, string> {
  return {
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGUSER: user,
    PGPASSWORD: password,
    PGDATABASE: "app",
  };
}

/** The URL the migrations Job gets (its Secret's `url`), on loopback. */
function appUrl(login: string, password: string): string {
  return `postgres://${login}:${password}@${pg.host}:${pg.port}/app?sslmode=disable`;
}

/** The old login, straight to Postgres: to read and clear the rows the runs commit. */
function appDirect(): Record<string, string> {
  return directEnv("app", stacks.before.logins.app.password);
}

/** A PgBouncer pod of a render, stopped in afterAll if the test did not. */
async function pgbouncerPod(stack: Stack): Promise<PgBouncerPod> {
  const pod = await startPgBouncerPod({
    command: stack.command,
    ini: stack.ini,
    userlist: stack.userlist,
  });
  cleanups.push(() => pod.stop());
  return pod;
}

/** The Service in front of a first pod, closed in afterAll if the test did not. */
async function serviceFor(pod: PgBouncerPod): Promise<ServiceProxy> {
  const service = await startServiceProxy([pod.port]);
  cleanups.push(() => service.close());
  return service;
}

/** What one pgbench run did. */
interface BenchFigures {
  login: string;
  code: number | null;
  processed: number;
  failed: number;
  /** stderr lines that report an error: a failed login, an aborted client. */
  errors: string[];
  /** When it started and ended (`Date.now()`). */
  startedAt: number;
  endedAt: number;
}

/** pgbench as one of the app's pods: a login, a reconnect per transaction, `seconds` long. */
async function bench(
  service: ServiceProxy,
  login: string,
  password: string,
  seconds: number,
): Promise<BenchFigures> {
  const startedAt = Date.now();
  const result: ProgramResult = await runProgram(
    "pgbench",
    [
      "-n",
      "-C",
      "-c",
      String(CLIENTS),
      "-j",
      "2",
      "-T",
      String(seconds),
      "--failures-detailed",
      "-f",
      join(scratch, "tx.sql"),
    ],
    { ...directEnv(login, password), PGHOST: service.host, PGPORT: String(service.port) },
  );
  const figure = (pattern: RegExp) => Number(pattern.exec(result.stdout)?.[1] ?? -1);
  return {
    login,
    code: result.code,
    processed: figure(/actually processed: (\d+)/),
    failed: figure(/number of failed transactions: (\d+)/),
    errors: result.stderr.split("\n").filter((line) => /error|fatal|abort/i.test(line)),
    startedAt,
    endedAt: Date.now(),
  };
}

function describeBench(b: BenchFigures): string {
  return (
    `pgbench as ${b.login}: ${b.processed} transactions, ${b.failed} failed, ` +
    `${b.errors.length} error lines, exit ${b.code}, ${((b.endedAt - b.startedAt) / 1000).toFixed(1)} s`
  );
}

/** Committed rows of one login. */
async function rowsOf(login: string): Promise<number> {
  const result = await runProgram(
    "psql",
    ["-X", "-A", "-t", "-c", `SELECT count(*) FROM rotation_tx WHERE login = '${login}'`],
    appDirect(),
  );
  return Number(result.stdout.trim());
}

/** The kubelet stopping a pod: out of the Service, the preStop pause, SIGTERM, the drain. */
async function stopAsKubelet(service: ServiceProxy, pod: PgBouncerPod): Promise<number | null> {
  service.setReady(pod.port, false);
  await sleep(PGBOUNCER_PRESTOP_SECONDS * 1000);
  pod.terminate();
  const code = await pod.exited(20_000);
  await pod.stop();
  return code ?? null;
}

/** Runs a render's role-reconcile Job, failing the test if the Job fails. */
async function reconcile(stack: Stack): Promise<number> {
  const run = await stack.job.run();
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return run.seconds;
}

describe("the renders of a rotation", () => {
  it("lay out the Job's and PgBouncer's very inputs: the Job's name and the config hash agree", () => {
    for (const stack of Object.values(stacks)) {
      const job = renderedRolesJob(stack.render);
      const verifiers = Object.fromEntries(
        PLATFORM_ROLE_NAMES.map((role) => [role, stack.logins[role].scramVerifier]),
      );
      const sql = stack.render.configMap("postgres-init")["10-platform.sql"];
      expect(job.name).toBe(rolesJobName("postgres-roles", { sql, verifiers, image: job.image }));
      const annotations = deployment(stack.render, "pgbouncer").spec.template.metadata.annotations;
      const stats = `${MOCK_SECRET_PREFIX}pgbouncer-stats-password`;
      const exporterUrl = `postgres://${STATS_USER}:${stats}@127.0.0.1:6432/pgbouncer?sslmode=disable`;
      const rendered = stack.render.configMap("pgbouncer-config")["pgbouncer.ini"];
      expect(annotations?.[CONFIG_HASH_ANNOTATION]).toBe(
        contentHash([rendered, { "userlist.txt": stack.userlist }, { url: exporterUrl }], 16),
      );
    }
    expect(renderedRolesJob(stacks.rotated.render).name).not.toBe(
      renderedRolesJob(stacks.before.render).name,
    );
  });
});

interface PlanEntry {
  urn: string;
  type: string;
  name: string;
  dependencies: string[];
}

/** Whether the plan applies `later` only after `first`: a chain of dependencies leads there. */
function appliedAfter(plan: PlanEntry[], later: PlanEntry, first: PlanEntry): boolean {
  const byUrn = new Map(plan.map((entry) => [entry.urn, entry]));
  const seen = new Set<string>();
  const queue = [...later.dependencies];
  while (queue.length > 0) {
    const urn = queue.pop() as string;
    if (urn === first.urn) return true;
    if (seen.has(urn)) continue;
    seen.add(urn);
    queue.push(...(byUrn.get(urn)?.dependencies ?? []));
  }
  return false;
}

describe("the rotation's plan", () => {
  it("applies the Job, then PgBouncer, then the app's Secret and migrations, then the app", () => {
    const { render } = stacks.rotated;
    const plan = (
      JSON.parse(readFileSync(join(render.dir, "plan.json"), "utf8")) as { resources: PlanEntry[] }
    ).resources;
    const find = (type: string, name: RegExp) => {
      const found = plan.filter((e) => e.type.endsWith(type) && name.test(e.name));
      expect(found, `${type} ${name}`).toHaveLength(1);
      return found[0];
    };
    const job = find("batch/v1:Job", /^postgres-roles$/);
    const pgbouncer = find("apps/v1:Deployment", /^pgbouncer$/);
    const appSecret = find("core/v1:Secret", /^pgbouncer-app$/);
    const migrations = find("batch/v1:Job", /^migrations-/);
    const order: [PlanEntry, PlanEntry][] = [
      [pgbouncer, job],
      [appSecret, pgbouncer],
      [migrations, job],
      ...["app-web", "app-worker"].flatMap((name): [PlanEntry, PlanEntry][] => {
        const app = find("apps/v1:Deployment", new RegExp(`^${name}$`));
        return [
          [app, appSecret],
          [app, migrations],
        ];
      }),
    ];
    for (const [later, first] of order) {
      expect(appliedAfter(plan, later, first), `${later.name} after ${first.name}`).toBe(true);
    }
    // Migrations log in as the new login, straight to Postgres.
    const migrationsJob = (render.manifests("Job") as { metadata: { name: string } }[]).find((j) =>
      j.metadata.name.startsWith("migrations-"),
    );
    expect(JSON.stringify(migrationsJob)).toContain('"name":"postgres-app2"');
    expect(JSON.stringify(migrationsJob)).not.toContain('"name":"postgres-app"');
  });
});

describe("negative controls: the same machinery, a rotation that does not hold", () => {
  it("the password changed on the login in use fails the old pods' transactions", async () => {
    const { before, inPlace } = stacks;
    const oldPod = await pgbouncerPod(before);
    const service = await serviceFor(oldPod);
    const oldBench = bench(service, "app", before.logins.app.password, 10);
    await sleep(2_000);
    await reconcile(inPlace);
    const newPod = await pgbouncerPod(inPlace);
    service.addEndpoint(newPod.port);
    await sleep(1_000);
    await stopAsKubelet(service, oldPod);
    const fresh = await bench(service, "app", inPlace.logins.app.password, 3);
    const old = await oldBench;
    console.log(
      `in place (app -> app): ${describeBench(old)}, first: ${old.errors[0]}; ${describeBench(fresh)}`,
    );
    await reconcile(before);
    await newPod.stop();
    await service.close();
    expect(old.code).not.toBe(0);
    expect(old.errors.join("\n")).toMatch(/(SASL|password) authentication failed/);
    expect(fresh.errors).toEqual([]);
  }, 60_000);

  it("the app rolled before PgBouncer fails the new pods' logins", async () => {
    const { before, rotated } = stacks;
    const oldPod = await pgbouncerPod(before);
    const service = await serviceFor(oldPod);
    const oldBench = bench(service, "app", before.logins.app.password, 6);
    await sleep(2_000);
    await reconcile(rotated);
    const fresh = await bench(service, "app2", rotated.logins.app2.password, 2);
    const old = await oldBench;
    console.log(
      `app before PgBouncer: ${describeBench(old)}; ${describeBench(fresh)}, first: ${fresh.errors[0]}`,
    );
    await reconcile(before);
    await oldPod.stop();
    await service.close();
    expect(fresh.code).not.toBe(0);
    expect(fresh.errors.join("\n")).toMatch(/(SASL|password) authentication failed/);
    // The login in use was never touched: its clients saw nothing.
    expect(old.errors).toEqual([]);
    expect(old.failed).toBe(0);
  }, 60_000);
});

describe("rotating the app's password onto its second login, under pgbench", () => {
  it("fails no transaction on either login when the rollout follows the rendered order", async () => {
    console.log(`PgBouncer here: ${pgbouncerVersion()}`);
    const { before, rotated } = stacks;
    await runProgram("psql", ["-X", "-c", "TRUNCATE rotation_tx"], appDirect());
    const oldPod = await pgbouncerPod(before);
    const service = await serviceFor(oldPod);
    const started = performance.now();
    const oldBench = bench(service, "app", before.logins.app.password, 20);
    await sleep(2_000);
    const jobSeconds = await reconcile(rotated);
    // PgBouncer's rollout: the surge pod joins, then the old one leaves and drains.
    const newPod = await pgbouncerPod(rotated);
    service.addEndpoint(newPod.port);
    await sleep(1_000);
    const oldExit = await stopAsKubelet(service, oldPod);
    // Migrations, then the app's rollout: new pods on app2 while old ones still run on app.
    const migrated = await migrateAs("app2", rotated.logins.app2.password);
    const newBench = bench(service, "app2", rotated.logins.app2.password, 12);
    const [old, fresh] = [await oldBench, await newBench];
    const seconds = (performance.now() - started) / 1000;
    const routed = service.routed();
    console.log(
      `rotation app -> app2 in ${seconds.toFixed(1)} s (Job ${jobSeconds.toFixed(2)} s, old ` +
        `PgBouncer exit ${oldExit}): ${describeBench(old)}; ${describeBench(fresh)}; total ` +
        `${old.processed + fresh.processed} transactions, ${old.failed + fresh.failed} failed; ` +
        `connections to the old PgBouncer ${routed[oldPod.port]}, to the new ${routed[newPod.port]}`,
    );
    for (const run of [old, fresh]) {
      expect(run.errors, describeBench(run)).toEqual([]);
      expect(run.code).toBe(0);
      expect(run.failed).toBe(0);
      expect(run.processed).toBeGreaterThan(0);
      expect(await rowsOf(run.login)).toBe(run.processed);
    }
    // The old pods stopped only after the new ones were up and working.
    expect(old.endedAt).toBeGreaterThan(fresh.startedAt + 2_000);
    expect(oldExit).toBe(0);
    expect(service.refused()).toBe(0);
    expect(routed[oldPod.port]).toBeGreaterThan(0);
    expect(routed[newPod.port]).toBeGreaterThan(routed[oldPod.port]);
    expect(migrated).toBe("app|true");
  }, 120_000);
});

/**
 * The migrations Job under the new login, straight to Postgres: Atlas applies a new file after the
 * shipped ones that `app` applied. What it creates belongs to `app` (the tables, and its row in
 * the revisions table `app` made), and the old login may write to it. Returns `owner|written`.
 */
async function migrateAs(login: string, password: string): Promise<string> {
  const dir = join(scratch, "migrations");
  cpSync(MIGRATIONS, dir, { recursive: true });
  writeFileSync(
    join(dir, `${NEW_MIGRATION}_rotation.sql`),
    "CREATE TABLE rotation_migrated (id int);\n",
  );
  writeSumFile(dir);
  expect(await atlas.apply(dir, appUrl(login, password))).toEqual([NEW_MIGRATION]);
  const write = await runProgram(
    "psql",
    ["-X", "-v", "ON_ERROR_STOP=1", "-c", "INSERT INTO rotation_migrated VALUES (1)"],
    appDirect(),
  );
  expect(write.stderr).toBe("");
  const facts = await runProgram(
    "psql",
    [
      "-X",
      "-A",
      "-t",
      "-c",
      "SELECT tableowner || '|' || (SELECT count(*) = 1 FROM rotation_migrated)::text " +
        "FROM pg_tables WHERE tablename = 'rotation_migrated'",
    ],
    appDirect(),
  );
  return facts.stdout.trim();
}
