import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Real programs for the integration tier, built from their Go modules at the versions the image
 * catalogue pins (no prebuilt download can be fetched here) and cached outside the repository,
 * keyed by version, so only the first run on a machine pays the build.
 */

/**
 * The environment every `go` command of the test tiers runs in: the machine's own Go
 * (`GOTOOLCHAIN=local`), never a toolchain fetched on the fly. Every pinned module builds with
 * it; should one ever need a newer Go, the one allowed is named explicitly (`GOTOOLCHAIN=go1.27.3`
 * in the caller's environment, which this keeps).
 */
export function goEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? "local" };
}

/** Where built tools live: `$K3S_PLATFORM_TOOL_CACHE`, else `~/.cache/k3s-platform/go-tools`. */
export const TOOL_CACHE =
  process.env.K3S_PLATFORM_TOOL_CACHE ??
  path.join(os.homedir(), ".cache", "k3s-platform", "go-tools");

/** One tool: the module version to build and the packages whose binaries it needs. */
export interface GoToolSpec {
  /** Cache name, e.g. `prometheus`. */
  name: string;
  /** Module version, e.g. `v0.316.0`. */
  version: string;
  /**
   * Full package paths to `go install`, e.g. `github.com/prometheus/prometheus/cmd/promtool`; with
   * a `wrapper`, packages of the wrapper module to `go build`, e.g. `.`.
   */
  packages: string[];
  /**
   * A module of our own to build instead of `go install`: for programs whose module cannot be
   * installed directly (Kubernetes replaces its staging modules with directories of its own tree).
   */
  wrapper?: GoWrapperModule;
}

/** The files of a wrapper module, by file name, and how to link it. */
export interface GoWrapperModule {
  goMod: string;
  goSum: string;
  /** Go source files at the module root, by file name. */
  mainFiles: Record<string, string>;
  /** `-ldflags` for `go build`, e.g. `-X` version variables. */
  ldflags?: string;
}

/**
 * Directory that holds (or will hold) a tool's binaries; a wrapper's is keyed by a hash of its
 * files as well, so an edited wrapper rebuilds.
 */
export function toolDir(spec: GoToolSpec): string {
  const suffix = spec.wrapper ? `-${wrapperHash(spec.wrapper)}` : "";
  return path.join(TOOL_CACHE, `${spec.name}-${spec.version}${suffix}`);
}

function wrapperHash(wrapper: GoWrapperModule): string {
  const hash = createHash("sha256");
  for (const [name, text] of [
    ["go.mod", wrapper.goMod],
    ["go.sum", wrapper.goSum],
    ["ldflags", wrapper.ldflags ?? ""],
    ...Object.entries(wrapper.mainFiles).sort(([a], [b]) => a.localeCompare(b)),
  ]) {
    hash.update(`${name}\0${text}\0`);
  }
  return hash.digest("hex").slice(0, 12);
}

/** Path of one binary of a tool, by the last element of its package path. */
export function binaryPath(spec: GoToolSpec, binary: string): string {
  return path.join(toolDir(spec), binary);
}

/**
 * Builds the tool unless a complete build of that version is cached. Prints progress (what is
 * building, then the elapsed time every 30 s) because a cold build takes minutes on two cores.
 */
export async function ensureGoTool(spec: GoToolSpec): Promise<string> {
  const dir = toolDir(spec);
  const marker = path.join(dir, ".complete");
  if (fs.existsSync(marker)) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  log(
    `building ${spec.name} ${spec.version} (${spec.packages.length} package(s)) into ${dir}; cold builds take minutes`,
  );
  const heartbeat = setInterval(
    () =>
      log(
        `  still building ${spec.name} ${spec.version}: ${Math.round((Date.now() - started) / 1000)} s`,
      ),
    30_000,
  );
  try {
    await (spec.wrapper ? goBuildWrapper(spec, spec.wrapper, dir) : goInstall(spec, dir));
  } finally {
    clearInterval(heartbeat);
  }
  fs.writeFileSync(marker, new Date().toISOString() + "\n");
  log(`built ${spec.name} ${spec.version} in ${Math.round((Date.now() - started) / 1000)} s`);
  return dir;
}

function goInstall(spec: GoToolSpec, dir: string): Promise<void> {
  const targets = spec.packages.map((pkg) => `${pkg}@${spec.version}`);
  return runGo(
    ["install", ...targets],
    { GOBIN: dir },
    process.cwd(),
    `go install ${targets.join(" ")}`,
  );
}

/** Writes the wrapper module to a scratch directory and builds its packages into `dir`. */
async function goBuildWrapper(
  spec: GoToolSpec,
  wrapper: GoWrapperModule,
  dir: string,
): Promise<void> {
  const moduleDir = fs.mkdtempSync(path.join(os.tmpdir(), `go-wrapper-${spec.name}-`));
  try {
    fs.writeFileSync(path.join(moduleDir, "go.mod"), wrapper.goMod);
    fs.writeFileSync(path.join(moduleDir, "go.sum"), wrapper.goSum);
    for (const [name, text] of Object.entries(wrapper.mainFiles)) {
      fs.writeFileSync(path.join(moduleDir, name), text);
    }
    const ldflags = wrapper.ldflags ? ["-ldflags", wrapper.ldflags] : [];
    // `-o dir/` names each binary after its package, as `go install` would.
    const args = ["build", "-trimpath", ...ldflags, "-o", dir + path.sep, ...spec.packages];
    await runGo(args, {}, moduleDir, `go build (${spec.name} wrapper)`);
  } finally {
    fs.rmSync(moduleDir, { recursive: true, force: true });
  }
}

function runGo(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, {
      cwd,
      env: { ...goEnvironment(), ...env, GOFLAGS: "-buildvcs=false" },
      stdio: ["ignore", "inherit", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${what} failed (exit ${code}):\n${stderr.slice(-4000)}`)),
    );
  });
}

function log(message: string): void {
  process.stderr.write(`[go-tools] ${message}\n`);
}
