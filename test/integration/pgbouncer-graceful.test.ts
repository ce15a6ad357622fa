/**
 * A PgBouncer pod rolled out under load drops nothing. Two real PgBouncers run our rendered
 * pgbouncer.ini through the container's rendered entrypoint, in front of a real PostgreSQL 15 with
 * our config, behind a loopback stand-in for the Service. pgbench reconnects for every
 * transaction, as an app's pool reconnects through the Service. The old pod is stopped as the
 * kubelet stops it: its endpoint leaves the Service, the preStop pause, then SIGTERM to PID 1.
 * Meanwhile one client holds an idle connection to it (an app pool's) and another runs a
 * transaction across the SIGTERM. Every transaction commits, pgbench counts zero failures, and the
 * old PgBouncer exits by itself, after that transaction, well within the grace period.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGES } from "../../core/images";
import { scramSalt, scramSha256Verifier } from "../../components/lib/scram";
import {
  PGBOUNCER_PRESTOP_SECONDS,
  pgbouncerContainer,
  pgbouncerIni,
  STATS_USER,
  userlistTxt,
} from "../../components/pgbouncer";
import { startPgBouncerPod, pgbouncerVersion, type PgBouncerPod } from "./lib/pgbouncer-pod";
import { PG_BIN } from "./lib/postgres";
import {
  generatedLikePassword,
  runProgram,
  startRenderedPostgres,
  type ProgramResult,
  type RenderedPostgres,
} from "./lib/rendered-postgres";
import { startServiceProxy, type ServiceProxy } from "./lib/service-proxy";

const CLIENTS = 8;
/** pgbench's run; the old pod is deleted this far into it. */
const BENCH_SECONDS = 16;
const DELETE_AT_MS = 4_000;
/** The transaction that spans the SIGTERM: begun this long before it, lasting this long. */
const LONG_TX_LEAD_MS = 1_500;
const LONG_TX_SECONDS = 4;

let db: RenderedPostgres;
let oldPod: PgBouncerPod;
let newPod: PgBouncerPod;
let service: ServiceProxy;
const scratch = mkdtempSync(join(tmpdir(), "pgbouncer-graceful-"));

beforeAll(async () => {
  db = await startRenderedPostgres("dev");
  const app = db.roles.app;
  const ini = pgbouncerIni({
    pool: db.config.pgbouncer,
    databases: [{ name: "app", host: db.pg.host, port: db.pg.port }],
    authFile: "/etc/pgbouncer-auth/userlist.txt",
    statsUsers: [STATS_USER],
  });
  const userlist = userlistTxt([
    { username: app.username, scramVerifier: app.scramVerifier },
    {
      username: STATS_USER,
      scramVerifier: scramSha256Verifier(
        generatedLikePassword(),
        scramSalt(generatedLikePassword()),
      ),
    },
  ]);
  const command = pgbouncerContainer("unused", { cpu: "25m", memory: "64Mi" }).command as string[];
  oldPod = await startPgBouncerPod({ command, ini, userlist });
  newPod = await startPgBouncerPod({ command, ini, userlist });
  service = await startServiceProxy([oldPod.port, newPod.port]);
  const setup = await runProgram(
    "psql",
    [
      "-X",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      "CREATE TABLE rollout_tx (id bigserial PRIMARY KEY, client int NOT NULL)",
    ],
    db.envFor("app", "app"),
  );
  if (setup.code !== 0) throw new Error(setup.stderr);
  writeFileSync(
    join(scratch, "tx.sql"),
    "BEGIN;\nINSERT INTO rollout_tx (client) VALUES (:client_id);\nSELECT pg_sleep(0.02);\nCOMMIT;\n",
  );
}, 60_000);

afterAll(async () => {
  await service?.close();
  await oldPod?.stop();
  await newPod?.stop();
  await db?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** libpq environment of the app role on a port of loopback. */
function appEnv(port: number): Record<string, string> {
  const app = db.roles.app;
  return {
    PGHOST: "127.0.0.1",
    PGPORT: String(port),
    PGUSER: app.username,
    PGPASSWORD: app.password,
    PGDATABASE: "app",
  };
}

/** A psql session fed statement by statement over stdin: its connection lives until `end()`. */
function session(env: Record<string, string>) {
  const child = spawn(`${PG_BIN}/psql`, ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<ProgramResult & { at: number }>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr, at: Date.now() })),
  );
  return {
    send: (sql: string) => child.stdin.write(`${sql}\n`),
    end: () => {
      child.stdin.end();
      return done;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function count(where: string): Promise<number> {
  const result = await runProgram(
    "psql",
    ["-X", "-A", "-t", "-c", `SELECT count(*) FROM rollout_tx WHERE ${where}`],
    db.envFor("app", "app"),
  );
  return Number(result.stdout.trim());
}

/** The kubelet deleting the old pod, with the two app connections it already serves. */
async function deleteOldPod(started: number) {
  const idle = session(appEnv(oldPod.port));
  idle.send("SELECT 1;");
  const spanning = session(appEnv(oldPod.port));
  spanning.send("SELECT 1;");
  await sleep(DELETE_AT_MS - (Date.now() - started));
  const routedBefore = service.routed();
  const deleted = Date.now();
  service.setReady(oldPod.port, false);
  // The preStop is the kubelet's own sleep; the transaction starts during it.
  await sleep(PGBOUNCER_PRESTOP_SECONDS * 1000 - LONG_TX_LEAD_MS);
  spanning.send(
    `BEGIN; INSERT INTO rollout_tx (client) VALUES (-1); SELECT pg_sleep(${LONG_TX_SECONDS}); COMMIT;`,
  );
  const spanningResult = spanning.end();
  await sleep(deleted + PGBOUNCER_PRESTOP_SECONDS * 1000 - Date.now());
  const terminated = Date.now();
  oldPod.terminate();
  const graceLeftMs = (db.config.pgbouncer.drainSeconds - 1) * 1000;
  const exitCode = await oldPod.exited(graceLeftMs);
  const exitedAt = Date.now();
  if (exitCode === undefined) await oldPod.stop(); // the kubelet's SIGKILL
  return {
    routedBefore,
    preStopMs: terminated - deleted,
    drainMs: exitedAt - terminated,
    exitCode,
    exitedAt,
    spanning: await spanningResult,
    idle: await idle.end(),
  };
}

describe("a PgBouncer pod stopped as the kubelet stops it, under pgbench", () => {
  it("drops no transaction: in flight ones commit, new connections go to the other pod", async () => {
    console.log(
      `PgBouncer here: ${pgbouncerVersion()}; in the image: ${IMAGES.pgbouncer.tag}; ` +
        `settings dropped here: ${oldPod.dropped.join(", ") || "(none)"}`,
    );
    const started = Date.now();
    const benchRun = runProgram(
      "pgbench",
      [
        "-n",
        "-C",
        "-c",
        String(CLIENTS),
        "-j",
        "2",
        "-T",
        String(BENCH_SECONDS),
        "-f",
        join(scratch, "tx.sql"),
      ],
      appEnv(service.port),
    );
    const stop = await deleteOldPod(started);
    const bench = await benchRun;
    const processed = Number(/actually processed: (\d+)/.exec(bench.stdout)?.[1] ?? -1);
    const failed = Number(/number of failed transactions: (\d+)/.exec(bench.stdout)?.[1] ?? -1);
    const committed = await count("client >= 0");
    const routed = service.routed();
    const toNewAfter = routed[newPod.port] - stop.routedBefore[newPod.port];
    console.log(
      `pgbench: ${CLIENTS} clients reconnecting per transaction for ${BENCH_SECONDS} s: ` +
        `${processed} transactions, ${failed} failed, ${committed} rows committed; ` +
        `connections to the old pod ${routed[oldPod.port]} (all before its deletion), to the new ` +
        `${routed[newPod.port]} (${toNewAfter} after); preStop ${stop.preStopMs} ms, drain after ` +
        `SIGTERM ${stop.drainMs} ms (grace left ${db.config.pgbouncer.drainSeconds} s), exit code ` +
        `${stop.exitCode}; the transaction across SIGTERM ended ${stop.spanning.at - stop.exitedAt} ms ` +
        `from the old PgBouncer's exit (code ${stop.spanning.code})`,
    );

    expect(bench.code, bench.stderr).toBe(0);
    expect(bench.stderr).not.toMatch(/abort|error/i);
    expect(failed).toBe(0);
    expect(processed).toBeGreaterThan(0);
    expect(committed).toBe(processed);
    expect(routed[oldPod.port]).toBe(stop.routedBefore[oldPod.port]);
    expect(stop.routedBefore[oldPod.port]).toBeGreaterThan(0);
    expect(toNewAfter).toBeGreaterThan(0);
    expect(service.refused()).toBe(0);

    // The transaction across SIGTERM committed, and PgBouncer waited for it, idle client or not.
    expect(stop.spanning.code, stop.spanning.stderr).toBe(0);
    expect(await count("client = -1")).toBe(1);
    expect(stop.exitCode).toBe(0);
    expect(stop.drainMs).toBeGreaterThanOrEqual(LONG_TX_SECONDS * 1000 - LONG_TX_LEAD_MS - 250);
    // The entrypoint turned the kubelet's SIGTERM into PgBouncer's safe shutdown.
    expect(oldPod.log()).toMatch(/got SIGINT/);
    expect(oldPod.log()).not.toMatch(/got SIGTERM/);
  }, 90_000);
});
