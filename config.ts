import * as pulumi from "@pulumi/pulumi";
import { distance } from "fastest-levenshtein";
import { z } from "zod";
import { COMMON_DEFAULTS, PROFILE_DEFAULTS } from "./stack-config/defaults";
import { schema } from "./stack-config/schema";
import {
  SECRET_KEYS,
  type PlatformConfig,
  type SecretKeyName,
  type ValidatedConfig,
} from "./stack-config/types";
import { componentProblems } from "./platform/validate";

export type { PlatformConfig } from "./stack-config/types";

export { PROFILE_DEFAULTS } from "./stack-config/defaults";

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
 * engine-less tools supply it) into the typed config, or throws a {@link ConfigError}.
 */
export function parseConfig(
  raw: Record<string, string>,
  secretKeys: readonly string[] = [],
): PlatformConfig {
  const values = projectValues(raw);
  const profile = values.profile;
  if (profile !== "dev" && profile !== "prod") {
    throw new ConfigError([
      {
        key: `${PROJECT}:profile`,
        message:
          profile === undefined
            ? 'is required: set it to "dev" or "prod" in Pulumi.<stack>.yaml'
            : `must be "dev" or "prod" (got ${JSON.stringify(profile)})`,
      },
    ]);
  }
  const merged = deepMerge(deepMerge(COMMON_DEFAULTS, PROFILE_DEFAULTS[profile]), values);
  const result = schema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap(describeIssue));
  }
  const { arcjetKey, registryPassword, credentials, ...config } = result.data;
  const issues = [...plainSecretIssues(raw, secretKeys), ...crossFieldIssues(config)];
  if (issues.length > 0) {
    throw new ConfigError(issues);
  }
  return {
    ...config,
    secrets: secretOutputs({ arcjetKey, registryPassword }),
    credentials: secretCredentials(credentials ?? {}),
  };
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
      .map(([key, value]) => [key.slice(prefix.length), decodeValue(value)]),
  );
}

/** Pulumi passes structured values, numbers and booleans as JSON text, plain strings as is. */
function decodeValue(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Overlays `override` on `base`: objects merge key by key, anything else replaces. */
function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) {
    return override === undefined ? base : override;
  }
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    result[key] = deepMerge(base[key], value);
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
    return issue.keys.map((unknownKey) => ({
      key: keyOf([...issue.path, unknownKey]),
      message: `is not a known key${suggestion(unknownKey, known)}`,
    }));
  }
  return [{ key: keyOf(issue.path), message: issue.message }];
}

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
  const ranked = known
    .map((candidate) => ({
      candidate,
      score: distance(unknownKey.toLowerCase(), candidate.toLowerCase()),
    }))
    .sort((a, b) => a.score - b.score);
  const best = ranked[0];
  if (best && best.score <= Math.max(2, Math.floor(best.candidate.length / 3))) {
    return `; did you mean "${best.candidate}"?`;
  }
  return known.length > 0 ? `; known keys here: ${known.join(", ")}` : "";
}

/** Rules that involve more than one key. */
function crossFieldIssues(config: ValidatedConfig): ConfigIssue[] {
  return [
    ...connectionBudgetIssues(config),
    ...componentProblems(config).map(({ key, reason }) => ({
      key: `${PROJECT}:${key}`,
      message: reason,
    })),
    ...productionIssues(config),
  ];
}

function optionalIssue(path: string[], message: string | undefined): ConfigIssue[] {
  return message ? [{ key: keyOf(path), message }] : [];
}

/** What prod needs to stay up through a node drain (the app's floor and TLS: the app's rules). */
function productionIssues(config: ValidatedConfig): ConfigIssue[] {
  if (config.profile !== "prod") return [];
  const ha = "prod runs at least 2 so a node drain or a rollout never takes it down";
  return [
    ...optionalIssue(
      ["pgbouncer", "replicas"],
      config.pgbouncer.replicas < 2 ? `must be ≥ 2: ${ha}` : undefined,
    ),
    ...optionalIssue(
      ["temporal", "replicas"],
      config.temporal.replicas < 2 ? `must be ≥ 2: ${ha}` : undefined,
    ),
  ];
}

/**
 * Server connections PgBouncer may open against Postgres: every replica's pool and reserve,
 * plus one more replica's worth, because a rolling update surges one new pod before an old one
 * goes and the surge pod fills its pool under load too.
 */
export function pgbouncerServerConnections(config: ValidatedConfig): number {
  const { replicas, defaultPoolSize, reservePoolSize } = config.pgbouncer;
  return (replicas + 1) * (defaultPoolSize + reservePoolSize);
}

/** Connections Postgres has for PgBouncer once superuser slots and direct clients are set aside. */
export function postgresPoolBudget(config: ValidatedConfig): number {
  const { maxConnections, superuserReservedConnections, directConnections } = config.postgres;
  return maxConnections - superuserReservedConnections - directConnections;
}

function connectionBudgetIssues(config: ValidatedConfig): ConfigIssue[] {
  const budget = postgresPoolBudget(config);
  if (budget < 1) {
    return [
      {
        key: keyOf(["postgres", "directConnections"]),
        message:
          `leaves no connections for PgBouncer: postgres.maxConnections (${config.postgres.maxConnections}) ` +
          `− superuserReservedConnections (${config.postgres.superuserReservedConnections}) ` +
          `− directConnections (${config.postgres.directConnections}) = ${budget}`,
      },
    ];
  }
  const needed = pgbouncerServerConnections(config);
  if (needed <= budget) return [];
  const { replicas, defaultPoolSize, reservePoolSize } = config.pgbouncer;
  return [
    {
      key: keyOf(["pgbouncer", "defaultPoolSize"]),
      message:
        `(pgbouncer.replicas + 1 rollout surge) × (defaultPoolSize + reservePoolSize) must be ≤ ` +
        `postgres.maxConnections − reserved (got (${replicas} + 1) × (${defaultPoolSize} + ${reservePoolSize}) = ${needed} > ${budget}); ` +
        `lower the pool or raise postgres.maxConnections`,
    },
  ];
}
