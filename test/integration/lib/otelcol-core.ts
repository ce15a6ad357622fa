import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { binaryPath, ensureGoTool, goEnvironment, TOOL_CACHE } from "./go-tools";
import { collectorBuilderManifest, type CollectorDistributionSpec } from "./test-tools";

/**
 * Builds a collector distribution with the collector builder, cached like the Go tools (outside
 * the repository, keyed by version), so only the first run on a machine pays the build.
 */

/** Directory that holds (or will hold) the distribution's binary. */
export function collectorDir(spec: CollectorDistributionSpec): string {
  return path.join(TOOL_CACHE, `${spec.name}-${spec.version}`);
}

/** Path of the distribution's binary. */
export function collectorBinary(spec: CollectorDistributionSpec): string {
  return path.join(collectorDir(spec), spec.name);
}

/** Builds the builder, then the distribution, unless a complete build is cached; returns the binary. */
export async function ensureCollector(spec: CollectorDistributionSpec): Promise<string> {
  const dir = collectorDir(spec);
  const marker = path.join(dir, ".complete");
  if (fs.existsSync(marker)) return collectorBinary(spec);
  await ensureGoTool(spec.builder);
  const sources = path.join(dir, "build");
  fs.rmSync(sources, { recursive: true, force: true });
  fs.mkdirSync(sources, { recursive: true });
  // The manifest is kept next to the binary: it is the exact recipe this binary was built from.
  const manifest = path.join(dir, "builder.yaml");
  fs.writeFileSync(manifest, collectorBuilderManifest(spec, sources));
  const started = Date.now();
  log(`building ${spec.name} ${spec.version} with the collector builder into ${dir}`);
  const heartbeat = setInterval(
    () => log(`  still building ${spec.name}: ${Math.round((Date.now() - started) / 1000)} s`),
    30_000,
  );
  try {
    await run(binaryPath(spec.builder, "builder"), ["--config", manifest]);
  } finally {
    clearInterval(heartbeat);
  }
  fs.copyFileSync(path.join(sources, spec.name), collectorBinary(spec));
  fs.chmodSync(collectorBinary(spec), 0o755);
  fs.rmSync(sources, { recursive: true, force: true });
  fs.writeFileSync(marker, new Date().toISOString() + "\n");
  log(`built ${spec.name} ${spec.version} in ${Math.round((Date.now() - started) / 1000)} s`);
  return collectorBinary(spec);
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      // The builder runs `go`, with the machine's own toolchain.
      env: goEnvironment(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(" ")} failed (exit ${code}):\n${output}`)),
    );
  });
}

function log(message: string): void {
  process.stderr.write(`[go-tools] ${message}\n`);
}
