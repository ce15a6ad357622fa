/**
 * A throwaway PgBouncer for integration tests, reading the `pgbouncer.ini` and `userlist.txt` our
 * component renders, with only what loopback needs rewritten: the listen address and port, the
 * auth_file path, and the host and port of every database.
 *
 *   const bouncer = await startPgBouncer({ ini, userlist, backend: { host, port } });
 *   afterAll(() => bouncer.stop());
 *
 * Debian ships PgBouncer 1.18, older than the image we deploy: settings it does not know (e.g.
 * `max_prepared_statements`, 1.21+) make it refuse the whole file, so they are dropped, one at a
 * time, exactly as PgBouncer names them, and listed in `dropped`. PgBouncer refuses to run as
 * root, so under root it runs as the `postgres` OS user; its file-descriptor limit is raised to
 * the hard limit, since a thousand clients need a thousand sockets.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  chownSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited, freePort, stopServer } from "./process";

/** Debian's PgBouncer; PGBOUNCER_BIN overrides it. */
export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? "/usr/sbin/pgbouncer";

const HOST = "127.0.0.1";
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface StartPgBouncerOptions {
  /** The rendered pgbouncer.ini. */
  ini: string;
  /** The rendered userlist.txt. */
  userlist: string;
  /** Where the databases really are (replaces each `host=… port=…` in `[databases]`). */
  backend: { host: string; port: number };
  /** How long to wait for PgBouncer to accept connections. @default 10_000 ms */
  startTimeoutMs?: number;
}

export interface PgBouncerServer {
  host: string;
  port: number;
  /** Process id of PgBouncer (for CPU accounting in benchmarks). */
  pid: number;
  /** Settings of the rendered file that this PgBouncer did not know and that were dropped. */
  dropped: string[];
  /** The pgbouncer.ini it actually runs with. */
  ini: string;
  /** Everything PgBouncer logged so far. */
  log(): string;
  /** Immediate shutdown, then removal of the scratch folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Replaces `key = …` in `[section]`, or appends it there. */
export function setIniValue(ini: string, section: string, key: string, value: string): string {
  const lines = ini.split("\n");
  let current = "";
  let sectionEnd = -1;
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(lines[i]);
    if (header) current = header[1];
    if (current !== section) continue;
    sectionEnd = i;
    if (new RegExp(`^\\s*${key}\\s*=`).test(lines[i])) {
      lines[i] = `${key} = ${value}`;
      return lines.join("\n");
    }
  }
  if (sectionEnd < 0) throw new Error(`no [${section}] section`);
  lines.splice(sectionEnd + 1, 0, `${key} = ${value}`);
  return lines.join("\n");
}

/** Removes `key = …` from `[section]`. */
export function dropIniValue(ini: string, section: string, key: string): string {
  let current = "";
  return ini
    .split("\n")
    .filter((line) => {
      const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
      if (header) current = header[1];
      return !(current === section && new RegExp(`^\\s*${key}\\s*=`).test(line));
    })
    .join("\n");
}

/** Points every database of `[databases]` at the backend. */
function rewriteDatabases(ini: string, backend: { host: string; port: number }): string {
  let current = "";
  return ini
    .split("\n")
    .map((line) => {
      const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
      if (header) current = header[1];
      if (current !== "databases" || header) return line;
      return line
        .replace(/\bhost=\S+/, `host=${backend.host}`)
        .replace(/\bport=\S+/, `port=${backend.port}`);
    })
    .join("\n");
}

/**
 * After a PgBouncer exited during startup, returns when starting it again can help: its ini holds
 * a setting this release does not know (then added to `dropped`, to leave out), or its port was
 * taken meanwhile (up to 3 attempts). Throws with its log otherwise.
 */
export function retryAfterFailedStart(output: string, dropped: string[], attempt: number): void {
  const unknown = /unknown parameter: pgbouncer\/(\w+)/.exec(output);
  if (unknown && !dropped.includes(unknown[1])) {
    dropped.push(unknown[1]);
    return;
  }
  if (/Address already in use/.test(output) && attempt < 3) return;
  throw new Error(`pgbouncer exited during startup:\n${output}`);
}

/** The `postgres` user to run PgBouncer as when the tests run as root (it refuses root). */
export function osUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  return { uid: id("-u"), gid: id("-g") };
}

/** Whether something accepts TCP connections on the loopback port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  // SIGTERM is 1.18's immediate shutdown (1.23+ made it a "super safe" one; SIGKILL follows).
  await stopServer(child, "SIGTERM", 5_000);
  live.delete(child);
}

/** Starts PgBouncer on a free loopback port; the caller owns it and must `stop()` it. */
export async function startPgBouncer(opts: StartPgBouncerOptions): Promise<PgBouncerServer> {
  const user = osUser();
  const dir = mkdtempSync(join(tmpdir(), "pgbouncer-test-"));
  if (user) chownSync(dir, user.uid, user.gid);
  const authFile = join(dir, "userlist.txt");
  writeFileSync(authFile, opts.userlist, { mode: 0o600 });
  if (user) chownSync(authFile, user.uid, user.gid);
  const iniFile = join(dir, "pgbouncer.ini");
  const logFile = join(dir, "pgbouncer.log");
  const dropped: string[] = [];
  let child: ChildProcess | undefined;

  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      let ini = rewriteDatabases(opts.ini, opts.backend);
      ini = setIniValue(ini, "pgbouncer", "listen_addr", HOST);
      ini = setIniValue(ini, "pgbouncer", "listen_port", String(port));
      ini = setIniValue(ini, "pgbouncer", "auth_file", authFile);
      for (const key of dropped) ini = dropIniValue(ini, "pgbouncer", key);
      writeFileSync(iniFile, ini, { mode: 0o644 });

      const log = openSync(logFile, "w");
      try {
        // The soft limit goes up to the hard one before PgBouncer starts (it cannot do it itself).
        child = spawn(
          "bash",
          ["-c", 'ulimit -Sn "$(ulimit -Hn)"; exec "$0" "$1"', PGBOUNCER_BIN, iniFile],
          {
            stdio: ["ignore", log, log],
            ...(user ?? {}),
          },
        );
      } finally {
        closeSync(log);
      }
      live.add(child);
      const running = child;
      running.once("exit", () => live.delete(running));

      const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
      while (!exited(running) && !(await accepts(port))) {
        if (Date.now() > deadline)
          throw new Error(`pgbouncer not listening:\n${readFileSync(logFile, "utf8")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      if (!exited(running)) {
        const server: PgBouncerServer = {
          host: HOST,
          port,
          pid: running.pid ?? -1,
          dropped,
          ini,
          log: () => readFileSync(logFile, "utf8"),
          stop: (() => {
            let stopped: Promise<void> | undefined;
            return () => {
              stopped ??= kill(running).finally(() =>
                rmSync(dir, { recursive: true, force: true }),
              );
              return stopped;
            };
          })(),
        };
        return server;
      }
      retryAfterFailedStart(readFileSync(logFile, "utf8"), dropped, attempt);
    }
  } catch (error) {
    if (child && !exited(child)) await kill(child);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
