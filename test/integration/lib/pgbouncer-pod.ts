/**
 * PgBouncer started the way its pod starts it: the container's rendered `command` (the `sh`
 * entrypoint that turns SIGTERM into SIGINT), with only the binary and the ini path swapped for
 * loopback ones, so a test can signal it as the kubelet does.
 *
 *   const pod = await startPgBouncerPod({ command, ini, userlist });
 *   pod.terminate();                   // the kubelet's SIGTERM, after the preStop
 *   await pod.exited(30_000);
 *   afterAll(() => pod.stop());
 *
 * The ini is used as given, but for its listen address and port, its auth_file, and the settings
 * Debian's older PgBouncer does not know, which are dropped one at a time as PgBouncer names them
 * (see `./pgbouncer.ts`). Under root the pod runs as the `postgres` OS user (PgBouncer refuses
 * root). The entrypoint leads its own process group, so `stop()` takes PgBouncer down with it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chownSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  accepts,
  dropIniValue,
  osUser,
  PGBOUNCER_BIN,
  retryAfterFailedStart,
  setIniValue,
} from "./pgbouncer";
import { exited, freePort, waitForExit } from "./process";

const HOST = "127.0.0.1";
const groups = new Set<number>();
process.once("exit", () => {
  for (const pgid of groups) killGroup(pgid);
});

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

export interface StartPgBouncerPodOptions {
  /** The container's rendered command: `[sh, -c, script, $0, binary, ini]`. */
  command: readonly string[];
  /** The pgbouncer.ini to run, its databases already pointing at loopback. */
  ini: string;
  /** The rendered userlist.txt. */
  userlist: string;
  /** How long to wait for PgBouncer to accept connections. @default 10_000 ms */
  startTimeoutMs?: number;
}

export interface PgBouncerPod {
  host: string;
  port: number;
  /** Settings of the ini that this PgBouncer did not know and that were dropped. */
  dropped: string[];
  /** Sends the entrypoint (the container's PID 1) SIGTERM, as the kubelet does after the preStop. */
  terminate(): void;
  /** Resolves the entrypoint's exit code once it exits, or undefined if still running after `ms`. */
  exited(ms: number): Promise<number | null | undefined>;
  /** Whether the entrypoint is still running. */
  running(): boolean;
  /** Everything PgBouncer logged so far. */
  log(): string;
  /** SIGKILL to the whole process group (the kubelet's end of the grace period), then cleanup. */
  stop(): Promise<void>;
}

/** The rendered command with the image's binary and ini path replaced by these. */
function localCommand(command: readonly string[], iniFile: string): string[] {
  const [shell, flag, script, name] = command;
  if (flag !== "-c" || command.length !== 6) {
    throw new Error(`expected [sh, -c, script, name, binary, ini], got ${JSON.stringify(command)}`);
  }
  // The image's busybox sh is /bin/sh; Debian's is dash: both POSIX for this script.
  return [shell, flag, script, name, PGBOUNCER_BIN, iniFile];
}

interface Launch {
  child: ChildProcess;
  port: number;
  logFile: string;
}

/** One start attempt; the caller reads the log when it exits during startup. */
async function launch(
  opts: StartPgBouncerPodOptions,
  dir: string,
  dropped: string[],
  user: { uid: number; gid: number } | undefined,
): Promise<Launch> {
  const port = await freePort();
  const authFile = join(dir, "userlist.txt");
  let ini = setIniValue(opts.ini, "pgbouncer", "listen_addr", HOST);
  ini = setIniValue(ini, "pgbouncer", "listen_port", String(port));
  ini = setIniValue(ini, "pgbouncer", "auth_file", authFile);
  for (const key of dropped) ini = dropIniValue(ini, "pgbouncer", key);
  const iniFile = join(dir, "pgbouncer.ini");
  writeFileSync(iniFile, ini, { mode: 0o644 });
  const logFile = join(dir, "pgbouncer.log");
  const log = openSync(logFile, "w");
  let child: ChildProcess;
  try {
    const [command, ...args] = localCommand(opts.command, iniFile);
    child = spawn(command, args, { stdio: ["ignore", log, log], detached: true, ...(user ?? {}) });
  } finally {
    closeSync(log);
  }
  if (child.pid !== undefined) groups.add(child.pid);
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  while (!exited(child) && !(await accepts(port))) {
    if (Date.now() > deadline) {
      if (child.pid !== undefined) killGroup(child.pid);
      throw new Error(`pgbouncer not listening:\n${readFileSync(logFile, "utf8")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, logFile };
}

function podOf(started: Launch, dir: string, dropped: string[]): PgBouncerPod {
  const { child, port, logFile } = started;
  const pgid = child.pid ?? -1;
  let stopped: Promise<void> | undefined;
  return {
    host: HOST,
    port,
    dropped,
    terminate: () => child.kill("SIGTERM"),
    exited: async (ms) => ((await waitForExit(child, ms)) ? child.exitCode : undefined),
    running: () => !exited(child),
    log: () => readFileSync(logFile, "utf8"),
    stop: () =>
      (stopped ??= (async () => {
        killGroup(pgid);
        await waitForExit(child, 5_000);
        groups.delete(pgid);
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** Starts the pod's entrypoint on a free loopback port; the caller owns it and must `stop()` it. */
export async function startPgBouncerPod(opts: StartPgBouncerPodOptions): Promise<PgBouncerPod> {
  const user = osUser();
  const dir = mkdtempSync(join(tmpdir(), "pgbouncer-pod-"));
  if (user) chownSync(dir, user.uid, user.gid);
  const authFile = join(dir, "userlist.txt");
  writeFileSync(authFile, opts.userlist, { mode: 0o600 });
  if (user) chownSync(authFile, user.uid, user.gid);
  const dropped: string[] = [];
  try {
    for (let attempt = 1; ; attempt++) {
      const started = await launch(opts, dir, dropped, user);
      if (!exited(started.child)) return podOf(started, dir, dropped);
      if (started.child.pid !== undefined) groups.delete(started.child.pid);
      retryAfterFailedStart(readFileSync(started.logFile, "utf8"), dropped, attempt);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** `pgbouncer -V`'s first line for the binary the pods here run. */
export function pgbouncerVersion(): string {
  return spawnSync(PGBOUNCER_BIN, ["-V"], { encoding: "utf8" }).stdout.split("\n")[0].trim();
}
