/**
 * Atlas's own engine (ariga.io/atlas `sql/migrate`, `sql/postgres`) as a program the tests run:
 * `test/integration/atlas/` is a small Go module of ours around it, built once into the tool
 * cache (see `atlasEngineTool`), because the Atlas CLI module is not served by the Go proxy.
 *
 *   const atlas = await atlasEngine();
 *   await atlas.validate(dir);          // { ok, message }: migrate.Validate
 *   await atlas.apply(dir, pg.url("app")); // versions applied by migrate.Executor
 */
import { spawn } from "node:child_process";
import { binaryPath, ensureGoTool } from "./go-tools";
import { atlasEngineTool } from "./test-tools";

export interface AtlasValidation {
  ok: boolean;
  /** What Atlas printed: "valid", or its error (e.g. "checksum mismatch: <file> was edited …"). */
  message: string;
}

export interface AtlasEngine {
  /** The built binary. */
  path: string;
  /** `migrate.Validate` on a migration directory. */
  validate(dir: string): Promise<AtlasValidation>;
  /** The `atlas.sum` text Atlas computes for a directory (`migrate.NewHashFile`). */
  hash(dir: string): Promise<string>;
  /** The statements Atlas's Postgres scanner splits a file into, as the Executor runs them. */
  split(file: string): Promise<string[]>;
  /** Applies the pending files of `dir` like `atlas migrate apply`; returns their versions. */
  apply(dir: string, url: string): Promise<string[]>;
  /** Takes Atlas's session advisory lock as its Postgres driver does, and holds it. */
  lock(url: string, name?: string): Promise<HeldLock>;
}

/** One `atlas-engine lock` process: what it got, and how to let go. */
export interface HeldLock {
  /** "acquired", or "refused" when another session holds the lock. */
  verdict: "acquired" | "refused";
  /** Unlocks (when acquired) and waits for the process to end. */
  release(): Promise<void>;
}

/** The lock `atlas migrate apply` takes. */
export const ATLAS_LOCK = "atlas_migrate_execute";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(binary: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(binary: string, args: readonly string[]): Promise<string> {
  const r = await run(binary, args);
  if (r.code !== 0) throw new Error(`atlas-engine ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Builds the engine unless cached (seconds; minutes on a cold module cache) and wraps it. */
export async function atlasEngine(): Promise<AtlasEngine> {
  const spec = atlasEngineTool();
  await ensureGoTool(spec);
  const path = binaryPath(spec, "atlas-engine");
  return {
    path,
    validate: async (dir) => {
      const r = await run(path, ["validate", dir]);
      if (r.code !== 0 && r.code !== 1) throw new Error(`atlas-engine validate: ${r.stderr}`);
      const message = (r.code === 0 ? r.stdout : r.stderr).trim().replace(/^atlas-engine: /, "");
      return { ok: r.code === 0, message };
    },
    hash: (dir) => ok(path, ["hash", dir]),
    split: async (file) => JSON.parse(await ok(path, ["split", file])) as string[],
    apply: async (dir, url) =>
      (JSON.parse(await ok(path, ["apply", dir, url])) as { applied: string[] }).applied,
    lock: (url, name = ATLAS_LOCK) => holdLock(path, url, name),
  };
}

function holdLock(binary: string, url: string, name: string): Promise<HeldLock> {
  // The process holds the lock until its stdin closes.
  const child = spawn(binary, ["lock", url, name], { stdio: ["pipe", "pipe", "pipe"] });
  // A "refused" process exits at once; closing its stdin afterwards may fail with EPIPE.
  child.stdin.on("error", () => undefined);
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  const release = async () => {
    child.stdin.end();
    const code = await exited;
    if (code !== 0) throw new Error(`atlas-engine lock: exit ${code}: ${stderr.trim()}`);
  };
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const line = stdout.split("\n")[0];
      if (line === "acquired" || line === "refused") resolve({ verdict: line, release });
    });
    void exited.then((code) =>
      reject(new Error(`atlas-engine lock ended (exit ${code}) before a verdict: ${stderr}`)),
    );
  });
}
