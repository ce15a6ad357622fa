import { z } from "zod";
import { PROFILES } from "../core/profile";
import { parseQuantity, QUANTITY_PATTERN } from "../core/quantity";
import { RESOURCE_PRESETS } from "../components/lib/resources";
import { PLATFORM_ROLE_NAMES } from "../components/postgres";

/** Every consumer of the object store that gets a user of its own. */
const OBJECT_STORE_CONSUMERS = ["app", "backups", "loki", "tempo"] as const;

/**
 * The zod schema of every `k3s-platform:*` stack config key. Defaults per profile live in
 * `defaults.ts`; loading, error reporting and the rules across keys in `../config.ts`.
 */

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
    error:
      "must be a DNS label: lowercase letters, digits and '-', starting and ending alphanumeric",
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

const wholeNumber = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number" });

/**
 * A credential given in config. It reaches connection URLs, ini files and shell scripts without
 * escaping, as generated ones do, so only URL-unreserved characters are allowed.
 */
const credential = z
  .string({ error: "must be a string, set with `pulumi config set --secret --path`" })
  .min(16, { error: "must be at least 16 characters" })
  .regex(/^[A-Za-z0-9._~-]+$/, {
    error:
      "may only use letters, digits and . _ ~ - (it goes into connection URLs and config files unescaped)",
  });

/** Optional given credentials of one component, by name. */
function credentialsOf<Name extends string>(names: readonly Name[]) {
  return z.strictObject(
    Object.fromEntries(names.map((name) => [name, credential.optional()])) as Record<
      Name,
      z.ZodOptional<typeof credential>
    >,
  );
}

const cronSchedule = z.string().regex(/^(\S+\s+){4}\S+$/, {
  error: 'must be a five-field cron schedule such as "0 3 * * *"',
});

/** S3's bucket naming rules, so a bad name fails here and not in the bucket Job at 3 a.m. */
const bucketName = z
  .string()
  .min(3, { error: "bucket names need 3 to 63 characters" })
  .max(63, { error: "bucket names need 3 to 63 characters" })
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, {
    error:
      "bucket names use lowercase letters, digits, '.' and '-', starting and ending alphanumeric",
  })
  .refine((name) => !name.includes(".."), { error: "bucket names may not contain '..'" })
  .refine((name) => !/^\d+\.\d+\.\d+\.\d+$/.test(name), {
    error: "bucket names may not look like an IP address",
  });

/** A Go/Prometheus duration such as `168h`, `15d` or `30m`. */
const duration = z.string().regex(/^\d+(ms|s|m|h|d|w|y)$/, {
  error: 'must be a duration such as "30m", "168h" or "15d"',
});

const ollamaModel = z.string().regex(/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$/, {
  error: 'must be an Ollama model name such as "qwen2.5:0.5b"',
});

const replicas = wholeNumber.min(1, { error: "must be at least 1" }).max(50);

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

export const schema = z.strictObject({
  profile: z.enum(PROFILES, { error: 'must be "dev" or "prod"' }),
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
    tlsSecretName: dnsLabel.optional(),
  }),
  postgres: z.strictObject({
    storageSize: quantity,
    storageClass: dnsLabel.optional(),
    resources,
    maxConnections: wholeNumber.min(20, { error: "must be at least 20" }).max(10000),
    superuserReservedConnections: wholeNumber.min(1).max(50),
    directConnections: wholeNumber.min(0),
    backup: z.strictObject({
      enabled: z.boolean(),
      schedule: cronSchedule,
      retain: wholeNumber.min(1, { error: "must keep at least one backup" }).max(365),
    }),
  }),
  pgbouncer: z.strictObject({
    replicas: wholeNumber.min(1).max(20),
    maxClientConn: wholeNumber.min(1).max(100000),
    defaultPoolSize: wholeNumber.min(1),
    minPoolSize: wholeNumber.min(0),
    reservePoolSize: wholeNumber.min(0),
    reservePoolTimeoutSeconds: wholeNumber.min(0),
    serverIdleTimeoutSeconds: wholeNumber.min(0),
    serverLifetimeSeconds: wholeNumber.min(0),
    queryWaitTimeoutSeconds: wholeNumber.min(0),
    maxPreparedStatements: wholeNumber.min(0),
    resources,
  }),
  dragonfly: z.strictObject({
    storageSize: quantity,
    resources,
    proactorThreads: wholeNumber.min(1).max(64).optional(),
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
  observability: z.strictObject({
    nodeLogs: z.boolean({ error: "must be true or false" }),
    collectorReplicas: replicas,
    objectStorage: z.boolean({ error: "must be true or false" }),
    retention: z.strictObject({ metrics: duration, logs: duration, traces: duration }),
    storage: z.strictObject({
      prometheus: quantity,
      loki: quantity,
      tempo: quantity,
      grafana: quantity,
    }),
    grafana: z.strictObject({
      host: hostname.optional(),
      anonymousViewer: z.boolean({ error: "must be true or false" }),
    }),
  }),
  temporal: z.strictObject({
    numHistoryShards: wholeNumber.min(1).max(16384),
    recordedNumHistoryShards: wholeNumber.min(1).max(16384).optional(),
    separateServices: z.boolean({ error: "must be true or false" }),
    replicas,
    resources,
    ui: z.strictObject({ host: hostname.optional() }),
    namespace: z.strictObject({
      name: dnsLabel,
      retentionDays: wholeNumber.min(1, { error: "must keep history at least one day" }).max(3650),
    }),
  }),
  ollama: z.strictObject({
    models: z.array(ollamaModel).max(20),
    storageSize: quantity,
    resources,
    keepAlive: z
      .string()
      .regex(/^(-1|\d+(s|m|h))$/, { error: 'must be a duration such as "5m" or -1' }),
    numParallel: wholeNumber.min(1).max(64),
    gpu: z
      .strictObject({
        count: wholeNumber.min(1, { error: "must be at least 1" }).max(16),
        runtimeClassName: dnsLabel.optional(),
      })
      .optional(),
  }),
  app: z.strictObject({
    image: z.string().min(1).optional(),
    build: z
      .strictObject({
        context: z.string().min(1),
        dockerfile: z.string().min(1).optional(),
        platform: z.string().min(1).optional(),
        registry: z.strictObject({
          server: z.string().min(1),
          username: z.string().min(1).optional(),
        }),
        repository: z.string().min(1),
        tag: z.string().min(1).optional(),
      })
      .optional(),
    host: hostname.optional(),
    directDatabaseAccess: z.boolean({ error: "must be true or false" }),
    web: z.strictObject({ minReplicas: replicas, maxReplicas: replicas, resources }),
    worker: z.strictObject({ replicas, resources }),
    egress: z.strictObject({
      arcjet: z.boolean({ error: "must be true or false" }),
      modelRegistry: z.boolean({ error: "must be true or false" }),
    }),
  }),
  deployTargets: z.strictObject({
    /** Default `<namespace>-apps`, applied by the DeployTarget component (it depends on `namespace`). */
    namespaces: z.array(dnsLabel).min(1, { error: "must list at least one namespace" }).optional(),
    quota: z.strictObject({
      requestsCpu: quantity,
      requestsMemory: quantity,
      limitsCpu: quantity,
      limitsMemory: quantity,
      pods: wholeNumber.min(1, { error: "must allow at least 1 pod" }),
      services: wholeNumber.min(0),
      persistentVolumeClaims: wholeNumber.min(0),
    }),
    containerLimits: z.strictObject({
      default: z.strictObject({ cpu: quantity, memory: quantity }),
      defaultRequest: z.strictObject({ cpu: quantity, memory: quantity }),
      max: z.strictObject({ cpu: quantity, memory: quantity }),
    }),
    apiServer: z.strictObject({
      cidrs: z.array(cidr).min(1).optional(),
      port: wholeNumber.min(1).max(65535),
    }),
  }),
  /** Arcjet API key (`ARCJET_KEY`); must be set with `pulumi config set --secret`. */
  arcjetKey: z.string().min(1).optional(),
  /** Password of `app.build.registry`; must be set with `pulumi config set --secret`. */
  registryPassword: z.string().min(1).optional(),
  /**
   * Credentials given instead of generated (teams that keep passwords in a vault); every one left
   * out is generated with `@pulumi/random`. Set with `pulumi config set --secret --path`.
   */
  credentials: z
    .strictObject({
      postgres: credentialsOf(["superuser", ...PLATFORM_ROLE_NAMES]),
      pgbouncer: credentialsOf(["stats"]),
      dragonfly: credentialsOf(["password"]),
      objectStore: credentialsOf(["root", ...OBJECT_STORE_CONSUMERS]),
      grafana: credentialsOf(["admin"]),
    })
    .partial()
    .optional(),
});
