import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Real programs for the integration tier, built from their Go modules at the versions the image
 * catalogue pins (no prebuilt download can be fetched here) and cached outside the repository,
 * keyed by version, so only the first run on a machine pays the build.
 */

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
  /** Full package paths to `go install`, e.g. `github.com/prometheus/prometheus/cmd/promtool`. */
  packages: string[];
}

/** Directory that holds (or will hold) a tool's binaries. */
export function toolDir(spec: GoToolSpec): string {
  return path.join(TOOL_CACHE, `${spec.name}-${spec.version}`);
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
    await goInstall(spec, dir);
  } finally {
    clearInterval(heartbeat);
  }
  fs.writeFileSync(marker, new Date().toISOString() + "\n");
  log(`built ${spec.name} ${spec.version} in ${Math.round((Date.now() - started) / 1000)} s`);
  return dir;
}

function goInstall(spec: GoToolSpec, dir: string): Promise<void> {
  const targets = spec.packages.map((pkg) => `${pkg}@${spec.version}`);
  return new Promise((resolve, reject) => {
    const child = spawn("go", ["install", ...targets], {
      // GOTOOLCHAIN=auto: a module may need a newer Go, which the module proxy serves.
      env: {
        ...process.env,
        GOBIN: dir,
        GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? "auto",
        GOFLAGS: "-buildvcs=false",
      },
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
        : reject(
            new Error(
              `go install ${targets.join(" ")} failed (exit ${code}):\n${stderr.slice(-4000)}`,
            ),
          ),
    );
  });
}

function log(message: string): void {
  process.stderr.write(`[go-tools] ${message}\n`);
}
