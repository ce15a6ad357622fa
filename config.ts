import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { distance } from "fastest-levenshtein";
import { IMAGE_LOCK_FILE, readImageLock, type ImageLock } from "./policy/model/image-lock";
import { z } from "zod";
import { COMMON_DEFAULTS, PROFILE_DEFAULTS } from "./stack-config/defaults";
import { schema } from "./stack-config/schema";
import {
  SECRET_KEYS,
  type PlatformConfig,
  type SecretKeyName,
  type ValidatedConfig,
} from "./stack-config/types";
import { componentCheckRules, type WrittenKey } from "./platform/validate";
import { temporalUiProblems } from "./platform/args/temporal";
import { telemetryStorageProblems } from "./platform/args/observability";
import { backupTargetProblems, walArchiveProblems } from "./platform/args/postgres";
import { snapshotTargetProblems } from "./platform/args/dragonfly";
import { connectionBudgetProblems } from "./stack-config/connection-budget";
import { schemaMessage } from "./stack-config/messages";
import {
  appPullProblems,
  ingressHostProblems,
  namespaceProblems,
  productionProblems,
} from "./stack-config/stack-rules";

export type { PlatformConfig } from "./stack-config/types";

export { PROFILE_DEFAULTS } from "./stack-config/defaults";
export {
  directPostgresUsers,
  pgbouncerServerConnections,
  postgresPoolBudget,
} from "./stack-config/connection-budget";

/**
 * The stack configuration: one zod schema for every `k3s-platform:*` key, defaults per profile,
 * and the rules that involve more than one key. This is the only module that reads Pulumi config;
 * components receive the typed result. Every error names the full key and the reason, and all of
 * them are reported before a single resource exists.
 */

export const PROJECT = "k3s-platform";

/** One problem with the stack config: the full key (`k3s-platform:a.b`) and what is wrong. */
export interface ConfigIssue {
  key: string;
  message: string;
}

/** Thrown before any resource exists; the Pulumi CLI prints a RunError without a stack trace. */
export class ConfigError extends pulumi.RunError {
  constructor(readonly issues: ConfigIssue[]) {
    super(
      `Invalid stack configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((issue) => `  - ${issue.key}: ${issue.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/**
 * Parses raw Pulumi config (`{"k3s-platform:postgres": "{...json...}"}`, as the engine and our
 * engine-less tools supply it) into the typed config, or throws a {@link ConfigError} listing
 * every problem found.
 */
export function parseConfig(
  raw: Record<string, string>,
  secretKeys: readonly string[] = [],
): PlatformConfig {
  const values = projectValues(raw);
  // Problems that need neither the profile nor the schema: reported with whatever else is wrong.
  const early = [...foreignKeyIssues(raw), ...plainSecretIssues(raw, secretKeys)];
  const profile = values.profile;
  if (profile !== "dev" && profile !== "prod") {
    throw new ConfigError([profileIssue(profile), ...early]);
  }
  const defaults = deepMerge(COMMON_DEFAULTS, PROFILE_DEFAULTS[profile]);
  const merged = deepMerge(defaults, values);
  const result = schema.safeParse(merged, { error: schemaMessage });
  if (!result.success) {
    throw new ConfigError([
      ...early,
      ...result.error.issues.flatMap(describeIssue),
      ...crossFieldIssuesBesideSchema(result.error.issues, { merged, defaults }, values),
    ]);
  }
  const { config, secretValues, credentials } = splitSecrets(result.data);
  const issues = [...early, ...crossFieldIssues(config, writtenKeys(values))];
  const imageLock = stackImageLock(config.imagesLock, issues);
  if (issues.length > 0) {
    throw new ConfigError(issues);
  }
  return {
    ...config,
    imageLock,
    secrets: secretOutputs(secretValues),
    credentials: secretCredentials(credentials ?? {}),
  };
}

/**
 * The validated data apart from its secret keys (every one {@link SECRET_KEYS} names, so a new
 * secret key is declared once), the secret strings, and the given credentials.
 */
function splitSecrets(data: z.output<typeof schema>): {
  config: ValidatedConfig;
  secretValues: Partial<Record<Exclude<SecretKeyName, "credentials">, string>>;
  credentials: z.output<typeof schema>["credentials"];
} {
  const config: Record<string, unknown> = { ...data };
  for (const key of SECRET_KEYS) delete config[key];
  const secretValues = Object.fromEntries(
    SECRET_KEYS.filter((key) => key !== "credentials").map((key) => [key, data[key]]),
  );
  return {
    // Exactly the schema's output less the keys just deleted.
    config: config as ValidatedConfig,
    secretValues,
    credentials: data.credentials,
  };
}

function profileIssue(profile: unknown): ConfigIssue {
  return {
    key: `${PROJECT}:profile`,
    message:
      profile === undefined
        ? 'is required: set it to "dev" or "prod" in Pulumi.<stack>.yaml'
        : `must be "dev" or "prod" (got ${JSON.stringify(profile)})`,
  };
}

/**
 * The image lock the stack pins its images by: `imagesLock` (relative to the project directory,
 * where this module lives) or the pack's own. A lock that cannot be read is a problem of the key.
 */
function stackImageLock(file: string | undefined, issues: ConfigIssue[]): ImageLock {
  try {
    return readImageLock(file === undefined ? IMAGE_LOCK_FILE : path.resolve(__dirname, file));
  } catch (error) {
    issues.push({ key: `${PROJECT}:imagesLock`, message: (error as Error).message });
    return {};
  }
}

/** Reads the current stack's config from the Pulumi runtime. */
export function loadConfig(): PlatformConfig {
  const raw = pulumi.runtime.allConfig();
  return parseConfig(raw, Object.keys(raw).filter(isConfigSecret));
}

/** Whether the engine marked a key secret; the SDK exports this without a public type. */
function isConfigSecret(key: string): boolean {
  const runtime = pulumi.runtime as unknown as { isConfigSecret(k: string): boolean };
  return runtime.isConfigSecret(key);
}

/** A secret typed into the stack file in plain text is already leaked: refuse it. */
function plainSecretIssues(
  raw: Record<string, string>,
  secretKeys: readonly string[],
): ConfigIssue[] {
  return SECRET_KEYS.map((name) => `${PROJECT}:${name}`)
    .filter((key) => key in raw && !secretKeys.includes(key))
    .map((key) => ({
      key,
      message: `must be stored as a secret: run \`pulumi config set --secret ${key} <value>\` (and rotate the value that was in plain text)`,
    }));
}

function secretOutputs(values: Partial<Record<SecretKeyName, string>>): PlatformConfig["secrets"] {
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [name, pulumi.secret(value as string)]),
  );
}

/** Every given credential as a secret output, keeping the component → name shape. */
function secretCredentials(given: object): PlatformConfig["credentials"] {
  return Object.fromEntries(
    Object.entries(given).map(([component, names]) => [
      component,
      Object.fromEntries(
        Object.entries(names as Record<string, string>).map(([name, value]) => [
          name,
          pulumi.secret(value),
        ]),
      ),
    ]),
  );
}

/** `k3s-platform:*` entries with the prefix removed and structured values decoded. */
function projectValues(raw: Record<string, string>): Record<string, unknown> {
  const prefix = `${PROJECT}:`;
  return Object.fromEntries(
    Object.entries(raw)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [
        key.slice(prefix.length),
        decodeValue(key.slice(prefix.length), value),
      ]),
  );
}

/**
 * Pulumi passes structured values as JSON text and every top-level scalar as text: `123` and
 * `"123"` in the stack file both arrive as `123`. So a top-level key the schema reads as a string
 * keeps its text (`namespace: 123` is the namespace "123"); numbers and booleans are decoded.
 */
function decodeValue(key: string, value: string): unknown {
  if (TOP_LEVEL_STRING_KEYS.has(key)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Top-level keys whose value is a string (`namespace`, `arcjetKey`, …). */
const TOP_LEVEL_STRING_KEYS = new Set(
  Object.entries(schema.shape)
    .filter(([, type]) => unwrapOptional(type as z.ZodType) instanceof z.ZodString)
    .map(([key]) => key),
);

function unwrapOptional(type: z.ZodType): z.ZodType {
  return type instanceof z.ZodOptional ? unwrapOptional(type.def.innerType as z.ZodType) : type;
}

/**
 * Config namespaces this program reads (`k3s-platform`) or whose keys are the business of a
 * provider it uses or of Pulumi itself. A key in any other namespace is a typo or a leftover.
 */
export const KNOWN_CONFIG_NAMESPACES = [PROJECT, "kubernetes", "pulumi", "random", "docker"];

/** Keys outside every namespace this stack has any use for, each with a "did you mean". */
function foreignKeyIssues(raw: Record<string, string>): ConfigIssue[] {
  return Object.keys(raw).flatMap((key): ConfigIssue[] => {
    const colon = key.indexOf(":");
    if (colon < 0) {
      return [
        {
          key,
          message: `has no namespace: Pulumi config keys are <namespace>:<key>; did you mean "${PROJECT}:${key}"?`,
        },
      ];
    }
    const namespace = key.slice(0, colon);
    if (KNOWN_CONFIG_NAMESPACES.includes(namespace)) return [];
    const best = closest(namespace, KNOWN_CONFIG_NAMESPACES);
    const hint =
      best !== undefined
        ? `; did you mean "${best}${key.slice(colon)}"?`
        : `; the namespaces read here are ${KNOWN_CONFIG_NAMESPACES.join(", ")}`;
    return [
      {
        key,
        message: `is in the config namespace "${namespace}", which neither this program nor a provider it uses reads${hint}`,
      },
    ];
  });
}

/** Leaf objects: a stack that gives one replaces the default whole, never key by key. */
const LEAF_OBJECTS = new Set(["resources", "readiness", "liveness", "startup"]);

/**
 * The keys a stack sets itself, as a test: a key counts as set when the stack gives it, a key
 * inside it, or a whole list or resources object holding it. Used to report a problem at the
 * key the stack wrote rather than at a default it clashes with.
 */
function writtenKeys(values: Record<string, unknown>): (key: string) => boolean {
  const leaves: string[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (isPlainObject(value) && !LEAF_OBJECTS.has(path.at(-1) ?? "")) {
      for (const [key, inner] of Object.entries(value)) walk(inner, [...path, key]);
    } else {
      leaves.push(path.join("."));
    }
  };
  walk(values, []);
  return (key) =>
    leaves.some((leaf) => leaf === key || leaf.startsWith(`${key}.`) || key.startsWith(`${leaf}.`));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Overlays `override` on `base`: objects merge key by key, anything else replaces. A leaf object
 * ({@link LEAF_OBJECTS}) replaces too: `resources: {cpu, memory}` is the stack's whole resources,
 * without a default memoryLimit merged in that the stack never asked for.
 */
function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) {
    return override === undefined ? base : override;
  }
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    result[key] =
      LEAF_OBJECTS.has(key) && value !== undefined ? value : deepMerge(base[key], value);
  }
  return result;
}

function keyOf(path: PropertyKey[]): string {
  return `${PROJECT}:${path.map(String).join(".")}`;
}

/** One zod issue as config issues; unknown keys get a "did you mean" from the known ones. */
function describeIssue(issue: z.core.$ZodIssue): ConfigIssue[] {
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(issue.path);
    return issue.keys.map((unknownKey) => {
      const key = keyOf([...issue.path, unknownKey]);
      const moved = MOVED_KEYS[key.slice(PROJECT.length + 1)];
      return {
        key,
        message:
          moved !== undefined
            ? `has moved: set ${PROJECT}:${moved} instead (every image is overridden under images)`
            : `is not a known key${suggestion(unknownKey, known)}`,
      };
    });
  }
  return [{ key: keyOf(issue.path), message: issue.message }];
}

/** Keys that moved, with where they are now: a stack that still sets one hears where to. */
const MOVED_KEYS: Readonly<Record<string, string>> = {
  "objectStore.image": "images.minio",
  "objectStore.clientImage": "images.minioClient",
};

/** The keys the schema accepts at a path (for suggestions). */
function knownKeysAt(path: PropertyKey[]): string[] {
  let current: z.ZodType = schema;
  for (const segment of path) {
    const object = unwrapObject(current);
    if (!object) return [];
    current = object.shape[String(segment)] as z.ZodType;
  }
  const object = unwrapObject(current);
  return object ? Object.keys(object.shape) : [];
}

function unwrapObject(type: z.ZodType | undefined): z.ZodObject | undefined {
  if (type instanceof z.ZodObject) return type;
  if (type instanceof z.ZodOptional || type instanceof z.ZodDefault) {
    return unwrapObject(type.def.innerType as z.ZodType);
  }
  if (type instanceof z.ZodPipe) return unwrapObject(type.def.out as z.ZodType);
  return undefined;
}

function suggestion(unknownKey: string, known: string[]): string {
  const best = closest(unknownKey, known);
  if (best !== undefined) return `; did you mean "${best}"?`;
  return known.length > 0 ? `; known keys here: ${known.join(", ")}` : "";
}

/** The known word nearest to `word`, when it is near enough to be a typo of it. */
function closest(word: string, known: readonly string[]): string | undefined {
  const ranked = known
    .map((candidate) => ({
      candidate,
      score: distance(word.toLowerCase(), candidate.toLowerCase()),
    }))
    .sort((a, b) => a.score - b.score);
  const best = ranked[0];
  return best && best.score <= Math.max(2, Math.floor(best.candidate.length / 3))
    ? best.candidate
    : undefined;
}

/** One cross-key rule, its problems located at a stack key (the project prefix included). */
type CrossKeyRule = (config: ValidatedConfig) => ConfigIssue[];

/**
 * Rules that involve more than one key (or the profile), each reported at a key the stack set.
 * With `refused`, the keys whose values the schema refused (dotted, without the project prefix),
 * a rule that reads any of them is skipped: its verdict would rest on a stand-in value, and
 * would repeat or contradict the problem already reported at that key.
 */
function crossFieldIssues(
  config: ValidatedConfig,
  written: WrittenKey,
  refused: ReadonlySet<string> = new Set(),
): ConfigIssue[] {
  const located =
    <W extends unknown[]>(
      rule: (config: ValidatedConfig, ...rest: W) => { keys: readonly string[]; message: string }[],
      ...rest: W
    ): CrossKeyRule =>
    (checked) =>
      rule(checked, ...rest).map(({ keys, message }) => ({
        key: `${PROJECT}:${keys.find(written) ?? keys[0]}`,
        message,
      }));
  const rules: CrossKeyRule[] = [
    located(connectionBudgetProblems),
    // One rule per component, so a refused value silences only the components that read it.
    ...componentCheckRules(written).map(
      (componentRules): CrossKeyRule =>
        (checked) =>
          componentRules(checked).map(({ key, reason }) => ({
            key: `${PROJECT}:${key}`,
            message: reason,
          })),
    ),
    located(namespaceProblems),
    located(ingressHostProblems),
    located(productionProblems),
    located(appPullProblems, written),
    located(temporalUiProblems, written),
    located(backupTargetProblems, written),
    located(walArchiveProblems),
    located(telemetryStorageProblems, written),
    located(snapshotTargetProblems, written),
  ];
  const issues = rules.flatMap((rule) => {
    if (refused.size === 0) return rule(config);
    const reads: Read[] = [];
    const found = rule(readTracked(config, (read) => reads.push(read)));
    return reads.some((read) => readsRefused(read, refused)) ? [] : found;
  });
  // Components that share a key (every Ingress reads cluster.tlsSecretName) report it once.
  const seen = new Set<string>();
  return issues.filter(({ key, message }) => {
    const id = `${key}\0${message}`;
    return seen.has(id) ? false : (seen.add(id), true);
  });
}

/**
 * The cross-key problems of a config the schema refused, so that a stack's every problem is
 * reported in one run. Each refused value is replaced by its default, or removed when it has
 * none (a list or a leaf object, which a stack gives whole, is replaced whole), until the schema
 * accepts the result; then every cross-key rule that reads none of the replaced keys runs on it.
 * An unknown key counts as the key it likely misspells, which the stack meant to set. When no
 * stand-ins satisfy the schema within a few rounds, the schema's problems are reported alone.
 */
function crossFieldIssuesBesideSchema(
  issues: readonly z.core.$ZodIssue[],
  config: { merged: unknown; defaults: unknown },
  values: Record<string, unknown>,
): ConfigIssue[] {
  const refused = new Set<string>();
  let candidate = config.merged;
  let pending = issues;
  for (let round = 0; round < STAND_IN_ROUNDS; round++) {
    for (const { path, means } of standInPaths(pending, candidate, refused)) {
      // A problem with the config as a whole leaves nothing a rule could trust.
      if (path.length === 0) return [];
      candidate = replacedAt(candidate, path, valueAt(config.defaults, path));
      for (const key of [path, ...means]) refused.add(key.join("."));
    }
    const result = schema.safeParse(candidate);
    if (result.success) {
      return crossFieldIssues(result.data, writtenKeys(values), refused);
    }
    pending = result.error.issues;
  }
  return [];
}

/** Rounds of stand-ins tried before the cross-key rules are given up (each round widens them). */
const STAND_IN_ROUNDS = 3;

/**
 * Where each issue's stand-in goes, and the keys an unknown key may have been meant as. A path
 * replaced in an earlier round that the schema still refuses widens to its top-level key.
 */
function standInPaths(
  issues: readonly z.core.$ZodIssue[],
  candidate: unknown,
  refused: ReadonlySet<string>,
): { path: string[]; means: string[][] }[] {
  return issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(issue.path);
      return issue.keys.map((unknownKey) => {
        const meant = closest(unknownKey, known);
        return { path: [...path, unknownKey], means: meant ? [[...path, meant]] : [] };
      });
    }
    const whole = wholeValuePath(path, candidate);
    return [{ path: refused.has(whole.join(".")) ? whole.slice(0, 1) : whole, means: [] }];
  });
}

/** The shortest prefix of `path` that is a list or a leaf object: a stack gives those whole. */
function wholeValuePath(path: string[], root: unknown): string[] {
  let current = root;
  for (let length = 1; length <= path.length; length++) {
    current = childOf(current, path[length - 1]);
    if (Array.isArray(current) || LEAF_OBJECTS.has(path[length - 1])) return path.slice(0, length);
  }
  return path;
}

function childOf(container: unknown, key: string): unknown {
  return isPlainObject(container) || Array.isArray(container)
    ? (container as Record<string, unknown>)[key]
    : undefined;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>(childOf, root);
}

/** `root` with the value at `path` replaced (removed when `value` is undefined), copied on write. */
function replacedAt(root: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [key, ...rest] = path;
  const inner = replacedAt(childOf(root, key), rest, value);
  if (Array.isArray(root)) {
    const copy: unknown[] = [...root];
    copy[Number(key)] = inner;
    return copy;
  }
  const copy: Record<string, unknown> = isPlainObject(root) ? { ...root } : {};
  if (inner === undefined) delete copy[key];
  else copy[key] = inner;
  return copy;
}

/**
 * One read a rule made: the dotted path it read, and whether it took in everything below it at
 * once (listing an object's keys), which a removed key changes as much as a read of it.
 */
interface Read {
  path: string;
  whole: boolean;
}

function readsRefused(read: Read, refused: ReadonlySet<string>): boolean {
  for (const key of refused) {
    if (read.path === key || read.path.startsWith(`${key}.`)) return true;
    if (read.whole && (read.path === "" || key.startsWith(`${read.path}.`))) return true;
  }
  return false;
}

/**
 * `value` behind proxies that report every property a rule reads, at any depth: what a rule's
 * verdict rests on is then known without the rule declaring it.
 */
function readTracked<T>(value: T, onRead: (read: Read) => void, path: readonly string[] = []): T {
  if (typeof value !== "object" || value === null) return value;
  const at = (property: string) => [...path, property].join(".");
  return new Proxy(value, {
    get(target, property, receiver) {
      const inner: unknown = Reflect.get(target, property, receiver);
      if (typeof property === "symbol") return inner;
      const descriptor = Reflect.getOwnPropertyDescriptor(target, property);
      if (descriptor && !descriptor.configurable && !descriptor.writable) {
        // A proxy must return a frozen property as it is, so its insides go unseen: read whole.
        onRead({ path: at(property), whole: true });
        return inner;
      }
      onRead({ path: at(property), whole: false });
      return readTracked(inner, onRead, [...path, property]);
    },
    has(target, property) {
      if (typeof property === "string") onRead({ path: at(property), whole: false });
      return Reflect.has(target, property);
    },
    ownKeys(target) {
      onRead({ path: path.join("."), whole: true });
      return Reflect.ownKeys(target);
    },
  });
}
