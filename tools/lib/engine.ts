import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PlatformMocks } from "./mocks";
import { readStackConfig, stackFilePath } from "./stack-file";
import { REDACTED, type RenderedResource } from "../../policy/model/render-model";

/**
 * Runs the real program (`index.ts`) in-process under Pulumi's mock runtime with a stack's own
 * config, and records every resource it registers: what the engine would have been asked to do.
 * One render per process: the SDK keeps global state, so the tools and tests spawn a process each.
 */

/** Where to find the program and its stack file. */
export interface RenderOptions {
  /** Stack name (`dev`, `prod`). */
  stack: string;
  /** Project directory holding `index.ts` and `Pulumi.<stack>.yaml`. @default the repository root */
  projectDir?: string;
  /** Stack file to read instead of `Pulumi.<stack>.yaml`. */
  stackFile?: string;
}

/** Everything a render produced, secrets already redacted. */
export interface RenderResult {
  stack: string;
  resources: RenderedResource[];
  /** Stack outputs (secret ones redacted). */
  outputs: Record<string, unknown>;
  /** Every secret value the run knew of, for leak checks over what gets written. */
  secretValues: string[];
}

/** Pulumi's wire marker for a secret value (sdk/nodejs/runtime/rpc.ts `specialSigKey`). */
const SIGNATURE_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";

export const REPOSITORY_ROOT = path.resolve(__dirname, "..", "..");

/** A resource as registered: everything rendered later, with the inputs not yet redacted. */
type Registration = Omit<RenderedResource, "props"> & { inputs: Record<string, unknown> };

/** The mock monitor's request object: the protobuf getters we read. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getParent(): string;
  getDependenciesList(): string[];
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getObject(): unknown;
}

type Callback = (error: unknown, response?: { getUrn(): string }) => void;
interface RecordableMonitor {
  registerResource(request: RegisterRequest, callback: Callback): Promise<void>;
}

/** Renders a stack: runs the program under mocks and returns what it registered, redacted. */
export async function renderStack(options: RenderOptions): Promise<RenderResult> {
  const projectDir = options.projectDir ?? REPOSITORY_ROOT;
  const stackConfig = readStackConfig(
    options.stackFile ?? stackFilePath(projectDir, options.stack),
  );

  const mocks = new PlatformMocks();
  await pulumi.runtime.setMocks(mocks, "k3s-platform", options.stack, false);
  pulumi.runtime.setAllConfig(stackConfig.values, stackConfig.secretKeys);

  const registrations = recordRegistrations();

  let exported: Record<string, unknown> = {};
  const outputs = (await pulumi.runtime.runInPulumiStack(async () => {
    // index.ts assigns its outputs to module.exports (`export =`): the module's default export.
    const program = (await import(path.join(projectDir, "index.ts"))) as { default: object };
    exported = { ...program.default };
    return exported;
  })) as Record<string, unknown>;
  // The stack's outputs resolve before the last registrations finish: drain the RPC queue.
  await settings().waitForRPCs();

  const secretValues = new Set<string>([...mocks.generatedSecrets]);
  for (const key of stackConfig.secretKeys) {
    for (const value of secretLeaves(stackConfig.values[key])) secretValues.add(value);
  }
  const unwrapped = registrations.map(({ inputs, ...registration }) => ({
    registration,
    props: unwrapSecrets(inputs),
  }));
  const redact = redactor([...secretValues]);
  const resources = unwrapped.map(({ registration, props }) => ({
    ...registration,
    props: redact(redactSecretObjectData(registration.type, props)) as Record<string, unknown>,
  }));
  return {
    stack: options.stack,
    resources,
    outputs: redact(unwrapSecrets(await markSecretOutputs(outputs ?? {}, exported))) as Record<
      string,
      unknown
    >,
    secretValues: [...secretValues],
  };
}

/**
 * The stack's resolved outputs with each one the program exported as a secret Output wrapped in
 * the secret envelope: resolving the stack's outputs drops that mark, which the engine keeps.
 */
interface Secretive {
  isSecret: Promise<boolean>;
}

async function markSecretOutputs(
  resolved: Record<string, unknown>,
  exported: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const marked: Record<string, unknown> = { ...resolved };
  for (const [name, value] of Object.entries(exported)) {
    // `isSecret` is internal to the SDK's Output class, without a public type.
    if (pulumi.Output.isInstance(value) && (await (value as unknown as Secretive).isSecret)) {
      marked[name] = { [SIGNATURE_KEY]: SECRET_SIGNATURE, value: resolved[name] };
    }
  }
  return marked;
}

/**
 * The values of a secret config key: the value itself, and for a structured key
 * (`credentials`, set with `--secret --path`) every string inside it too.
 */
function secretLeaves(value: string): string[] {
  const strings = (node: unknown): string[] =>
    typeof node === "string"
      ? [node]
      : typeof node === "object" && node !== null
        ? Object.values(node).flatMap(strings)
        : [];
  try {
    return [value, ...strings(JSON.parse(value))];
  } catch {
    return [value];
  }
}

/** Internal SDK settings: the mock monitor and the RPC queue. */
function settings(): { getMonitor(): unknown; waitForRPCs(): Promise<void> } {
  // The SDK exports these from its runtime settings module without typings for them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@pulumi/pulumi/runtime/settings");
}

/** The SDK's own decoder of a registration's wire properties, as the mock monitor uses it. */
function deserializeProperties(object: unknown): Record<string, unknown> {
  type Rpc = { deserializeProperties(o: unknown): Record<string, unknown> };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const rpc = require("@pulumi/pulumi/runtime/rpc") as Rpc;
  return rpc.deserializeProperties(object);
}

/**
 * Wraps the mock monitor so every registration is recorded with what the mocks cannot see:
 * parent, dependencies, protect and retainOnDelete, exactly as the SDK sends them to the engine.
 */
function recordRegistrations(): Registration[] {
  const registrations: Registration[] = [];
  const monitor = settings().getMonitor() as RecordableMonitor;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) =>
    register(request, (error, response) => {
      if (!error && response) {
        registrations.push({
          inputs: deserializeProperties(request.getObject()),
          urn: response.getUrn(),
          type: request.getType(),
          name: request.getName(),
          custom: request.getCustom(),
          ...(request.getParent() ? { parent: request.getParent() } : {}),
          dependencies: [...new Set(request.getDependenciesList())].sort(),
          protect: request.getProtect(),
          retainOnDelete: request.getRetainondelete(),
        });
      }
      callback(error, response);
    });
  return registrations;
}

function isSecretEnvelope(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SIGNATURE_KEY] === SECRET_SIGNATURE
  );
}

/**
 * Replaces every secret envelope by the redaction marker. The strings inside an envelope are not
 * searched for elsewhere: secretness propagates through interpolation, so a value derived from a
 * secret arrives as an envelope itself, and an envelope may also hold plain words (a role's name
 * beside its password) that must not be redacted from every manifest.
 */
function unwrapSecrets(value: unknown): unknown {
  if (isSecretEnvelope(value)) return redactLeaves(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, unwrapSecrets(inner)]),
    );
  }
  return value;
}

/** Every string and number of a secret value redacted, its shape (the keys a check needs) kept. */
function redactLeaves(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactLeaves);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, redactLeaves(inner)]),
    );
  }
  return value === undefined || value === null ? value : REDACTED;
}

/** A Kubernetes Secret's values are secret whatever the program marked. */
function redactSecretObjectData(type: string, props: unknown): unknown {
  if (type !== "kubernetes:core/v1:Secret" || typeof props !== "object" || props === null) {
    return props;
  }
  const secret = props as Record<string, unknown>;
  const redactValues = (data: unknown) =>
    typeof data === "object" && data !== null
      ? Object.fromEntries(Object.keys(data).map((key) => [key, REDACTED]))
      : data;
  return {
    ...secret,
    ...(secret.data !== undefined ? { data: redactValues(secret.data) } : {}),
    ...(secret.stringData !== undefined ? { stringData: redactValues(secret.stringData) } : {}),
  };
}

/**
 * Replaces every known secret value wherever it occurs, also inside longer strings: the engine,
 * not the SDK, marks a random password secret, so under mocks a URL built from one arrives plain.
 */
function redactor(secretValues: string[]): (value: unknown) => unknown {
  // Short values would redact innocent text; generated and mock secrets are long.
  const needles = secretValues
    .filter((secret) => secret.length >= 8)
    .sort((a, b) => b.length - a.length);
  const redactString = (text: string) =>
    needles.reduce((result, needle) => result.split(needle).join(REDACTED), text);
  const redact = (value: unknown): unknown => {
    if (typeof value === "string") return redactString(value);
    if (Array.isArray(value)) return value.map(redact);
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redact(inner)]));
    }
    return value;
  };
  return redact;
}
