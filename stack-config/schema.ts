import { z } from "zod";
import { PROFILES } from "../policy/model/profile";
import { cronProblem, longestCronGapSeconds } from "../core/cron";
import {
  parseQuantity,
  QUANTITY_PATTERN,
  quantityKindProblem,
  quantityUnitHint,
  type QuantityKind,
} from "../core/quantity";
import { NODE_LOGS_NAMESPACE_SUFFIX } from "../policy/model/security-exceptions";
import {
  malformedReferenceProblem,
  parseImageReference,
  unpinnedReferenceProblem,
} from "../policy/model/image-reference";
import { IMAGE_NAMES, type ImageName } from "../core/images";
import { describeInput } from "./messages";
import { RESOURCE_PRESETS } from "../components/lib/resources";
import { APP_LOGINS, PLATFORM_ROLE_NAMES } from "../components/postgres/init";
import { S3_KEY_PREFIX } from "../core/s3";
import { alertingCredentialIssues, alertingCredentialsSchema, alertingSchema } from "./alerting";

/** Every consumer of the object store that gets a user of its own. */
const OBJECT_STORE_CONSUMERS = ["app", "backups", "loki", "tempo", "dragonfly"] as const;

/**
 * The zod schema of every `k3s-platform:*` stack config key. Defaults per profile live in
 * `defaults.ts`; loading, error reporting and the rules across keys in `../config.ts`.
 */

/**
 * A Kubernetes quantity of one kind (CPU, memory, storage): the general pattern first (which the
 * config reference recognises as a quantity), then what makes sense for the kind.
 */
function quantity(kind: QuantityKind) {
  const cpuKind = kind === "cpu" || kind === "quotaCpu";
  const example = cpuKind ? '"2" or "500m"' : kind === "storage" ? '"20Gi"' : '"512Mi"';
  const typeError = (input: unknown) =>
    `must be a quantity string such as ${example} (got ${describeInput(input)}` +
    (typeof input !== "number" ? ")" : cpuKind ? ": quote it)" : `: did you mean "${input}Gi"?)`);
  return (
    z
      .string({
        error: (issue) =>
          issue.code === "invalid_type" && issue.input !== undefined
            ? typeError(issue.input)
            : undefined,
      })
      .regex(QUANTITY_PATTERN, {
        error: (issue) =>
          `must be a non-negative Kubernetes quantity such as 512Mi, 2Gi, 500m or 2 (got "${String(issue.input)}")` +
          quantityUnitHint(String(issue.input)),
      })
      // A value the pattern already refused is reported once, by the pattern.
      .check((ctx) => {
        const problem = quantityKindProblem(kind, ctx.value);
        if (problem) ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
      })
  );
}
const cpu = quantity("cpu");
const memory = quantity("memory");
const storage = quantity("storage");

/** `limit` is below `request`, when both are quantities that make sense for their kind. */
function below(kind: QuantityKind, limit: string | undefined, request: string): boolean {
  // A value refused on its own (malformed, or `2048m` of memory) is reported once, on its own.
  const sound = (value: string) =>
    QUANTITY_PATTERN.test(value) && quantityKindProblem(kind, value) === undefined;
  if (!limit || !sound(limit) || !sound(request)) return false;
  return parseQuantity(limit) < parseQuantity(request);
}

/** A custom message with the value that was given: `must be … (got the string "x")`. */
function withInput(message: string) {
  return (issue: { input?: unknown }) => `${message} (got ${describeInput(issue.input)})`;
}

const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    error: withInput(
      "must be a DNS label: lowercase letters, digits and '-', starting and ending alphanumeric",
    ),
  });

/** Namespaces Kubernetes itself owns: the platform may neither create nor take them over. */
function systemNamespace(name: string): boolean {
  return name === "default" || name.startsWith("kube-");
}

/**
 * The platform's namespace. Not Kubernetes' own (`default`, `kube-*`), and not shaped like a
 * node-log namespace: the policy pack grants the node log collector's exception (a hostPath and
 * root) to the namespace ending in `-node-logs`, and the platform creates `<namespace>-node-logs`
 * itself.
 */
const platformNamespace = dnsLabel.check((ctx) => {
  const name = ctx.value;
  const problem = systemNamespace(name)
    ? `must not be "default" or start with "kube-" (got "${name}"): those are Kubernetes' own, and the platform creates and locks down its namespace (Pod Security, deny-all NetworkPolicies)`
    : name.endsWith(NODE_LOGS_NAMESPACE_SUFFIX)
      ? `must not end in "${NODE_LOGS_NAMESPACE_SUFFIX}" (got "${name}"): that suffix marks the privileged node-log namespace the platform creates beside its own (<namespace>${NODE_LOGS_NAMESPACE_SUFFIX}), and the policy pack exempts it from Pod Security`
      : undefined;
  if (problem) ctx.issues.push({ code: "custom", input: name, message: problem });
});

const hostname = z
  .string()
  .max(253)
  .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: withInput("must be a lowercase DNS name such as platform.example.com"),
  });

const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/, {
  error: withInput("must be an IPv4 CIDR such as 10.42.0.0/16"),
});

/**
 * A whole number from `min` to `max`. Type and range messages come from config.ts's messages
 * ("must be at least 1 (got 0)"); `why`, when given, follows a range message.
 */
function integer(min: number, max?: number, why?: string) {
  const suffix = why ? `: ${why}` : "";
  const base = z
    .number()
    .int()
    .min(min, {
      error: (issue) => `must be at least ${min} (got ${String(issue.input)})${suffix}`,
    });
  return max === undefined
    ? base
    : base.max(max, {
        error: (issue) => `must be at most ${max} (got ${String(issue.input)})${suffix}`,
      });
}

/** A TCP port. */
const port = integer(1, 65535);

/** An image reference that names one build: an exact tag, a digest, or both. */
const imageReference = z.string().check((ctx) => {
  const parsed = parseImageReference(ctx.value);
  const problem = malformedReferenceProblem(parsed) ?? unpinnedReferenceProblem(parsed);
  if (problem !== undefined) {
    ctx.issues.push({
      code: "custom",
      input: ctx.value,
      message: `${problem} (got "${ctx.value}")`,
    });
  }
});

/**
 * References to deploy instead of catalogue images (core/images.ts), by catalogue name: a mirror,
 * or another build. `npm run images:lock` resolves them too, and each is pinned by the image lock
 * like the catalogue's own. The image must run as the catalogue entry's user.
 */
const imageOverrides = z.strictObject(
  Object.fromEntries(IMAGE_NAMES.map((name) => [name, imageReference.optional()])) as Record<
    ImageName,
    z.ZodOptional<typeof imageReference>
  >,
);

/** The largest UID/GID Linux user namespaces map. */
const MAX_ID = 2 ** 31 - 1;

/** A Kubernetes object name (a DNS subdomain), e.g. a Secret's. */
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: withInput(
      "must be a Kubernetes object name (DNS subdomain): lowercase letters, digits, '-' and '.'",
    ),
  });

/** A container's command or arguments: replaces the image's ENTRYPOINT or CMD. */
const entrypoint = z.array(z.string()).optional();

/** One health check: an HTTP GET `path` (on `port`, else the container's own) or an `exec` command. */
const appProbe = z.strictObject({
  path: z.string().optional(),
  port: port.optional(),
  exec: z.array(z.string()).optional(),
});

/** The probes of an app container; `startup` defaults to `liveness`. */
const appProbes = z.strictObject({
  readiness: appProbe,
  liveness: appProbe,
  startup: appProbe.optional(),
  startupSeconds: integer(1, 3600),
});

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

/**
 * A five-field cron schedule, each field checked against its range (core/cron.ts), that runs at
 * all: `0 0 30 2 *` parses, and would never back anything up.
 */
const cronSchedule = z.string().check((ctx) => {
  const problem =
    cronProblem(ctx.value) ??
    (longestCronGapSeconds(ctx.value) === undefined
      ? `never runs: no date has that day of month in those months (in "${ctx.value}")`
      : undefined);
  if (problem) ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
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
  error: withInput('must be a duration such as "30m", "168h" or "15d"'),
});

const ollamaModel = z.string().regex(/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$/, {
  error: withInput('must be an Ollama model name such as "qwen2.5:0.5b"'),
});

const replicas = integer(1, 50);

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
        cpu,
        memory,
        cpuLimit: cpu.optional(),
        memoryLimit: memory.optional(),
      },
      {
        error: (issue) =>
          issue.code === "invalid_type"
            ? `must be a preset (${presetNames}) or an object {cpu, memory, cpuLimit?, memoryLimit?} (got ${describeInput(issue.input)})`
            : undefined,
      },
    )
    .check((ctx) => {
      const spec = ctx.value;
      if (below("memory", spec.memoryLimit, spec.memory)) {
        ctx.issues.push({
          code: "custom",
          input: spec,
          path: ["memoryLimit"],
          message: `must be at least the memory request (${spec.memoryLimit} < ${spec.memory})`,
        });
      }
      if (below("cpu", spec.cpuLimit, spec.cpu)) {
        ctx.issues.push({
          code: "custom",
          input: spec,
          path: ["cpuLimit"],
          message: `must be at least the cpu request (${spec.cpuLimit} < ${spec.cpu})`,
        });
      }
    }),
);

/**
 * Where a component sends data to an S3-compatible bucket: `type` says which store, `prefix` is
 * the folder in any. An `s3` target is a bucket outside the cluster (`endpoint`, `bucket`,
 * `region`, `pathStyle`, `caBundle`); the other types take none of those. One shape for every such
 * key (`postgres.backup.target`, `dragonfly.snapshotTarget`), so a stack writes them alike.
 */
function storeTarget<const T extends readonly [string, ...string[]]>(types: T) {
  const quoted = types.map((type) => `"${type}"`);
  const choices = `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
  return z.strictObject({
    type: z.enum(types, { error: withInput(`must be ${choices}`) }),
    endpoint: z
      .url({
        protocol: /^https?$/,
        error: withInput("must be an http(s) URL such as https://s3.eu-central-1.amazonaws.com"),
      })
      .optional(),
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, { error: withInput("must be an S3 region such as eu-central-1") })
      .optional(),
    bucket: bucketName.optional(),
    prefix: z.string().regex(S3_KEY_PREFIX, {
      error: withInput(
        "must be letters, digits and . _ - / without a leading, trailing or doubled '/'",
      ),
    }),
    pathStyle: z.boolean().optional(),
    /** PEM bundle of a private CA that signed the endpoint's certificate. */
    caBundle: z.string().min(1).optional(),
  });
}

export const schema = z
  .strictObject({
    profile: z.enum(PROFILES, { error: 'must be "dev" or "prod"' }),
    namespace: platformNamespace,
    protectStateful: z.boolean(),
    kubernetes: z.strictObject({
      kubeconfig: z.string().min(1).optional(),
      context: z.string().min(1).optional(),
    }),
    cluster: z.strictObject({
      domain: hostname,
      podCidr: cidr,
      serviceCidr: cidr,
      /**
       * The K3s nodes' own network: Prometheus reaches the kubelets (10250) there, and it is the
       * default of `deployTargets.apiServer.cidrs`. Dev defaults to the private ranges (RFC 1918);
       * prod requires it.
       */
      nodeCidrs: z.array(cidr).min(1, { error: "must list at least one CIDR" }).optional(),
      storageClass: dnsLabel,
      ingressClass: dnsLabel,
      tlsSecretName: dnsLabel.optional(),
      /**
       * Nodes that run the platform's pods. More than one makes the spread of PgBouncer's and the
       * web's replicas hard (`DoNotSchedule`): no two on one node, so a node lost never takes them
       * all; with one, a hard spread could not place the second replica at all.
       */
      nodes: integer(1, 10000),
    }),
    postgres: z.strictObject({
      storageSize: storage,
      storageClass: dnsLabel.optional(),
      resources,
      maxConnections: integer(20, 10000, "Postgres, PgBouncer's pools and Temporal need that many"),
      superuserReservedConnections: integer(1, 50),
      directConnections: integer(0),
      /**
       * The app login its consumers use, `app` or `app2` (both act as `app`, owner of its
       * tables). To rotate the app's password, give the other login the new one
       * (`credentials.postgres.<login>`) and name it here, in one `up`: pods on the old login keep
       * working until the rollout has replaced them. Default `app`.
       */
      appLogin: z
        .enum(APP_LOGINS, { error: withInput(`must be one of ${APP_LOGINS.join(", ")}`) })
        .optional(),
      /**
       * Members of a Patroni cluster, one per node, instead of the single StatefulSet pod: a
       * lost node costs a failover, not the database. Fixed at the stack's creation: switching
       * an existing stack between single and HA is refused (see the README's HA section).
       */
      ha: z.strictObject({
        /**
         * Required in prod: true for a new stack, false for a stack created with the single
         * server, which keeps it (a switch is refused). Dev defaults to false.
         */
        enabled: z.boolean().optional(),
        members: integer(2, 9, "a failover needs a standby; each member needs its own node"),
        /**
         * A commit returns only once `synchronousStandbys` standbys have it, so a failover never
         * loses an acknowledged transaction; Patroni promotes only a synchronous standby.
         */
        synchronousMode: z.boolean(),
        synchronousStandbys: integer(1, 8),
      }),
      backup: z.strictObject({
        enabled: z.boolean(),
        /**
         * Prod only: run without backups knowingly. Without it, prod refuses `enabled: false`.
         */
        acceptNoBackups: z.boolean().optional(),
        schedule: cronSchedule,
        retain: integer(1, 365, "keep at least one backup"),
        /**
         * Where the dumps go: `in-cluster`, the object store's backups bucket on the same node's
         * disk (lost with the node), or `s3`, an S3-compatible bucket outside the cluster
         * (`endpoint`, `bucket`, `region`, `pathStyle`, `caBundle`, with the secret keys
         * `backupS3AccessKeyId` and `backupS3SecretAccessKey`). `prefix` is the folder in either.
         */
        target: storeTarget(["in-cluster", "s3"]),
        /**
         * Prod only: keep the backups on the node knowingly. Without it, prod refuses an
         * `in-cluster` target, whose backups are lost with the node that holds the database.
         */
        acceptBackupsOnNode: z.boolean().optional(),
        /**
         * Continuous WAL archiving to the target next to base backups, for restores to any point
         * in time (prod default). A commit reaches the target at most `archiveTimeoutSeconds` +
         * `uploadIntervalSeconds` (plus one upload) after it is made: prod refuses more than
         * 240 s, so the recovery point stays within 5 minutes. Base backups run on
         * `baseBackupSchedule`; each is kept while it is one of the newest `keepBaseBackups` or
         * younger than `keepDays` (and the newest older one), with the WAL they need.
         */
        wal: z.strictObject({
          enabled: z.boolean(),
          archiveTimeoutSeconds: integer(10, 3600),
          uploadIntervalSeconds: integer(5, 600),
          baseBackupSchedule: cronSchedule,
          keepBaseBackups: integer(1, 100, "keep at least one base backup"),
          keepDays: integer(1, 3650),
        }),
      }),
      /**
       * Start a new stack's database from the backup target: `latest`, a base backup's name
       * (`20261205T013000Z`), or a point in time in the past (`2026-12-05T10:15:00Z`). Only an
       * empty data volume is restored into; one that holds a database stops the pod with an
       * error and is left as it is. The migrations and the app wait for it.
       */
      restoreFrom: z.string().min(1).optional(),
      /**
       * The folder in the target's bucket to restore from: another stack's `target.prefix`, to
       * start a copy of it while this stack archives under its own. Default: this stack's.
       */
      restorePrefix: z
        .string()
        .regex(S3_KEY_PREFIX, {
          error: withInput(
            "must be letters, digits and . _ - / without a leading, trailing or doubled '/'",
          ),
        })
        .optional(),
    }),
    pgbouncer: z.strictObject({
      replicas: integer(1, 20),
      maxClientConn: integer(1, 100000),
      defaultPoolSize: integer(1),
      minPoolSize: integer(0),
      reservePoolSize: integer(0),
      reservePoolTimeoutSeconds: integer(0),
      serverIdleTimeoutSeconds: integer(0),
      serverLifetimeSeconds: integer(0),
      queryWaitTimeoutSeconds: integer(0),
      maxPreparedStatements: integer(0),
      /** Seconds a stopping pod waits for in-flight transactions; the grace period is this + 5. */
      drainSeconds: integer(1, 3600, "the longest transaction a rollout waits for"),
      resources,
    }),
    dragonfly: z.strictObject({
      storageSize: storage,
      resources,
      proactorThreads: integer(1, 64).optional(),
      snapshotCron: cronSchedule,
      /**
       * Where snapshots go and are loaded from at start: `volume`, Dragonfly's own PVC; `in-cluster`,
       * the object store's dragonfly bucket; or `s3`, a bucket outside the cluster, with the secret
       * keys `dragonflyS3AccessKeyId` and `dragonflyS3SecretAccessKey`. `prefix` is the folder.
       */
      snapshotTarget: storeTarget(["volume", "in-cluster", "s3"]),
    }),
    /** Images to deploy instead of the catalogue's, by catalogue name (`images.minio`). */
    images: imageOverrides,
    /**
     * The image lock to pin images by, relative to the project directory. Default the policy
     * pack's `policy/images.lock.json`, which `npm run images:lock` writes.
     */
    imagesLock: z.string().min(1).optional(),
    objectStore: z.strictObject({
      storageSize: storage,
      resources,
      buckets: z.strictObject({
        app: bucketName,
        backups: bucketName,
        loki: bucketName,
        tempo: bucketName,
        dragonfly: bucketName,
      }),
      /**
       * Most each consumer's bucket may hold (a hard bucket quota, set by the bucket Job); the
       * quotas of the buckets that exist add up to no more than `storageSize`.
       */
      quotas: z.strictObject({
        app: storage,
        backups: storage,
        loki: storage,
        tempo: storage,
        dragonfly: storage,
      }),
    }),
    observability: z.strictObject({
      nodeLogs: z.boolean(),
      collectorReplicas: replicas,
      /** kube-state-metrics' replicas; 2 or more are spread across nodes. */
      kubeStateMetricsReplicas: replicas,
      /**
       * Loki's chunks and Tempo's blocks in object storage rather than on their volumes (prod).
       * `objectStorageTarget` says which: `in-cluster`, the object store's `loki` and `tempo`
       * buckets; or `backup-target`, the external endpoint of `postgres.backup.target` (which
       * must be `s3`), in the buckets `externalBuckets.loki` and `externalBuckets.tempo`, with a
       * key pair of their own in the secret keys `telemetryS3AccessKeyId` and
       * `telemetryS3SecretAccessKey`, so the telemetry's user cannot touch the backups.
       */
      objectStorage: z.boolean(),
      objectStorageTarget: z.enum(["in-cluster", "backup-target"], {
        error: withInput('must be "in-cluster" or "backup-target"'),
      }),
      externalBuckets: z.strictObject({ loki: bucketName, tempo: bucketName }).optional(),
      retention: z.strictObject({ metrics: duration, logs: duration, traces: duration }),
      storage: z.strictObject({
        prometheus: storage,
        loki: storage,
        tempo: storage,
        grafana: storage,
      }),
      grafana: z.strictObject({
        host: hostname.optional(),
        anonymousViewer: z.boolean(),
      }),
      /** Alertmanager's receivers and grouping (`./alerting.ts`); none by default: the blackhole. */
      alerting: alertingSchema,
    }),
    temporal: z.strictObject({
      numHistoryShards: integer(1, 16384),
      recordedNumHistoryShards: integer(1, 16384).optional(),
      separateServices: z.boolean(),
      replicas,
      resources,
      ui: z.strictObject({
        host: hostname.optional(),
        /**
         * Serve the UI through an Ingress at `host`. Off, there is none: operators reach it with
         * `kubectl port-forward` (docs/temporal-ui.md). Prod refuses it on without `oidc`.
         */
        ingress: z.boolean(),
        /** Let the UI terminate, cancel, reset and signal workflows and run batch actions. */
        writeActions: z.boolean(),
        /**
         * The UI's own OIDC login, with `temporalUiClientSecret`; all or nothing. The provider
         * sends the browser back to `<ui URL>/auth/sso/callback`.
         */
        oidc: z
          .strictObject({
            issuerUrl: z.string().min(1).optional(),
            clientId: z.string().min(1).optional(),
            scopes: z.array(z.string().min(1)).min(1).optional(),
          })
          .optional(),
      }),
      namespace: z.strictObject({
        name: dnsLabel,
        retentionDays: integer(1, 3650, "keep history at least one day"),
      }),
    }),
    ollama: z.strictObject({
      models: z.array(ollamaModel).max(20),
      storageSize: storage,
      resources,
      keepAlive: z
        .string()
        .regex(/^(-1|\d+(s|m|h))$/, { error: withInput('must be a duration such as "5m" or -1') }),
      numParallel: integer(1, 64),
      gpu: z
        .strictObject({
          count: integer(1, 16),
          runtimeClassName: dnsLabel.optional(),
        })
        .optional(),
    }),
    app: z.strictObject({
      /** Pinned image reference; leave both `image` and `build` out and the app is off. */
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
      /** An existing `kubernetes.io/dockerconfigjson` Secret in the platform namespace to pull with. */
      imagePullSecret: dnsSubdomain.optional(),
      /** Login for pulling `app.image`, with `registryPassword`: the platform makes the pull Secret. */
      registryUsername: z.string().min(1).optional(),
      uid: integer(1, MAX_ID),
      gid: integer(1, MAX_ID).optional(),
      host: hostname.optional(),
      directDatabaseAccess: z.boolean(),
      /**
       * Connections one app pod may open on `DATABASE_DIRECT_URL`, for the connection budget: the URL
       * sets no limit, so this is what the app's driver pool allows (node-postgres' and postgres.js'
       * default `max` is 10). Read only with `directDatabaseAccess`.
       */
      directConnectionsPerPod: integer(1, 100),
      web: z.strictObject({
        port,
        probes: appProbes,
        command: entrypoint,
        args: entrypoint,
        minReplicas: replicas,
        maxReplicas: replicas,
        resources,
      }),
      worker: z.strictObject({
        command: entrypoint,
        args: entrypoint,
        healthPort: port,
        probes: appProbes,
        replicas,
        resources,
      }),
      egress: z.strictObject({
        arcjet: z.boolean(),
        modelRegistry: z.boolean(),
      }),
    }),
    deployTargets: z.strictObject({
      /** Default `<namespace>-apps`, applied by the DeployTarget component (it depends on `namespace`). */
      namespaces: z
        .array(dnsLabel)
        .min(1, { error: "must list at least one namespace" })
        .optional(),
      quota: z.strictObject({
        requestsCpu: quantity("quotaCpu"),
        requestsMemory: quantity("quotaMemory"),
        limitsCpu: quantity("quotaCpu"),
        limitsMemory: quantity("quotaMemory"),
        pods: integer(1),
        services: integer(0),
        persistentVolumeClaims: integer(0),
      }),
      containerLimits: z.strictObject({
        default: z.strictObject({ cpu, memory }),
        defaultRequest: z.strictObject({ cpu, memory }),
        max: z.strictObject({ cpu, memory }),
      }),
      apiServer: z.strictObject({
        /** The K3s server nodes' addresses. Default `cluster.nodeCidrs`; prod requires it. */
        cidrs: z.array(cidr).min(1, { error: "must list at least one CIDR" }).optional(),
        port: integer(1, 65535),
      }),
      /**
       * Users' Ingresses may only use hosts under it (`svc.<appsDomain>`); the cluster refuses any
       * other, and every platform host. Default `apps.<cluster.domain>`; it may not be or contain a
       * platform host (`app.host`, `observability.grafana.host`, `temporal.ui.host`).
       */
      appsDomain: hostname.optional(),
      /**
       * Where the worker posts its deploy notifications (`notifyUsers`, a webhook): the addresses
       * and ports its NetworkPolicy lets it reach. Default none: the worker reaches nothing outside.
       */
      notify: z
        .strictObject({
          cidrs: z.array(cidr).min(1, { error: "must list at least one CIDR" }),
          ports: z.array(port).min(1, { error: "must list at least one port" }),
        })
        .optional(),
    }),
    /** Arcjet API key (`ARCJET_KEY`); must be set with `pulumi config set --secret`. */
    arcjetKey: z.string().min(1).optional(),
    /** Password of `app.build.registry`; must be set with `pulumi config set --secret`. */
    registryPassword: z.string().min(1).optional(),
    /** The Temporal UI's OIDC client secret (`temporal.ui.oidc`); set with `--secret`. */
    temporalUiClientSecret: z.string().min(1).optional(),
    /** Access key id of an `s3` backup target (`postgres.backup.target`); set with `--secret`. */
    backupS3AccessKeyId: z.string().min(1).optional(),
    /** Its secret access key; set with `--secret`. */
    backupS3SecretAccessKey: z.string().min(1).optional(),
    /** Access key id of an `s3` snapshot target (`dragonfly.snapshotTarget`); set with `--secret`. */
    dragonflyS3AccessKeyId: z.string().min(1).optional(),
    /** Its secret access key; set with `--secret`. */
    dragonflyS3SecretAccessKey: z.string().min(1).optional(),
    /**
     * Access key id of Loki's and Tempo's user at the backup target
     * (`observability.objectStorageTarget: backup-target`); set with `--secret`.
     */
    telemetryS3AccessKeyId: z.string().min(1).optional(),
    /** Its secret access key; set with `--secret`. */
    telemetryS3SecretAccessKey: z.string().min(1).optional(),
    /**
     * Credentials given instead of generated (teams that keep passwords in a vault); every one left
     * out is generated with `@pulumi/random`. Set with `pulumi config set --secret --path`.
     */
    credentials: z
      .strictObject({
        // `replication` is the login the HA members stream WAL with (postgres.ha only).
        postgres: credentialsOf(["superuser", "replication", ...PLATFORM_ROLE_NAMES]),
        pgbouncer: credentialsOf(["stats"]),
        dragonfly: credentialsOf(["password"]),
        objectStore: credentialsOf(["root", ...OBJECT_STORE_CONSUMERS]),
        grafana: credentialsOf(["admin"]),
        /** Each Alertmanager receiver's webhook URL or SMTP password, by receiver name. */
        alerting: alertingCredentialsSchema,
      })
      .partial()
      .optional(),
  })
  // Receivers and their credentials are two keys (one of them secret): checked together here.
  .check((ctx) => {
    for (const { path, message } of alertingCredentialIssues(ctx.value)) {
      ctx.issues.push({ code: "custom", input: undefined, path, message });
    }
  });
