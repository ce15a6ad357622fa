/**
 * Patroni members on this machine: Patroni from PyPI at a pinned release in a virtualenv, run as
 * the member pods run it (`patroni <config file>`, each member's name, address and passwords in
 * its `PATRONI_*` environment), with Debian's PostgreSQL 15 and a real kube-apiserver as the DCS.
 *
 *   const bin = await ensurePatroni();
 *   const member = await startPatroniMember({ bin, name, config, env, dir });
 *   member.crash();                    // kill -9 Patroni and its PostgreSQL, as a lost node
 *   afterAll(() => member.stop());
 *
 * The venv lives in `~/.cache/k3s-platform/patroni-<version>`. PostgreSQL refuses to run as root,
 * so under root the members run as the `postgres` OS user, which cannot read root's home: the
 * venv then goes to `/var/tmp/k3s-platform/` instead, made from the system's `/usr/bin/python3`
 * (a pyenv interpreter under root's home would be out of its reach too).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { osUser } from "./pgbouncer";
import { exited, waitForExit } from "./process";

/** The Patroni release the tests run (the image's is 4.0.4, the same major). */
export const PATRONI_VERSION = "4.1.5";
/** Patroni's PostgreSQL driver, with its own libpq (`[binary]`). */
const PSYCOPG_VERSION = "3.3.9";

const AS_ROOT = process.getuid?.() === 0;
const VENV = join(
  AS_ROOT ? "/var/tmp/k3s-platform" : join(homedir(), ".cache", "k3s-platform"),
  `patroni-${PATRONI_VERSION}-psycopg-${PSYCOPG_VERSION}`,
);
const PYTHON = AS_ROOT && existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** Every member started and not yet stopped, for the exit-time safety net. */
const live = new Set<PatroniMember>();
process.once("exit", () => {
  for (const member of live) member.crash();
});

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { timeout: 600_000, maxBuffer: 8 * 1024 * 1024 }, (error, out, err) =>
      error
        ? reject(new Error(`${command} ${args.join(" ")}: ${error.message}\n${err}`))
        : resolve(out),
    ),
  );
}

/** The `patroni` program of the pinned release, installed into the venv on first use. */
export async function ensurePatroni(): Promise<string> {
  const bin = join(VENV, "bin", "patroni");
  const marker = join(VENV, ".complete");
  if (existsSync(marker)) return bin;
  mkdirSync(VENV, { recursive: true });
  await run(PYTHON, ["-m", "venv", VENV]);
  await run(join(VENV, "bin", "pip"), [
    "install",
    "--quiet",
    "--disable-pip-version-check",
    `patroni[kubernetes]==${PATRONI_VERSION}`,
    `psycopg[binary]==${PSYCOPG_VERSION}`,
  ]);
  const version = (await run(bin, ["--version"])).trim();
  if (version !== `patroni ${PATRONI_VERSION}`) {
    throw new Error(`${bin} reports "${version}", not patroni ${PATRONI_VERSION}`);
  }
  writeFileSync(marker, `${version}\n`);
  return bin;
}

export interface StartMemberOptions {
  /** The `patroni` program ({@link ensurePatroni}). */
  bin: string;
  /** Member name (the pod's name): Patroni patches the Pod of that name. */
  name: string;
  /** The Patroni config file's text. */
  config: string;
  /** The member's `PATRONI_*` environment and `KUBECONFIG`. */
  env: Record<string, string>;
  /** The member's folder (its data dir, socket and log go here); made and owned for the server. */
  dir: string;
}

export interface PatroniMember {
  name: string;
  /** Everything Patroni and PostgreSQL logged so far. */
  log(): string;
  /** kill -9 of Patroni, its postmaster and the postmaster's children, at once. */
  crash(): void;
  /** Starts Patroni again on the same folder (after {@link crash}). */
  restart(): void;
  /** Graceful stop (SIGINT to Patroni, which stops PostgreSQL), then kill -9 of what is left. */
  stop(): Promise<void>;
}

/** Starts one member; it bootstraps, joins or rejoins by itself, as a pod does. */
export function startPatroniMember(opts: StartMemberOptions): PatroniMember {
  const user = osUser();
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const configFile = join(opts.dir, "patroni.yml");
  writeFileSync(configFile, opts.config, { mode: 0o600 });
  if (user) {
    chownSync(opts.dir, user.uid, user.gid);
    chownSync(configFile, user.uid, user.gid);
  }
  const logFile = join(opts.dir, "patroni.log");
  let child: ChildProcess | undefined;
  const start = () => {
    const log = openSync(logFile, "a");
    child = spawn(opts.bin, [configFile], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8", ...opts.env },
      stdio: ["ignore", log, log],
      cwd: opts.dir,
      ...(user ?? {}),
    });
    closeSync(log);
    // A failed start (a missing program) shows in the member's log, not as an uncaught error.
    child.once("error", (error) => writeFileSync(logFile, `${error.message}\n`, { flag: "a" }));
  };
  const postmasterPid = (): number | undefined => {
    const dataDir = /^\s*data_dir:\s*(\S+)/m.exec(opts.config)?.[1];
    const file = dataDir && join(dataDir, "postmaster.pid");
    if (!file || !existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  };
  const kill9 = (pid: number | undefined) => {
    if (pid === undefined) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  const member: PatroniMember = {
    name: opts.name,
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    crash: () => {
      const postmaster = postmasterPid();
      // The postmaster's children first, by their parent's id, so none outlives it.
      if (postmaster !== undefined) spawnSync("pkill", ["-KILL", "-P", String(postmaster)]);
      kill9(postmaster);
      kill9(child?.pid);
    },
    restart: () => {
      if (child && !exited(child)) throw new Error(`${opts.name} is still running`);
      start();
    },
    stop: async () => {
      live.delete(member);
      if (child && !exited(child)) {
        child.kill("SIGINT");
        if (!(await waitForExit(child, 20_000))) member.crash();
      }
      member.crash();
    },
  };
  start();
  live.add(member);
  return member;
}
