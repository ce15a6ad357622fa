/**
 * Our PgBouncer configuration, read by a real PgBouncer in front of a real PostgreSQL 15 that runs
 * our rendered postgresql.conf and init SQL: a thousand clients share the pool without an error
 * and without Postgres ever seeing more server connections than the pool allows.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgbouncerIni, STATS_USER, userlistTxt } from "../../components/pgbouncer";
import { scramSalt, scramSha256Verifier } from "../../components/lib/scram";
import { startPgBouncer, type PgBouncerServer } from "./lib/pgbouncer";
import { PG_BIN } from "./lib/postgres";
import {
  generatedLikePassword,
  runProgram,
  startRenderedPostgres,
  type RenderedPostgres,
} from "./lib/rendered-postgres";

const CLIENTS = 1000;
const SECONDS = 8;

let db: RenderedPostgres;
let bouncer: PgBouncerServer;
const statsPassword = generatedLikePassword();

beforeAll(async () => {
  db = await startRenderedPostgres("dev");
  const app = db.roles.app;
  const ini = pgbouncerIni({
    pool: db.config.pgbouncer,
    // The host and port are the component's; the test helper points them at loopback.
    databases: [{ name: "app", host: "postgres.platform.svc.cluster.local", port: 5432 }],
    authFile: "/etc/pgbouncer-auth/userlist.txt",
    statsUsers: [STATS_USER],
  });
  const userlist = userlistTxt([
    { username: app.username, scramVerifier: app.scramVerifier },
    {
      username: STATS_USER,
      scramVerifier: scramSha256Verifier(statsPassword, scramSalt(generatedLikePassword())),
    },
  ]);
  bouncer = await startPgBouncer({
    ini,
    userlist,
    backend: { host: db.pg.host, port: db.pg.port },
  });
  console.log(
    `PgBouncer 1.18 runs our pgbouncer.ini without: ${bouncer.dropped.join(", ") || "(nothing)"}`,
  );
});

afterAll(async () => {
  await bouncer?.stop();
  await db?.stop();
});

/** libpq environment for a user through PgBouncer. */
function viaBouncer(user: string, password: string, database: string): Record<string, string> {
  return {
    PGHOST: bouncer.host,
    PGPORT: String(bouncer.port),
    PGUSER: user,
    PGPASSWORD: password,
    PGDATABASE: database,
  };
}

/**
 * Samples how many server connections the app role holds on Postgres, every 20 ms, through one
 * superuser session (psql's \watch), until stopped; returns the samples.
 */
function sampleServerConnections(): { stop: () => Promise<number[]> } {
  const child = spawn(`${PG_BIN}/psql`, ["-X", "-A", "-t", "-q"], {
    env: { ...process.env, ...db.pg.env("postgres") },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stdin.write(
    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND backend_type = 'client backend'\n\\watch 0.02\n",
  );
  return {
    stop: async () => {
      child.kill("SIGINT");
      child.kill("SIGTERM");
      await new Promise((r) => child.once("close", r));
      return out
        .split("\n")
        .filter((line) => /^\d+$/.test(line.trim()))
        .map(Number);
    },
  };
}

describe("PgBouncer with our rendered pgbouncer.ini and userlist.txt", () => {
  it("drops only settings that Debian's PgBouncer 1.18 predates", () => {
    expect(bouncer.dropped.every((key) => ["max_prepared_statements"].includes(key))).toBe(true);
    expect(bouncer.ini).toMatch(/^pool_mode = transaction$/m);
    expect(bouncer.ini).toMatch(/^auth_type = scram-sha-256$/m);
  });

  it("the app role logs in through PgBouncer with SCRAM, and PgBouncer logs into Postgres with the same verifier", async () => {
    const app = db.roles.app;
    const result = await runProgram(
      "psql",
      ["-X", "-A", "-t", "-c", "SELECT current_user || '@' || current_database()"],
      viaBouncer(app.username, app.password, "app"),
    );
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("app@app");
  });

  it("a wrong password is refused", async () => {
    const result = await runProgram(
      "psql",
      ["-X", "-c", "SELECT 1"],
      viaBouncer("app", generatedLikePassword(), "app"),
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/password authentication failed|SASL authentication failed/);
  });

  it("databases PgBouncer does not serve are refused, so Temporal's are unreachable through it", async () => {
    const app = db.roles.app;
    const result = await runProgram(
      "psql",
      ["-X", "-c", "SELECT 1"],
      viaBouncer(app.username, app.password, "temporal"),
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no such database/);
  });

  it("the exporter's stats user reads PgBouncer's pools", async () => {
    const result = await runProgram(
      "psql",
      ["-X", "-A", "-c", "SHOW POOLS"],
      viaBouncer(STATS_USER, statsPassword, "pgbouncer"),
    );
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^database\|user\|cl_active/m);
  });

  it("1000 concurrent clients run transactions with zero errors while Postgres sees at most default_pool_size + reserve_pool_size server connections", async () => {
    const { defaultPoolSize, reservePoolSize, maxClientConn } = db.config.pgbouncer;
    expect(maxClientConn).toBeGreaterThanOrEqual(CLIENTS);
    const app = db.roles.app;
    const init = await runProgram("pgbench", ["-i", "-q", "-s", "10"], db.envFor("app", "app"));
    expect(init.code, init.stderr).toBe(0);

    const sampler = sampleServerConnections();
    const started = Date.now();
    const bench = await runProgram(
      "pgbench",
      ["-n", "-c", String(CLIENTS), "-j", "2", "-T", String(SECONDS)],
      viaBouncer(app.username, app.password, "app"),
      { raiseFdLimit: true },
    );
    const samples = await sampler.stop();
    const maxSeen = Math.max(...samples);
    const processed = Number(/actually processed: (\d+)/.exec(bench.stdout)?.[1] ?? 0);
    const failed = Number(/number of failed transactions: (\d+)/.exec(bench.stdout)?.[1] ?? -1);
    const tps = /tps = ([\d.]+)/.exec(bench.stdout)?.[1];
    console.log(
      `pgbench through PgBouncer: ${CLIENTS} clients, ${processed} transactions, ${failed} failed, ` +
        `tps ${tps}, ${Date.now() - started} ms; Postgres server connections: max ${maxSeen} ` +
        `over ${samples.length} samples`,
    );

    expect(bench.code, bench.stderr).toBe(0);
    expect(bench.stdout).toMatch(new RegExp(`number of clients: ${CLIENTS}\\b`));
    expect(bench.stderr).not.toMatch(/error|abort/i);
    expect(failed).toBe(0);
    expect(processed).toBeGreaterThan(0);
    expect(samples.length).toBeGreaterThan(10);
    expect(maxSeen).toBeGreaterThan(0);
    expect(maxSeen).toBeLessThanOrEqual(defaultPoolSize + reservePoolSize);
  }, 120_000);
});
