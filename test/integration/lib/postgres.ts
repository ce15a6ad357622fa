/**
 * Throwaway PostgreSQL servers for integration tests: initdb in a temp folder, loopback only, a
 * free port, no durability (fsync off: the data dies with the test anyway).
 *
 *   const pg = await startPostgres();
 *   afterAll(() => pg.stop());
 *   await pg.psql("CREATE TABLE t (id int)");
 *
 * The server runs as the `postgres` OS user when the tests run as root (initdb and postgres
 * refuse root). Every server started here is also killed when the test process exits, so a
 * crashed suite leaves no server behind; `stop()` is still what a test should call.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  chownSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, stopServer } from "./process";

export interface StartPostgresOptions {
  /** `max_connections`. @default 100 (PostgreSQL's own default) */
  maxConnections?: number;
  /** Superuser created by initdb. @default "postgres" */
  superuser?: string;
  /**
   * Superuser password. When set, TCP connections need it (scram-sha-256), as in production;
   * when unset, loopback connections are trusted.
   */
  password?: string;
  /** Further server settings, passed as `-c key=value`. */
  settings?: Record<string, string | number | boolean>;
  /** How long to wait for the server to accept connections. @default 30_000 ms */
  startTimeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface PostgresServer {
  host: string;
  port: number;
  superuser: string;
  password: string | undefined;
  /** The data directory's parent: the server's scratch space, removed by `stop()`. */
  baseDir: string;
  /** A `postgres://` URL for one database. @default db "postgres" */
  url(db?: string): string;
  /** libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) for client programs. */
  env(db?: string): Record<string, string>;
  /** Runs SQL through psql (stop on first error) and returns its unaligned, tuples-only output. */
  psql(sql: string, db?: string): Promise<string>;
  /** Runs a PostgreSQL client program (psql, pg_dump, pgbench, ...) against a database. */
  exec(program: string, args: readonly string[], db?: string): Promise<ExecResult>;
  /** Creates a database, optionally owned by a role. */
  createDatabase(name: string, owner?: string): Promise<void>;
  /** Fast shutdown, then removal of the scratch folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The PostgreSQL major the integration tier runs: Debian's `postgresql-15`, which
 * tools/install-debian-packages.sh installs. The catalogue's image must be of this major.
 */
export const PG_MAJOR = 15;

/** Where PostgreSQL's programs live; PG_BIN overrides the Debian layout. */
export const PG_BIN = process.env.PG_BIN ?? `/usr/lib/postgresql/${PG_MAJOR}/bin`;

const HOST = "127.0.0.1";
/** Running servers and their scratch folders, for the exit-time safety net. */
const live = new Map<ChildProcess, string>();

// process "exit" handlers must be synchronous: SIGQUIT is PostgreSQL's immediate shutdown.
process.once("exit", () => {
  for (const [child, baseDir] of live) {
    child.kill("SIGQUIT");
    rmSync(baseDir, { recursive: true, force: true });
  }
});

/** An OS account to run a process as. */
export interface OsUser {
  uid: number;
  gid: number;
}

/** The account the server runs as: `postgres` when we are root, else ourselves. */
export function serverUser(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => {
    const r = spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
    if (r.status !== 0)
      throw new Error("running as root needs an OS user `postgres` for the server");
    return Number(r.stdout.trim());
  };
  return { uid: id("-u"), gid: id("-g") };
}

function run(
  command: string,
  args: readonly string[],
  opts: { env?: Record<string, string>; input?: string; user?: OsUser } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
      ...(opts.user ?? {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else {
        const how = signal ? `signal ${signal}` : `exit ${code}`;
        reject(new Error(`${command} ${args.join(" ")} failed (${how}):\n${stderr || stdout}`));
      }
    });
    child.stdin.end(opts.input ?? "");
  });
}

async function initCluster(dataDir: string, opts: StartPostgresOptions, user?: OsUser) {
  const args = ["-D", dataDir, "-U", opts.superuser ?? "postgres", "--encoding=UTF8"];
  // C locale: sort order and collations do not depend on the machine's locales.
  args.push("--locale=C", "--no-sync", "--auth-local=trust");
  if (opts.password === undefined) args.push("--auth-host=trust");
  else {
    const pwfile = join(dataDir, "..", "pwfile");
    writeFileSync(pwfile, `${opts.password}\n`, { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    args.push("--auth-host=scram-sha-256", `--pwfile=${pwfile}`);
  }
  await run(join(PG_BIN, "initdb"), args, { user });
}

function serverArgs(dataDir: string, port: number, opts: StartPostgresOptions): string[] {
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: HOST,
    port,
    unix_socket_directories: join(dataDir, ".."),
    max_connections: opts.maxConnections ?? 100,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    ...opts.settings,
  };
  const args = ["-D", dataDir];
  for (const [key, value] of Object.entries(settings)) args.push("-c", `${key}=${value}`);
  return args;
}

async function shutdown(child: ChildProcess): Promise<void> {
  // SIGINT is PostgreSQL's fast shutdown (roll back sessions, exit cleanly); escalate if stuck.
  await stopServer(child, "SIGINT", 10_000);
  live.delete(child);
}

async function waitUntilReady(
  child: ChildProcess,
  port: number,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited during startup:\n${readFileSync(logFile, "utf8")}`);
    }
    const probe = spawnSync(join(PG_BIN, "pg_isready"), ["-h", HOST, "-p", String(port)]);
    if (probe.status === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `postgres not ready after ${timeoutMs} ms:\n${readFileSync(logFile, "utf8")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function launch(
  baseDir: string,
  port: number,
  opts: StartPostgresOptions,
  user?: OsUser,
): ChildProcess {
  const dataDir = join(baseDir, "data");
  const log = openSync(join(baseDir, "postgres.log"), "w");
  try {
    const child = spawn(join(PG_BIN, "postgres"), serverArgs(dataDir, port, opts), {
      stdio: ["ignore", log, log],
      ...(user ?? {}),
    });
    live.set(child, baseDir);
    child.once("exit", () => live.delete(child));
    return child;
  } finally {
    closeSync(log);
  }
}

function clientEnv(port: number, opts: StartPostgresOptions, db: string): Record<string, string> {
  return {
    PGHOST: HOST,
    PGPORT: String(port),
    PGUSER: opts.superuser ?? "postgres",
    PGDATABASE: db,
    ...(opts.password === undefined ? {} : { PGPASSWORD: opts.password }),
  };
}

function clientUrl(port: number, opts: StartPostgresOptions, db: string): string {
  const user = opts.superuser ?? "postgres";
  const auth = opts.password === undefined ? user : `${user}:${encodeURIComponent(opts.password)}`;
  return `postgres://${auth}@${HOST}:${port}/${encodeURIComponent(db)}?sslmode=disable`;
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

function handle(
  baseDir: string,
  port: number,
  child: ChildProcess,
  opts: StartPostgresOptions,
): PostgresServer {
  const env = (db = "postgres") => clientEnv(port, opts, db);
  const psql = async (sql: string, db?: string) => {
    const args = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"];
    const { stdout } = await run(join(PG_BIN, "psql"), args, { env: env(db), input: sql });
    return stdout.trim();
  };
  let stopped: Promise<void> | undefined;
  return {
    host: HOST,
    port,
    superuser: opts.superuser ?? "postgres",
    password: opts.password,
    baseDir,
    env,
    psql,
    url: (db = "postgres") => clientUrl(port, opts, db),
    exec: (program, args, db) => run(join(PG_BIN, program), args, { env: env(db) }),
    createDatabase: async (name, owner) => {
      const ownerClause = owner === undefined ? "" : ` OWNER ${quoteIdent(owner)}`;
      await psql(`CREATE DATABASE ${quoteIdent(name)}${ownerClause};`);
    },
    stop: () => {
      stopped ??= shutdown(child).finally(() => rmSync(baseDir, { recursive: true, force: true }));
      return stopped;
    },
  };
}

/** Starts a fresh PostgreSQL server; the caller owns it and must `stop()` it. */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const user = serverUser();
  const baseDir = mkdtempSync(join(tmpdir(), "pg-test-"));
  if (user) chownSync(baseDir, user.uid, user.gid);
  const dataDir = join(baseDir, "data");
  const logFile = join(baseDir, "postgres.log");
  let child: ChildProcess | undefined;
  try {
    await initCluster(dataDir, opts, user);
    // A port found free can be taken before postgres binds it: retry with another one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      child = launch(baseDir, port, opts, user);
      try {
        await waitUntilReady(child, port, logFile, opts.startTimeoutMs ?? 30_000);
        return handle(baseDir, port, child, opts);
      } catch (err) {
        await shutdown(child);
        const portTaken = /could not bind|Address already in use/.test(
          readFileSync(logFile, "utf8"),
        );
        if (!portTaken || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    if (child) await shutdown(child);
    rmSync(baseDir, { recursive: true, force: true });
    throw err;
  }
}
