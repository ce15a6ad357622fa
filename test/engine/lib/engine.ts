import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import {
  LocalWorkspace,
  PulumiCommand,
  Stack,
  type EngineEvent,
  type OpMap,
  type OpType,
  type OutputMap,
  type UpdateResult,
} from "@pulumi/pulumi/automation";
import { parse, stringify } from "yaml";
import { binaryPath, ensureGoTool } from "../../integration/lib/go-tools";
import { kubernetesProviderTool, pinnedNpmVersion, pulumiCliTool } from "./tools";

/**
 * Our program under the real Pulumi engine: the CLI and the Kubernetes provider built from their Go
 * modules (`./tools.ts`), driven through the Automation API with a local file backend in a temp
 * directory. The program is the repository's `index.ts` (or a scratch copy's, see
 * {@link ProgramOptions}), run in this process as an inline program, so a test sees exactly what
 * `pulumi preview`/`up` does with it (plugin loading, config, secrets, the provider's diff and
 * apply, policy packs), against whatever cluster the kubeconfig names.
 */

const ROOT = path.resolve(__dirname, "..", "..", "..");
const PROJECT = "k3s-platform";
const PASSPHRASE = "k3s-platform-engine-tests";
const nodeRequire = createRequire(__filename);

export interface EngineBinaries {
  pulumi: string;
  kubernetesProvider: string;
  /** The version the provider reports (the npm @pulumi/kubernetes pin), without a `v`. */
  kubernetesProviderVersion: string;
}

/** Builds (or finds cached) the CLI and the provider; build-all builds them before the suite. */
export async function ensureEngineBinaries(): Promise<EngineBinaries> {
  const cli = pulumiCliTool();
  const provider = kubernetesProviderTool();
  await ensureGoTool(cli);
  await ensureGoTool(provider);
  return {
    pulumi: binaryPath(cli, "pulumi"),
    kubernetesProvider: binaryPath(provider, "pulumi-resource-kubernetes"),
    kubernetesProviderVersion: provider.version.replace(/^v/, ""),
  };
}

/**
 * The analyzer the CLI starts for a Node.js policy pack when it finds no `pulumi-language-nodejs`
 * (we build none): the plugin `pulumi-analyzer-policy-<runtime>` (the CLI's NewPolicyAnalyzer), run
 * in the pack's directory with the engine address and `.`. Pulumi's distribution ships it as a
 * script (`pulumi-analyzer-policy`) that runs @pulumi/pulumi's run-policy-pack with node; so does
 * this one, with the SDK of this repository.
 */
function analyzerScript(): string {
  const runPolicyPack = path.join(
    ROOT,
    "node_modules",
    "@pulumi",
    "pulumi",
    "cmd",
    "run-policy-pack",
    "index.js",
  );
  if (!fs.existsSync(runPolicyPack)) {
    throw new Error(`${runPolicyPack} is missing: is @pulumi/pulumi installed (npm ci)?`);
  }
  // run-policy-pack loads the pack's `.ts` files itself: it registers its vendored ts-node 7 with
  // the repository's TypeScript, type-checking (typeScript: true unless under Bun; about 5 s).
  return `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(runPolicyPack)} "$@"\n`;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** One stack of the program in its own temp directory (backend, PULUMI_HOME, work dir, bin). */
export interface EngineStack {
  name: string;
  stack: Stack;
  /** The temp directory; `dispose` removes it. */
  dir: string;
  /** The stack file as written (`Pulumi.<name>.yaml`), for a test to read. */
  stackFile: string;
  /** Removes the temp directory (the state goes with it: destroy first if anything was created). */
  dispose(): void;
}

/** Which program an operation runs. */
export interface ProgramOptions {
  /**
   * The project directory whose `index.ts` runs: a scratch copy of the repository (e.g. with one
   * more migration, which the Migrations component reads from its own `atlas/migrations`).
   * @default this repository
   */
  projectDir?: string;
  /**
   * Registers more resources after `index.ts`, in the same stack (e.g. one a policy refuses).
   * It runs in the program's context, so `@pulumi/*` resources created here are the stack's.
   */
  extra?: () => void | Promise<void>;
}

export interface CreateStackOptions {
  /**
   * Secret config values by path, set with `pulumi config set --secret --path`, e.g.
   * `{ "k3s-platform:credentials.postgres": "…" }`.
   */
  secrets?: Record<string, string>;
  /** The binaries, if the caller already has them; otherwise ensured (built if not cached). */
  binaries?: EngineBinaries;
  /** The program every operation runs unless it names another. @default this repository's */
  program?: ProgramOptions;
}

/**
 * A fresh stack whose config is the `config` of `configFile` (e.g. `Pulumi.dev.yaml`, relative to
 * the repository) with each key of `overrides` replacing the whole value of that top-level key,
 * e.g. `{ "k3s-platform:kubernetes": { kubeconfig: "/tmp/…/admin.kubeconfig" } }`.
 */
export async function createStack(
  stackName: string,
  configFile: string,
  overrides: Record<string, unknown> = {},
  options: CreateStackOptions = {},
): Promise<EngineStack> {
  const binaries = options.binaries ?? (await ensureEngineBinaries());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `k3s-platform-engine-${stackName}-`));
  const dispose = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const sub = (name: string) => fs.mkdirSync(path.join(dir, name), { recursive: true });
    const [bin, backend, home, workDir] = ["bin", "backend", "home", "work"].map((name) => {
      sub(name);
      return path.join(dir, name);
    });
    fs.symlinkSync(binaries.pulumi, path.join(bin, "pulumi"));
    // The plugins as installed plugins (in PULUMI_HOME), the provider at the version the SDK asks
    // for, so the engine selects them as it would downloaded ones: on $PATH it would take them
    // whatever the version, and warn about each on the stack.
    const installPlugin = (dirName: string, file: string, write: (target: string) => void) => {
      const pluginDir = path.join(home, "plugins", dirName);
      fs.mkdirSync(pluginDir, { recursive: true });
      write(path.join(pluginDir, file));
    };
    installPlugin(
      `resource-kubernetes-v${binaries.kubernetesProviderVersion}`,
      "pulumi-resource-kubernetes",
      (target) => fs.symlinkSync(binaries.kubernetesProvider, target),
    );
    installPlugin(
      `analyzer-policy-nodejs-v${pinnedNpmVersion("@pulumi/pulumi")}`,
      "pulumi-analyzer-policy-nodejs",
      (target) => fs.writeFileSync(target, analyzerScript(), { mode: 0o755 }),
    );

    // The project file without `main`: the program is inline, run in this process.
    fs.writeFileSync(
      path.join(workDir, "Pulumi.yaml"),
      stringify({ name: PROJECT, runtime: "nodejs" }),
    );
    const source = parse(fs.readFileSync(path.resolve(ROOT, configFile), "utf8")) as {
      config?: Record<string, unknown>;
    };
    const config = { ...source.config, ...overrides };
    const stackFile = path.join(workDir, `Pulumi.${stackName}.yaml`);
    fs.writeFileSync(stackFile, stringify({ config }));

    const envVars = {
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_BACKEND_URL: `file://${backend}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      // Nothing can be downloaded here: a plugin we did not build fails at once, by name.
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    // `root` is the directory holding bin/pulumi; the CLI's directory goes first on its PATH.
    const pulumiCommand = await PulumiCommand.get({ root: dir });
    const workspace = await LocalWorkspace.create({
      workDir,
      pulumiHome: home,
      pulumiCommand,
      envVars,
      program: inlineProgram(options.program),
    });
    const stack = await Stack.create(stackName, workspace);
    for (const [key, value] of Object.entries(options.secrets ?? {})) {
      await stack.setConfig(key, { value, secret: true }, true);
    }
    return { name: stackName, stack, dir, stackFile, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/**
 * The inline program: `index.ts` of the project directory, loaded afresh, then `extra`. Node
 * caches modules, and a cached module's top level (where every resource is registered) would not
 * run a second time, so every module of this repository (outside node_modules and test/) and of
 * the project directory is forgotten first. A copy's `node_modules` is a link to ours, which Node
 * resolves to its real path: the copy's program runs on the very SDK the Automation API serves.
 * `.ts` loads through tsx's require hook (registered here unless the process runs under tsx).
 */
function inlineProgram(program: ProgramOptions = {}): () => Promise<Record<string, unknown>> {
  const projectDir = path.resolve(program.projectDir ?? ROOT);
  return async () => {
    registerTypeScript();
    const forget = (root: string) => {
      const keep = [path.join(root, "node_modules") + path.sep, path.join(root, "test") + path.sep];
      for (const file of Object.keys(nodeRequire.cache)) {
        if (file.startsWith(root + path.sep) && !keep.some((prefix) => file.startsWith(prefix))) {
          delete nodeRequire.cache[file];
        }
      }
    };
    forget(ROOT);
    forget(projectDir);
    // The program's exports are the stack outputs.
    const outputs = {
      ...(nodeRequire(path.join(projectDir, "index.ts")) as Record<string, unknown>),
    };
    await program.extra?.();
    return outputs;
  };
}

let typeScriptRegistered = false;
function registerTypeScript(): void {
  if (typeScriptRegistered || ".ts" in nodeRequire.extensions) return;
  (nodeRequire("tsx/cjs/api") as { register: () => unknown }).register();
  typeScriptRegistered = true;
}

/** Resource operation counts, every kind present (0 if none), and how many change anything. */
export type ChangeCounts = Record<OpType, number> & { changed: number };

const OP_TYPES: OpType[] = [
  "same",
  "create",
  "update",
  "delete",
  "replace",
  "create-replacement",
  "delete-replaced",
  "read",
  "read-replacement",
  "refresh",
  "discard",
  "discard-replaced",
  "remove-pending-replace",
  "import",
  "import-replacement",
];
const UNCHANGED: OpType[] = ["same", "read", "refresh"];

function changeCounts(map: OpMap | undefined): ChangeCounts {
  const counts = Object.fromEntries(OP_TYPES.map((op) => [op, map?.[op] ?? 0])) as Record<
    OpType,
    number
  >;
  const changed = OP_TYPES.filter((op) => !UNCHANGED.includes(op)).reduce(
    (sum, op) => sum + counts[op],
    0,
  );
  return { ...counts, changed };
}

export interface OperationOptions {
  /** The program to run this time, instead of the stack's (preview and up only). */
  program?: ProgramOptions;
  /** Policy pack directories, relative to the repository or absolute, e.g. `policy`. */
  policyPacks?: string[];
  /** One JSON config file per policy pack, in the same order, relative to the repository or absolute. */
  policyPackConfigs?: string[];
  /** Progress lines, e.g. `process.stdout.write` while debugging a test. */
  onOutput?: (text: string) => void;
  /** The engine's events, e.g. `resourcePreEvent` for each resource and its type. */
  onEvent?: (event: EngineEvent) => void;
}

export interface OperationSummary {
  changes: ChangeCounts;
  /** Wall time of the whole operation, program included. */
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Every engine event of the operation, in order (`./events.ts` reads them). */
  events: EngineEvent[];
}

/**
 * An operation the engine failed (`pulumi up` exited non-zero): its message is the CLI's, stdout
 * and stderr included, and the events show what it did before it stopped.
 */
export class OperationFailure extends Error {
  constructor(
    message: string,
    readonly events: EngineEvent[],
    readonly durationMs: number,
  ) {
    super(message);
    this.name = "OperationFailure";
  }
}

/** Runs an operation with every event recorded; a failure becomes an {@link OperationFailure}. */
async function recorded<T>(
  options: Pick<OperationOptions, "onEvent">,
  run: (onEvent: (event: EngineEvent) => void) => Promise<T>,
): Promise<{ result: T; events: EngineEvent[]; durationMs: number }> {
  const events: EngineEvent[] = [];
  const onEvent = (event: EngineEvent) => {
    events.push(event);
    options.onEvent?.(event);
  };
  const started = Date.now();
  try {
    const result = await run(onEvent);
    return { result, events, durationMs: Date.now() - started };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new OperationFailure(message, events, Date.now() - started);
  }
}

export interface UpdateSummary extends OperationSummary {
  result: UpdateResult;
}

export interface UpSummary extends UpdateSummary {
  /** Stack outputs, secrets unwrapped. */
  outputs: Record<string, unknown>;
  /** Stack outputs as the Automation API returns them: `{ value, secret }` each. */
  rawOutputs: OutputMap;
}

/** The Automation API's options: policy packs by path, our program if another is named. */
function automationOptions(options: OperationOptions, onEvent: (event: EngineEvent) => void) {
  const { program, policyPacks, policyPackConfigs, onOutput } = options;
  return {
    onOutput,
    onEvent,
    ...(program ? { program: inlineProgram(program) } : {}),
    policyPacks: policyPacks?.map((pack) => path.resolve(ROOT, pack)),
    policyPackConfigs: policyPackConfigs?.map((file) => path.resolve(ROOT, file)),
  };
}

/** `pulumi preview --diff`. */
export async function preview(
  stack: EngineStack,
  options: OperationOptions = {},
): Promise<OperationSummary> {
  const { result, events, durationMs } = await recorded(options, (onEvent) =>
    stack.stack.preview({ ...automationOptions(options, onEvent), diff: true }),
  );
  return {
    changes: changeCounts(result.changeSummary),
    durationMs,
    stdout: result.stdout,
    stderr: result.stderr,
    events,
  };
}

/** `pulumi up --yes`. */
export async function up(stack: EngineStack, options: OperationOptions = {}): Promise<UpSummary> {
  const { result, events, durationMs } = await recorded(options, (onEvent) =>
    stack.stack.up(automationOptions(options, onEvent)),
  );
  return {
    changes: changeCounts(result.summary.resourceChanges),
    durationMs,
    result: result.summary.result,
    outputs: unwrapOutputs(result.outputs),
    rawOutputs: result.outputs,
    stdout: result.stdout,
    stderr: result.stderr,
    events,
  };
}

/** `pulumi destroy --yes` (the inline program is not run). */
export async function destroy(
  stack: EngineStack,
  options: Pick<OperationOptions, "onOutput" | "onEvent"> = {},
): Promise<UpdateSummary> {
  const { result, events, durationMs } = await recorded(options, (onEvent) =>
    stack.stack.destroy({ onOutput: options.onOutput, onEvent }),
  );
  return {
    changes: changeCounts(result.summary.resourceChanges),
    durationMs,
    result: result.summary.result,
    stdout: result.stdout,
    stderr: result.stderr,
    events,
  };
}

/** The stack's current outputs, secrets unwrapped. */
export async function outputs(stack: EngineStack): Promise<Record<string, unknown>> {
  return unwrapOutputs(await stack.stack.outputs());
}

/**
 * Sets config values by path (`pulumi config set --path`), e.g.
 * `{ "k3s-platform:postgres.storageSize": "6Gi" }`; the stack file is rewritten by the CLI.
 */
export async function setConfig(stack: EngineStack, values: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(values)) {
    await stack.stack.setConfig(key, { value }, true);
  }
}

function unwrapOutputs(map: Record<string, { value: unknown }>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).map(([key, { value }]) => [key, value]));
}
