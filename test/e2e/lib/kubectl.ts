import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ControlPlane } from "./control-plane";

/**
 * The render as a reviewer applies it: the files `npm run render` writes, read by the real
 * `kubectl` (a YAML 1.1 reader, sigs.k8s.io/yaml) and sent to the test control plane. The rest of
 * the tier applies the objects the render produced in memory; this reads the files themselves.
 */

const ROOT = path.resolve(__dirname, "..", "..", "..");

/** What a command did. */
export interface CommandResult {
  /** Exit status (-1 if it could not be started or was killed). */
  status: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) =>
    execFile(
      command,
      args,
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        const status = error ? (typeof code === "number" ? code : -1) : 0;
        resolve({
          status,
          stdout,
          stderr: stderr || (error && status === -1 ? error.message : ""),
        });
      },
    ),
  );
}

/** A render written to files, in a temp dir of its own. */
export interface RenderedFiles {
  /** The temp dir: the render (`<stack>/`) and room for scratch files; the caller removes it. */
  dir: string;
  /** `<stack>/manifests`, one file per object, as `npm run render` writes them. */
  manifests: string;
}

/** Runs `npm run render -- <stack> --out <dir>` (the real command, in its own process). */
export async function renderToFiles(stack: string): Promise<RenderedFiles> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `e2e-render-files-${stack}-`));
  const out = path.join(dir, stack);
  const tsx = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
  const result = await run(
    process.execPath,
    [tsx, "tools/render.ts", stack, "--out", out],
    300_000,
  );
  if (result.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`npm run render -- ${stack} failed (${result.status}):\n${result.stderr}`);
  }
  return { dir, manifests: path.join(out, "manifests") };
}

/**
 * The control plane's admin kubeconfig (token of a `system:masters` user, the cluster CA), which
 * `startControlPlane` writes into its temp dir for the controllers; checked to point at this
 * control plane's API server, so a rename there fails here loudly instead of reaching elsewhere.
 */
export function kubeconfigOf(cluster: ControlPlane): string {
  const file = path.join(cluster.dir, "admin.kubeconfig");
  if (!fs.existsSync(file)) {
    throw new Error(
      `no kubeconfig at ${file}: see writeKubeconfig in test/e2e/lib/control-plane.ts`,
    );
  }
  // JSON is YAML: kubectl reads the file the control plane's components read.
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as {
    clusters?: { cluster?: { server?: string } }[];
  };
  const servers = (config.clusters ?? []).map((entry) => entry.cluster?.server);
  if (servers.length !== 1 || servers[0] !== cluster.client.server) {
    throw new Error(`${file} names ${servers.join(", ")}, not ${cluster.client.server}`);
  }
  return file;
}

/** Options of {@link kubectlApply}. */
export interface KubectlApplyOptions {
  /**
   * The `control-plane` wrapper binary, whose `kubectl` is built from the control plane's own
   * Kubernetes release: inside the supported version skew, and nothing to install.
   */
  controlPlane: string;
  kubeconfig: string;
  /** The field manager kubectl applies as. */
  fieldManager: string;
  /** A scratch dir for kubectl's discovery cache (kept out of the user's ~/.kube). */
  cacheDir: string;
}

/**
 * `kubectl apply --server-side --dry-run=server --validate=strict -f <target>`: the API server
 * decodes, validates, admits and merges every object and stores none. `target` is a file or a
 * directory of them.
 */
export function kubectlApply(target: string, options: KubectlApplyOptions): Promise<CommandResult> {
  return run(
    options.controlPlane,
    [
      "kubectl",
      `--kubeconfig=${options.kubeconfig}`,
      `--cache-dir=${options.cacheDir}`,
      "apply",
      "--server-side",
      `--field-manager=${options.fieldManager}`,
      "--dry-run=server",
      "--validate=strict",
      "-f",
      target,
    ],
    180_000,
  );
}
