/**
 * `npx tsx bench/pgbouncer.ts`: pgbench against a real PostgreSQL 15 running our rendered dev
 * postgresql.conf and init SQL, straight and through a real PgBouncer running our rendered
 * pgbouncer.ini and userlist.txt (Debian's 1.18, without the settings it predates). Prints:
 *
 *   (a) 1000 clients straight to Postgres at our rendered max_connections,
 *   (b) 1000 clients through PgBouncer,
 *   (c) the best direct run under max_connections (a sweep of client counts),
 *   and the ratio (b) / (c).
 *
 * Each for pgbench's TPC-B-like script and its select-only one, with persistent connections (as
 * an application's pool holds them) and, for (a) and (b), with a new connection per transaction
 * (-C: every client really tries to connect, so refused connections are counted); plus (b')
 * PgBouncer with only as many clients as its pool, to separate the cost of the extra hop from the
 * cost of a thousand clients, and the CPU seconds pgbench, PgBouncer and Postgres used, with the
 * transactions Postgres served per CPU-second of its own. Asserts nothing.
 * BENCH_SECONDS (default 10) sets the length of every run; BENCH_SCALE (default 10) the scale.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";
import { pgbouncerIni, STATS_USER, userlistTxt } from "../components/pgbouncer";
import { scramSalt, scramSha256Verifier } from "../components/lib/scram";
import { startPgBouncer, type PgBouncerServer } from "../test/integration/lib/pgbouncer";
import {
  generatedLikePassword,
  runProgram,
  startRenderedPostgres,
  type RenderedPostgres,
} from "../test/integration/lib/rendered-postgres";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SCALE = Number(process.env.BENCH_SCALE ?? 10);
const CLIENTS = 1000;

/** The built-in pgbench scripts: the standard write-heavy one, and one-statement reads. */
const WORKLOADS = [
  { name: "TPC-B (sort of)", flags: [] as string[] },
  { name: "select-only", flags: ["-S"] },
];

interface Figures {
  label: string;
  clients: number;
  tps: number;
  transactions: number;
  failedTransactions: number;
  /** Clients that could not connect (pgbench logs one line for each). */
  connectionErrors: number;
  /** The server's reason for the first refused connection, if any. */
  refusal?: string;
  aborted: boolean;
  /** CPU seconds pgbench itself used (connection set-up included). */
  clientCpu: number;
  /** CPU seconds PgBouncer used during the run, for runs through it. */
  poolerCpu?: number;
  /** CPU seconds the postmaster and its backends used during the run. */
  serverCpu: number;
}

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of a process and of all its children so far: the live ones from /proc, the ended
 * ones from the parent's cutime/cstime (Postgres backends end when their client disconnects).
 */
function treeCpuSeconds(pid: number): number {
  let seconds = 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    seconds =
      (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) /
      CLOCK_TICKS;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      for (const child of children ? children.split(" ") : [])
        seconds += treeCpuSeconds(Number(child));
    }
  } catch {
    // The process ended between listing and reading: its time is in its parent's cutime.
  }
  return seconds;
}

/** The postmaster's process id, from the first line of postmaster.pid in the data directory. */
function postmasterPid(db: RenderedPostgres): number {
  return Number(readFileSync(join(db.pg.baseDir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
}

/**
 * pgbench threads for a client count: each thread scans all of its connections on every wake-up,
 * so a thousand clients on two threads spend most of the run in pgbench; 32 per thread keeps the
 * scan short without starving the two cores with threads.
 */
function pgbenchThreads(clients: number): number {
  return Math.max(2, Math.ceil(clients / 32));
}

/** `times` output of bash: the second line is its children's user and system time. */
function childCpuSeconds(stderr: string): number {
  const line = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/gm;
  const matches = [...stderr.matchAll(line)];
  const last = matches.at(-1);
  if (!last) return 0;
  return Number(last[1]) * 60 + Number(last[2]) + Number(last[3]) * 60 + Number(last[4]);
}

/** The processes whose CPU time a run accounts for. */
interface Processes {
  postmaster: number;
  pooler?: number;
}

async function pgbench(
  label: string,
  env: Record<string, string>,
  clients: number,
  flags: string[],
  { postmaster, pooler: poolerPid }: Processes,
): Promise<Figures> {
  const threads = String(pgbenchThreads(clients));
  const args = ["-n", "-c", String(clients), "-j", threads, "-T", String(SECONDS), ...flags];
  // bash raises the descriptor limit for a thousand sockets and reports pgbench's CPU time.
  const script = 'ulimit -Sn "$(ulimit -Hn)"; pgbench "$@"; rc=$?; times >&2; exit $rc';
  const poolerBefore = poolerPid ? cpuSeconds(poolerPid) : 0;
  const serverBefore = treeCpuSeconds(postmaster);
  const result = await runProgram("/bin/bash", ["-c", script, "bash", ...args], env);
  const connectionErrors = result.stderr
    .split("\n")
    .filter((line) => /could not create connection|aborted while establishing/.test(line)).length;
  return {
    label,
    clients,
    tps: Number(/tps = ([\d.]+)/.exec(result.stdout)?.[1] ?? 0),
    transactions: Number(/actually processed: (\d+)/.exec(result.stdout)?.[1] ?? 0),
    failedTransactions: Number(
      /number of failed transactions: (\d+)/.exec(result.stdout)?.[1] ?? 0,
    ),
    connectionErrors,
    refusal: /FATAL:\s+(.*)/.exec(result.stderr)?.[1],
    aborted: result.code !== 0 && !/actually processed/.test(result.stdout),
    clientCpu: childCpuSeconds(result.stderr),
    poolerCpu: poolerPid ? cpuSeconds(poolerPid) - poolerBefore : undefined,
    serverCpu: treeCpuSeconds(postmaster) - serverBefore,
  };
}

function transactionsPerServerCpu(f: Figures): number {
  return f.serverCpu > 0 ? f.transactions / f.serverCpu : 0;
}

function show(f: Figures): void {
  const outcome = f.aborted
    ? "run aborted"
    : `${f.transactions} tx, ${f.failedTransactions} failed`;
  console.log(
    `  ${f.label.padEnd(44)} ${String(f.clients).padStart(5)} clients  ` +
      `tps ${f.tps.toFixed(1).padStart(8)}  ${outcome}, connection errors: ${f.connectionErrors}` +
      (f.aborted ? "" : `; CPU s: pgbench ${f.clientCpu.toFixed(1)}`) +
      (f.poolerCpu === undefined ? "" : `, pgbouncer ${f.poolerCpu.toFixed(1)}`) +
      (f.aborted ? "" : `, postgres ${f.serverCpu.toFixed(1)}`) +
      (f.refusal ? ` ("${f.refusal}")` : ""),
  );
}

async function main(): Promise<void> {
  let db: RenderedPostgres | undefined;
  let bouncer: PgBouncerServer | undefined;
  try {
    db = await startRenderedPostgres("dev");
    const app = db.roles.app;
    const statsPassword = generatedLikePassword();
    bouncer = await startPgBouncer({
      ini: pgbouncerIni({
        pool: db.config.pgbouncer,
        databases: [{ name: "app", host: "postgres", port: 5432 }],
        authFile: "/etc/pgbouncer-auth/userlist.txt",
        statsUsers: [STATS_USER],
      }),
      userlist: userlistTxt([
        { username: app.username, scramVerifier: app.scramVerifier },
        {
          username: STATS_USER,
          scramVerifier: scramSha256Verifier(statsPassword, scramSalt(generatedLikePassword())),
        },
      ]),
      backend: { host: db.pg.host, port: db.pg.port },
    });
    const init = await runProgram(
      "pgbench",
      ["-i", "-q", "-s", String(SCALE)],
      db.envFor("app", "app"),
    );
    if (init.code !== 0) throw new Error(`pgbench -i failed:\n${init.stderr}`);

    const { defaultPoolSize, reservePoolSize } = db.config.pgbouncer;
    const direct = db.envFor("app", "app");
    const pooled = { ...direct, PGHOST: bouncer.host, PGPORT: String(bouncer.port) };
    const directProcs: Processes = { postmaster: postmasterPid(db) };
    const pooledProcs: Processes = { ...directProcs, pooler: bouncer.pid };
    console.log(
      `PostgreSQL 15, max_connections ${db.maxConnections} (superuser_reserved ` +
        `${db.config.postgres.superuserReservedConnections}); PgBouncer 1.18, transaction pooling, ` +
        `default_pool_size ${defaultPoolSize} + reserve ${reservePoolSize}` +
        (bouncer.dropped.length ? ` (dropped for 1.18: ${bouncer.dropped.join(", ")})` : ""),
    );
    console.log(
      `pgbench scale ${SCALE}, ${SECONDS} s per run, one thread per 32 clients (at least 2), ` +
        `persistent connections, ` +
        `server, pooler and clients on this machine (${cpus().length} CPUs)`,
    );

    // The direct sweeps run first: once PgBouncer has served, its idle server connections hold
    // max_connections slots (until server_idle_timeout), exactly as they would in the cluster.
    const usable = db.maxConnections - db.config.postgres.superuserReservedConnections;
    const best = new Map<string, Figures>();
    const sweeps = new Map<string, Figures[]>();
    for (const workload of WORKLOADS) {
      const runs: Figures[] = [];
      for (const clients of [10, 25, 50, usable - 2]) {
        runs.push(
          await pgbench(
            "(c) direct, under max_connections",
            direct,
            clients,
            workload.flags,
            directProcs,
          ),
        );
      }
      sweeps.set(workload.name, runs);
      best.set(
        workload.name,
        runs.reduce((a, b) => (b.tps > a.tps ? b : a)),
      );
    }

    for (const workload of WORKLOADS) {
      console.log(`\n${workload.name}`);
      show(await pgbench("(a) direct to Postgres", direct, CLIENTS, workload.flags, directProcs));
      show(
        await pgbench(
          "(a) direct, new connection per tx (-C)",
          direct,
          CLIENTS,
          [...workload.flags, "-C"],
          directProcs,
        ),
      );
      const b = await pgbench(
        "(b) through PgBouncer",
        pooled,
        CLIENTS,
        workload.flags,
        pooledProcs,
      );
      show(b);
      show(
        await pgbench(
          "(b) through PgBouncer, new connection per tx",
          pooled,
          CLIENTS,
          [...workload.flags, "-C"],
          pooledProcs,
        ),
      );
      show(
        await pgbench(
          "(b') through PgBouncer, clients = pool size",
          pooled,
          defaultPoolSize,
          workload.flags,
          pooledProcs,
        ),
      );
      for (const run of sweeps.get(workload.name) ?? []) show(run);
      const c = best.get(workload.name) as Figures;
      console.log(
        `  (c) best direct: ${c.clients} clients, tps ${c.tps.toFixed(1)};  ` +
          `(b) / (c) = ${(b.tps / c.tps).toFixed(2)}`,
      );
      // What Postgres itself does with a CPU-second, pooled or not: on a machine where the
      // clients and the pooler have cores of their own, Postgres's cores are the limit.
      console.log(
        `  transactions per Postgres CPU-second: (b) ${transactionsPerServerCpu(b).toFixed(0)}, (c) ${transactionsPerServerCpu(c).toFixed(0)}; ` +
          `ratio ${(transactionsPerServerCpu(b) / transactionsPerServerCpu(c)).toFixed(2)}`,
      );
    }
  } finally {
    await bouncer?.stop();
    await db?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
