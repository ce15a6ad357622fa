import * as pulumi from "@pulumi/pulumi";
import { distance } from "fastest-levenshtein";
import { z } from "zod";
import { parseQuantity, QUANTITY_PATTERN } from "./components/lib/quantity";
import { memoryCeiling, RESOURCE_PRESETS, type ResourceSpec } from "./components/lib/resources";

/**
 * The stack configuration: one zod schema for every `k3s-platform:*` key, defaults per profile,
 * and the rules that involve more than one key. This is the only module that reads Pulumi config;
 * components receive the typed result. Every error names the full key and the reason, and all of
 * them are reported before a single resource exists.
 */

export const PROJECT = "k3s-platform";

/** Smallest memory Dragonfly accepts per proactor thread. */
export const DRAGONFLY_MIB_PER_THREAD = 256;
/** Share of the Dragonfly container's memory ceiling given to `--maxmemory`; the rest is overhead. */
export const DRAGONFLY_MAXMEMORY_FRACTION = 0.8;

const quantity = z
  .string({ error: "must be a Kubernetes quantity string such as 512Mi, 2Gi, 500m or 2" })
  .regex(QUANTITY_PATTERN, {
    error: (issue) =>
      `must be a non-negative Kubernetes quantity such as 512Mi, 2Gi, 500m or 2 (got "${String(issue.input)}")`,
  })
  // A value the pattern already refused is reported once, by the pattern.
  .refine((value) => !QUANTITY_PATTERN.test(value) || parseQuantity(value) > 0, {
    error: "must be greater than zero",
  });

/** `limit` is below `request`, when both are well-formed quantities. */
function below(limit: string | undefined, request: string): boolean {
  if (!limit || !QUANTITY_PATTERN.test(limit) || !QUANTITY_PATTERN.test(request)) return false;
  return parseQuantity(limit) < parseQuantity(request);
}

const dnsLabel = z
  .string()
  .max(63, { error: "must be at most 63 characters" })
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    error: "must be a DNS label: lowercase letters, digits and '-', starting and ending alphanumeric",
  });

const hostname = z
  .string()
  .max(253)
  .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: "must be a lowercase DNS name such as platform.example.com",
  });

const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/, {
  error: "must be an IPv4 CIDR such as 10.42.0.0/16",
});

const positiveInt = z.number({ error: "must be a number" }).int({ error: "must be a whole number" });

const cronSchedule = z.string().regex(/^(\S+\s+){4}\S+$/, {
  error: 'must be a five-field cron schedule such as "0 3 * * *"',
});

/** S3's bucket naming rules, so a bad name fails here and not in the bucket Job at 3 a.m. */
const bucketName = z
  .string()
  .min(3, { error: "bucket names need 3 to 63 characters" })
  .max(63, { error: "bucket names need 3 to 63 characters" })
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, {
    error: "bucket names use lowercase letters, digits, '.' and '-', starting and ending alphanumeric",
  })
  .refine((name) => !name.includes(".."), { error: "bucket names may not contain '..'" })
  .refine((name) => !/^\d+\.\d+\.\d+\.\d+$/.test(name), {
    error: "bucket names may not look like an IP address",
  });

const presetNames = Object.keys(RESOURCE_PRESETS).join(", ");

/** A preset name or explicit requests and limits; presets expand before validation. */
const resources = z.preprocess(
  (value) =>
    typeof value === "string" && value in RESOURCE_PRESETS
      ? { ...RESOURCE_PRESETS[value as keyof typeof RESOURCE_PRESETS] }
      : value,
  z
    .strictObject(
      {
        cpu: quantity,
        memory: quantity,
        cpuLimit: quantity.optional(),
        memoryLimit: quantity.optional(),
      },
      {
        error: (issue) =>
          issue.code === "invalid_type"
            ? `must be a preset (${presetNames}) or an object {cpu, memory, cpuLimit?, memoryLimit?}`
            : undefined,
      },
    )
    .check((ctx) => {
      const spec = ctx.value;
      if (below(spec.memoryLimit, spec.memory)) {
        ctx.issues.push({
          code: "custom",
          input: spec,
          path: ["memoryLimit"],
          message: `must be at least the memory request (${spec.memoryLimit} < ${spec.memory})`,
        });
      }
      if (below(spec.cpuLimit, spec.cpu)) {
        ctx.issues.push({
          code: "custom",
          input: spec,
          path: ["cpuLimit"],
          message: `must be at least the cpu request (${spec.cpuLimit} < ${spec.cpu})`,
        });
      }
    }),
);

const schema = z.strictObject({
  profile: z.enum(["dev", "prod"], { error: 'must be "dev" or "prod"' }),
  namespace: dnsLabel,
  protectStateful: z.boolean({ error: "must be true or false" }),
  kubernetes: z.strictObject({
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
  }),
  cluster: z.strictObject({
    domain: hostname,
    podCidr: cidr,
    serviceCidr: cidr,
    storageClass: dnsLabel,
    ingressClass: dnsLabel,
  }),
  postgres: z.strictObject({
    storageSize: quantity,
    storageClass: dnsLabel.optional(),
    resources,
    maxConnections: positiveInt.min(20, { error: "must be at least 20" }).max(10000),
    superuserReservedConnections: positiveInt.min(1).max(50),
    directConnections: positiveInt.min(0),
    backup: z.strictObject({
      enabled: z.boolean(),
      schedule: cronSchedule,
      retain: positiveInt.min(1, { error: "must keep at least one backup" }).max(365),
    }),
  }),
  pgbouncer: z.strictObject({
    replicas: positiveInt.min(1).max(20),
    maxClientConn: positiveInt.min(1).max(100000),
    defaultPoolSize: positiveInt.min(1),
    minPoolSize: positiveInt.min(0),
    reservePoolSize: positiveInt.min(0),
    reservePoolTimeoutSeconds: positiveInt.min(0),
    serverIdleTimeoutSeconds: positiveInt.min(0),
    serverLifetimeSeconds: positiveInt.min(0),
    queryWaitTimeoutSeconds: positiveInt.min(0),
    maxPreparedStatements: positiveInt.min(0),
    resources,
  }),
  dragonfly: z.strictObject({
    storageSize: quantity,
    resources,
    proactorThreads: positiveInt.min(1).max(64).optional(),
    snapshotCron: cronSchedule,
  }),
  objectStore: z.strictObject({
    image: z.string().min(1).optional(),
    clientImage: z.string().min(1).optional(),
    storageSize: quantity,
    resources,
    buckets: z.strictObject({
      app: bucketName,
      backups: bucketName,
      loki: bucketName,
      tempo: bucketName,
    }),
  }),
});

/** The validated stack configuration that `index.ts` hands to the Platform. */
export type PlatformConfig = z.output<typeof schema>;
export type Profile = PlatformConfig["profile"];

/** Input shape of a profile's defaults: everything but the profile itself, all optional. */
type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
type Defaults = DeepPartial<Omit<z.input<typeof schema>, "profile">>;

const COMMON_DEFAULTS: Defaults = {
  namespace: "platform",
  kubernetes: {},
  cluster: {
    domain: "platform.localhost",
    podCidr: "10.42.0.0/16",
    serviceCidr: "10.43.0.0/16",
    storageClass: "local-path",
    ingressClass: "traefik",
  },
  postgres: {
    superuserReservedConnections: 3,
    backup: { schedule: "0 3 * * *", retain: 7 },
  },
  pgbouncer: {
    maxClientConn: 1000,
    defaultPoolSize: 25,
    minPoolSize: 0,
    reservePoolSize: 5,
    reservePoolTimeoutSeconds: 3,
    serverIdleTimeoutSeconds: 600,
    serverLifetimeSeconds: 3600,
    queryWaitTimeoutSeconds: 120,
    maxPreparedStatements: 200,
    resources: "nano",
  },
  dragonfly: { snapshotCron: "*/30 * * * *" },
  objectStore: { buckets: { app: "app", backups: "backups", loki: "loki", tempo: "tempo" } },
};

/** Per-profile defaults: dev is one small node; prod is HA, protected and backed up. */
export const PROFILE_DEFAULTS: Record<Profile, Defaults> = {
  dev: {
    protectStateful: false,
    postgres: {
      storageSize: "5Gi",
      resources: { cpu: "250m", memory: "512Mi", memoryLimit: "1Gi" },
      maxConnections: 100,
      directConnections: 40,
      backup: { enabled: false },
    },
    pgbouncer: { replicas: 1 },
    dragonfly: {
      storageSize: "1Gi",
      resources: { cpu: "100m", memory: "512Mi", cpuLimit: "1", memoryLimit: "512Mi" },
    },
    objectStore: { storageSize: "10Gi", resources: "small" },
  },
  prod: {
    protectStateful: true,
    postgres: {
      storageSize: "50Gi",
      resources: { cpu: "1", memory: "4Gi", cpuLimit: "4", memoryLimit: "4Gi" },
      maxConnections: 200,
      directConnections: 60,
      backup: { enabled: true },
    },
    pgbouncer: { replicas: 2 },
    dragonfly: {
      storageSize: "10Gi",
      resources: { cpu: "500m", memory: "2Gi", cpuLimit: "2", memoryLimit: "2Gi" },
    },
    objectStore: { storageSize: "100Gi", resources: "medium" },
  },
};

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
export function parseConfig(raw: Record<string, string>): PlatformConfig {
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
  const issues = crossFieldIssues(result.data);
  if (issues.length > 0) {
    throw new ConfigError(issues);
  }
  return result.data;
}

/** Reads the current stack's config from the Pulumi runtime. */
export function loadConfig(): PlatformConfig {
  return parseConfig(pulumi.runtime.allConfig());
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
function crossFieldIssues(config: PlatformConfig): ConfigIssue[] {
  return [...connectionBudgetIssues(config), ...dragonflyMemoryIssues(config)];
}

/** Server connections PgBouncer may open against Postgres, across all of its replicas. */
export function pgbouncerServerConnections(config: PlatformConfig): number {
  const { replicas, defaultPoolSize, reservePoolSize } = config.pgbouncer;
  return replicas * (defaultPoolSize + reservePoolSize);
}

/** Connections Postgres has for PgBouncer once superuser slots and direct clients are set aside. */
export function postgresPoolBudget(config: PlatformConfig): number {
  const { maxConnections, superuserReservedConnections, directConnections } = config.postgres;
  return maxConnections - superuserReservedConnections - directConnections;
}

function connectionBudgetIssues(config: PlatformConfig): ConfigIssue[] {
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
        `pgbouncer.replicas × (defaultPoolSize + reservePoolSize) must be ≤ postgres.maxConnections − reserved ` +
        `(got ${replicas} × (${defaultPoolSize} + ${reservePoolSize}) = ${needed} > ${budget}); ` +
        `lower the pool or raise postgres.maxConnections`,
    },
  ];
}

/** Threads Dragonfly runs: the configured count, else one per whole CPU of its limit. */
export function dragonflyThreads(config: PlatformConfig): number {
  const { proactorThreads, resources: spec } = config.dragonfly;
  if (proactorThreads) return proactorThreads;
  return Math.max(1, Math.floor(parseQuantity(spec.cpuLimit ?? spec.cpu)));
}

/** `--maxmemory` of Dragonfly in MiB. */
export function dragonflyMaxMemoryMiB(spec: ResourceSpec): number {
  return Math.floor((parseQuantity(memoryCeiling(spec)) / 2 ** 20) * DRAGONFLY_MAXMEMORY_FRACTION);
}

function dragonflyMemoryIssues(config: PlatformConfig): ConfigIssue[] {
  const threads = dragonflyThreads(config);
  const maxMemory = dragonflyMaxMemoryMiB(config.dragonfly.resources);
  const needed = threads * DRAGONFLY_MIB_PER_THREAD;
  if (maxMemory >= needed) return [];
  return [
    {
      key: keyOf(["dragonfly", "resources", "memoryLimit"]),
      message:
        `gives Dragonfly ${maxMemory} MiB of maxmemory (${DRAGONFLY_MAXMEMORY_FRACTION * 100}% of the limit) ` +
        `for ${threads} thread(s), but it needs ${DRAGONFLY_MIB_PER_THREAD} MiB per thread (${needed} MiB); ` +
        `raise the memory limit or lower dragonfly.proactorThreads`,
    },
  ];
}
