import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { goEnvironment, toolDir, type GoToolSpec } from "./go-tools";

/**
 * Builds `amtool` and `alertmanager` from the `github.com/prometheus/alertmanager` module at the
 * catalogue's release, cached like the other Go tools (`toolDir(spec)`, with a `.complete` mark).
 *
 * `go install module@version` cannot build `cmd/alertmanager`: its `ui` package embeds
 * `ui/app/dist`, the web UI that the release process builds with npm and that the module zip
 * leaves out. So the module is downloaded by the go command itself (`go mod download`, its own
 * go.mod and go.sum pin every dependency), copied to a scratch directory, given a one-page
 * placeholder at `ui/app/dist`, and built there. Only the browser UI differs from the image's
 * binary: the API, routing, grouping, inhibition and receivers the tests use are the release's
 * own code.
 */

/** The placeholder pages for the embedded UI (both of the release's UIs read their own root). */
const UI_PLACEHOLDERS = ["ui/app/dist/elm/index.html", "ui/app/dist/mantine/index.html"];

/** Builds both binaries unless a complete build is cached; returns their directory. */
export async function ensureAlertmanager(spec: GoToolSpec): Promise<string> {
  const dir = toolDir(spec);
  const marker = path.join(dir, ".complete");
  if (fs.existsSync(marker)) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  log(`building ${spec.name} ${spec.version} (${spec.packages.join(", ")}) into ${dir}`);
  const heartbeat = setInterval(
    () => log(`  still building ${spec.name}: ${Math.round((Date.now() - started) / 1000)} s`),
    30_000,
  );
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `go-build-${spec.name}-`));
  try {
    const module = moduleOf(spec);
    const downloaded = JSON.parse(
      await go(["mod", "download", "-json", `${module}@${spec.version}`], scratch),
    ) as { Dir?: string; Error?: string };
    if (!downloaded.Dir) throw new Error(`go mod download ${module}: ${downloaded.Error ?? "?"}`);
    const source = path.join(scratch, "src");
    fs.cpSync(downloaded.Dir, source, { recursive: true });
    makeWritable(source);
    for (const page of UI_PLACEHOLDERS) {
      fs.mkdirSync(path.dirname(path.join(source, page)), { recursive: true });
      fs.writeFileSync(
        path.join(source, page),
        "<!doctype html><title>Alertmanager</title><p>The web UI is not part of this test build.\n",
      );
    }
    const packages = spec.packages.map((pkg) => `./${path.posix.relative(module, pkg)}`);
    await go(["build", "-trimpath", "-o", dir + path.sep, ...packages], source);
  } finally {
    clearInterval(heartbeat);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  fs.writeFileSync(marker, new Date().toISOString() + "\n");
  log(`built ${spec.name} ${spec.version} in ${Math.round((Date.now() - started) / 1000)} s`);
  return dir;
}

/** The module all of the spec's packages belong to: the path before `/cmd/`. */
function moduleOf(spec: GoToolSpec): string {
  const modules = new Set(spec.packages.map((pkg) => pkg.split("/cmd/")[0]));
  if (modules.size !== 1) {
    throw new Error(`${spec.name}: packages must be cmd/ packages of one module`);
  }
  return [...modules][0];
}

/** The module cache's files are read-only; the copy is built in place, so it must not be. */
function makeWritable(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    fs.chmodSync(file, entry.isDirectory() ? 0o755 : 0o644);
  }
  fs.chmodSync(dir, 0o755);
}

/** Runs `go` with the machine's own toolchain; resolves to its standard output. */
function go(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, {
      cwd,
      env: { ...goEnvironment(), GOFLAGS: "-buildvcs=false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`go ${args.join(" ")} failed (exit ${code}):\n${stderr}`)),
    );
  });
}

function log(message: string): void {
  process.stderr.write(`[go-tools] ${message}\n`);
}
