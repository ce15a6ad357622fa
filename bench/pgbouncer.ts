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
 *
 * Every figure is measured under each placement of the processes on the cores (see PLACEMENTS):
 * all sharing every core, and Postgres alone on a core as in its own pod.
 * BENCH_SECONDS (default 20) sets the length of every run; BENCH_SCALE (default 100) the scale;
 * BENCH_PLACEMENTS (default `shared,database-core`) which placements run. With the defaults a
 * run takes about 16 minutes.
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

/** 10 s runs of the same TPC-B setting varied by a third here; 20 s runs settle. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
/**
 * pgbench's documentation asks for a scale at least as large as the most clients tested, else a
 * TPC-B run mostly measures update contention on the few `pgbench_branches` rows: 100 covers the
 * direct sweep's 95 and PgBouncer's 30 server connections (at scale 10, (b)/(c) measured 0.77).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 100);
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

/**
 * CPU seconds (user + system) a process has used so far, from /proc; with `reaped`, also those of
 * its children that have ended (cutime, cstime). 0 for a process that has ended.
 */
function cpuSeconds(pid: number, reaped = false): number {
  try {
    // Fields after the parenthesised command name: utime, stime, cutime, cstime are 12th to 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    const ticks = fields.slice(11, reaped ? 15 : 13).reduce((sum, f) => sum + Number(f), 0);
    return ticks / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** The ids of a process and of every descendant it has now (none for one that has ended). */
function processTree(pid: number): number[] {
  try {
    const children = readdirSync(`/proc/${pid}/task`).flatMap((task) => {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      return text ? text.split(" ").map(Number) : [];
    });
    return [pid, ...children.flatMap(processTree)];
  } catch {
    return [];
  }
}

/**
 * CPU seconds of a process and of all its descendants so far: the live ones from /proc, the ended
 * ones from their parent's cutime/cstime (Postgres backends end when their client disconnects).
 */
function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuSeconds(p, true), 0);
}

/** The postmaster's process id, from the first line of postmaster.pid in the data directory. */
function postmasterPid(db: RenderedPostgres): number {
  return Number(readFileSync(join(db.pg.baseDir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
}

/**
 * Clients per pgbench thread: each thread scans all of its connections on every wake-up, so a
 * thousand clients on two threads spend most of the run in pgbench. Measured here at 1000 clients
 * through PgBouncer: 2 threads 2690 TPC-B tps, 8 threads 3518, 32 threads 3556 (all cores shared);
 * with pgbench confined to one core, 8 threads beat 32 (select-only 25184 vs 19648 tps).
 */
const CLIENTS_PER_THREAD = 125;

function pgbenchThreads(clients: number): number {
  return Math.max(2, Math.ceil(clients / CLIENTS_PER_THREAD));
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
  /** The CPUs pgbench runs on (a `taskset -c` list). */
  cores: string;
}

async function pgbench(
  label: string,
  env: Record<string, string>,
  clients: number,
  flags: string[],
  { postmaster, pooler: poolerPid, cores }: Processes,
): Promise<Figures> {
  const threads = String(pgbenchThreads(clients));
  const args = ["-n", "-c", String(clients), "-j", threads, "-T", String(SECONDS), ...flags];
  // bash raises the descriptor limit for a thousand sockets and reports pgbench's CPU time.
  const script =
    'ulimit -Sn "$(ulimit -Hn)"; taskset -c "$CORES" pgbench "$@"; rc=$?; times >&2; exit $rc';
  const poolerBefore = poolerPid ? cpuSeconds(poolerPid) : 0;
  const serverBefore = treeCpuSeconds(postmaster);
  const result = await runProgram("/bin/bash", ["-c", script, "bash", ...args], {
    ...env,
    CORES: cores,
  });
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

/**
 * Where the processes run. `shared`: everything on every core, as one machine runs them.
 * `database-core`: Postgres alone on the last core, as in its own pod, while pgbench and PgBouncer
 * share the others, so the pooler's and the clients' CPU is not taken from the database: the
 * figure the ratio target is about. Both (b) and (c) are measured under the same placement.
 */
const PLACEMENTS = {
  shared: { database: "all", clients: "all" },
  "database-core": { database: "last", clients: "rest" },
} as const;
type Placement = keyof typeof PLACEMENTS;

function coreList(which: "all" | "last" | "rest"): string {
  const last = cpus().length - 1;
  if (which === "all") return `0-${last}`;
  return which === "last" ? String(last) : last === 1 ? "0" : `0-${last - 1}`;
}

/** Sets the CPU affinity of running processes (new backends inherit the postmaster's). */
function pin(pids: number[], cores: string): void {
  for (const pid of pids) execFileSync("taskset", ["-a", "-p", "-c", cores, String(pid)]);
}

/** The bench's PgBouncer: our rendered pgbouncer.ini and a userlist with the app role. */
function startBouncer(db: RenderedPostgres): Promise<PgBouncerServer> {
  const app = db.roles.app;
  return startPgBouncer({
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
        scramVerifier: scramSha256Verifier(
          generatedLikePassword(),
          scramSalt(generatedLikePassword()),
        ),
      },
    ]),
    backend: { host: db.pg.host, port: db.pg.port },
  });
}

async function measure(db: RenderedPostgres, placement: Placement): Promise<void> {
  const cores = PLACEMENTS[placement];
  const clientCores = coreList(cores.clients);
  const postmaster = postmasterPid(db);
  pin(processTree(postmaster), coreList(cores.database));
  const direct = db.envFor("app", "app");
  const directProcs: Processes = { postmaster, cores: clientCores };
  console.log(
    `\n=== placement "${placement}": Postgres on CPU ${coreList(cores.database)}, ` +
      `pgbench and PgBouncer on CPU ${clientCores}`,
  );

  // The direct sweeps run before PgBouncer starts: its idle server connections would hold
  // max_connections slots (until server_idle_timeout), exactly as they would in the cluster.
  const usable = db.maxConnections - db.config.postgres.superuserReservedConnections;
  const sweeps = new Map<string, Figures[]>();
  for (const workload of WORKLOADS) {
    const runs: Figures[] = [];
    for (const clients of [2, 5, 10, 25, 50, usable - 2]) {
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
  }

  const bouncer = await startBouncer(db);
  try {
    pin([bouncer.pid], clientCores);
    if (bouncer.dropped.length > 0) console.log(`dropped for 1.18: ${bouncer.dropped.join(", ")}`);
    const pooled = { ...direct, PGHOST: bouncer.host, PGPORT: String(bouncer.port) };
    const pooledProcs: Processes = { ...directProcs, pooler: bouncer.pid };
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
          db.config.pgbouncer.defaultPoolSize,
          workload.flags,
          pooledProcs,
        ),
      );
      const runs = sweeps.get(workload.name) ?? [];
      for (const run of runs) show(run);
      const c = runs.reduce((a, b) => (b.tps > a.tps ? b : a));
      console.log(
        `  (c) best direct: ${c.clients} clients, tps ${c.tps.toFixed(1)};  ` +
          `(b) / (c) = ${(b.tps / c.tps).toFixed(2)}`,
      );
      console.log(
        `  transactions per Postgres CPU-second: (b) ${transactionsPerServerCpu(b).toFixed(0)}, ` +
          `(c) ${transactionsPerServerCpu(c).toFixed(0)}; ratio ` +
          `${(transactionsPerServerCpu(b) / transactionsPerServerCpu(c)).toFixed(2)}`,
      );
    }
  } finally {
    await bouncer.stop();
  }
}

async function main(): Promise<void> {
  const placements = (process.env.BENCH_PLACEMENTS ?? "shared,database-core").split(",");
  const unknown = placements.filter((p) => !(p in PLACEMENTS));
  if (unknown.length > 0) {
    throw new Error(
      `BENCH_PLACEMENTS: unknown ${unknown.join(", ")}; use ${Object.keys(PLACEMENTS).join(", ")}`,
    );
  }
  if (cpus().length < 2) throw new Error("the database-core placement needs at least 2 CPUs");
  let db: RenderedPostgres | undefined;
  try {
    db = await startRenderedPostgres("dev");
    const init = await runProgram(
      "pgbench",
      ["-i", "-q", "-s", String(SCALE)],
      db.envFor("app", "app"),
    );
    if (init.code !== 0) throw new Error(`pgbench -i failed:\n${init.stderr}`);
    const { defaultPoolSize, reservePoolSize } = db.config.pgbouncer;
    console.log(
      `PostgreSQL 15, max_connections ${db.maxConnections} (superuser_reserved ` +
        `${db.config.postgres.superuserReservedConnections}); PgBouncer 1.18, transaction pooling, ` +
        `default_pool_size ${defaultPoolSize} + reserve ${reservePoolSize}; pgbench scale ${SCALE}, ${SECONDS} s per run, one thread per ` +
        `${CLIENTS_PER_THREAD} clients (at least 2), persistent connections; ${cpus().length} CPUs`,
    );
    for (const placement of placements as Placement[]) await measure(db, placement);
  } finally {
    await db?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
