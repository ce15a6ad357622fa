import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseCommandLine, runTool, stackName, usage, UsageError } from "./lib/cli";
import { renderStack, REPOSITORY_ROOT, type RenderResult } from "./lib/engine";
import { manifestFiles, manifestYaml } from "./lib/manifests";

/**
 * `npm run render -- <stack> [--out <dir>] [--stack-file <file>]`: writes every Kubernetes
 * manifest the stack would apply to `out/<stack>/manifests/`, plus `plan.json` (the resource
 * graph, each Kubernetes object with the name of its manifest file) and `outputs.json`, every secret value redacted. On any error nothing is written.
 */
runTool(async () => {
  const { positional, options } = parseCommandLine(process.argv.slice(2));
  const stack = stackName(
    positional[0] ?? usage("npm run render -- <stack> [--out <dir>] [--stack-file <file>]"),
  );
  const outDir = path.resolve(options.out ?? path.join(REPOSITORY_ROOT, "out", stack));
  assertRenderTarget(outDir);
  const result = await renderStack({ stack, stackFile: options["stack-file"] });
  const written = writeRender(result, outDir);
  console.log(
    `rendered ${stack}: ${written} manifests and plan.json in ${path.relative(process.cwd(), outDir) || "."}`,
  );
  return 0;
});

/** Writes into a temp dir and swaps it in, so a failed render never leaves half an output. */
function writeRender(result: RenderResult, outDir: string): number {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), `render-${result.stack}-`));
  const manifestsDir = path.join(staging, "manifests");
  fs.mkdirSync(manifestsDir);
  const files = manifestFiles(result.resources);
  for (const { file, manifest } of files) {
    fs.writeFileSync(path.join(manifestsDir, file), manifestYaml(manifest));
  }
  // Each Kubernetes object's entry names its manifest, so the render on disk is the whole render:
  // the policy pack run on its own (policy/cli.ts) reads the graph and the objects from here.
  const fileOf = new Map(files.map(({ resource, file }) => [resource.urn, file]));
  const plan = result.resources.map(({ props: _props, ...entry }) => {
    const manifest = fileOf.get(entry.urn);
    return manifest === undefined ? entry : { ...entry, manifest };
  });
  fs.writeFileSync(
    path.join(staging, "plan.json"),
    JSON.stringify({ stack: result.stack, resources: plan }, null, 2) + "\n",
  );
  fs.writeFileSync(
    path.join(staging, "outputs.json"),
    JSON.stringify(result.outputs, null, 2) + "\n",
  );
  assertNoSecretWritten(staging, result.secretValues);
  clearPreviousRender(outDir);
  fs.mkdirSync(outDir, { recursive: true });
  fs.cpSync(staging, outDir, { recursive: true });
  fs.rmSync(staging, { recursive: true, force: true });
  return files.length;
}

/** What a render writes into its directory, and all it ever removes there. */
const RENDER_ENTRIES = ["manifests", "plan.json", "outputs.json"];

/**
 * Makes room for a render in `outDir`: nothing to do if it is missing or empty; a previous render
 * (recognised by its plan.json) loses exactly the entries a render writes (other files, such as
 * graph.mmd, stay); anything else is refused, so `--out .` or a typo never deletes a directory
 * the tools did not create.
 */
function clearPreviousRender(outDir: string): void {
  if (!assertRenderTarget(outDir)) return;
  for (const entry of RENDER_ENTRIES) {
    fs.rmSync(path.join(outDir, entry), { recursive: true, force: true });
  }
}

/** Refuses an `--out` that is not missing, empty or a previous render; true if it is a render. */
function assertRenderTarget(outDir: string): boolean {
  if (!fs.existsSync(outDir)) return false;
  if (!fs.statSync(outDir).isDirectory()) {
    throw new UsageError(`--out ${outDir}: exists and is not a directory; choose another --out`);
  }
  if (fs.readdirSync(outDir).length === 0) return false;
  if (!fs.existsSync(path.join(outDir, "plan.json"))) {
    throw new UsageError(
      `--out ${outDir}: refusing to write into a directory that holds something other than a ` +
        `previous render (it has no plan.json); choose an empty or new directory`,
    );
  }
  return true;
}

/** The last line of defence: no known secret value may be in any file about to be published. */
function assertNoSecretWritten(dir: string, secretValues: string[]): void {
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const text = fs.readFileSync(file, "utf8");
    const leaked = secretValues.find((secret) => secret.length >= 8 && text.includes(secret));
    if (leaked) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`refusing to write ${entry.name}: it contains a secret value in plain text`);
    }
  }
}
