import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Manifest, RenderedResource } from "../../../policy/model/render-model";

/**
 * A stack's render as the rollout needs it: every resource of `plan.json` (URN, type, parent,
 * dependencies, protect) with, for the Kubernetes objects, the manifest `npm run render` writes
 * for it. `plan.json` does not say which manifest file belongs to which URN, so this runs the same
 * two functions `tools/render.ts` runs (`renderStack`, then `manifestFiles`) and keeps the link.
 */

export type PlanResource = Omit<RenderedResource, "props"> & {
  /** The manifest file `npm run render` writes for it (Kubernetes objects only). */
  file?: string;
  manifest?: Manifest;
};

const ROOT = path.resolve(__dirname, "..", "..", "..");

/**
 * Renders a stack in its own process (the SDK's mock runtime is global, one render a process).
 * `root` renders another copy of the repository (an edited one, for an upgrade) with its own
 * copy of this script, so its components read their files from that copy. `stackFile` renders
 * another config than the stack's own `Pulumi.<stack>.yaml`.
 */
export async function renderObjects(
  stack: string,
  root = ROOT,
  stackFile?: string,
): Promise<PlanResource[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `e2e-render-${stack}-`));
  const out = path.join(dir, "objects.json");
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"),
          path.join(root, path.relative(ROOT, __filename)),
          stack,
          out,
          ...(stackFile ? [stackFile] : []),
        ],
        { cwd: root, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) =>
          error
            ? reject(new Error(`rendering ${stack} failed: ${error.message}\n${stderr}`))
            : resolve(),
      ),
    );
    return JSON.parse(fs.readFileSync(out, "utf8")) as PlanResource[];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(stack: string, out: string, stackFile?: string): Promise<void> {
  // Imported here, not at the top: importing the engine loads the Pulumi SDK, which the test
  // process that only spawns this script must not do.
  const { renderStack } = await import("../../../tools/lib/engine");
  const { manifestFiles } = await import("../../../tools/lib/manifests");
  const result = await renderStack({ stack, stackFile });
  const files = new Map(
    manifestFiles(result.resources).map((entry) => [entry.resource.urn, entry]),
  );
  const objects: PlanResource[] = result.resources.map(({ props: _props, ...resource }) => {
    const file = files.get(resource.urn);
    return file ? { ...resource, file: file.file, manifest: file.manifest } : resource;
  });
  fs.writeFileSync(out, JSON.stringify(objects));
}

if (require.main === module) {
  const [stack, out, stackFile] = process.argv.slice(2);
  main(stack, out, stackFile).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
