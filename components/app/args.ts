import type * as pulumi from "@pulumi/pulumi";
import { ingressRules, type IngressSettings } from "../lib/ingress";
import type { Profile } from "../../core/profile";
import { fieldErrorIf, nestedErrors, type FieldError } from "../../core/validation";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import { appImageRules } from "./image-reference";

/** Build the app image from source and push it; the pods then run it by its repo digest. */
export interface AppBuildArgs {
  /** Docker build context, relative to the Pulumi project directory. */
  context: string;
  /** Dockerfile, relative to `context`. @default "Dockerfile" */
  dockerfile?: string;
  /** Target platform of the build. @default "linux/amd64" */
  platform?: string;
  /** Registry to push to. */
  registry: {
    /** Registry host (and port), without a scheme, e.g. `ghcr.io` or `registry.local:5000`. */
    server: string;
    /** Login user. @default none (anonymous push, e.g. an in-cluster registry) */
    username?: pulumi.Input<string>;
    /** Login password or token, a Pulumi secret. @default none */
    password?: pulumi.Output<string>;
  };
  /** Repository below the server, e.g. `acme/platform-app`. */
  repository: string;
  /** Tag pushed alongside the digest (the pods use the digest). @default the stack name */
  tag?: string;
}

/** The `web` Deployment: the HTTP API behind the Ingress. */
export interface WebArgs {
  /** Container port of the HTTP server (named `http`). @default 3000 */
  port?: number;
  /** Readiness path: answers 200 when the pod can take traffic. @default "/readyz" */
  readinessPath?: string;
  /** Liveness path: answers 200 unless the process must be restarted. @default "/healthz" */
  livenessPath?: string;
  /** HPA floor; at least 2 in prod. @default 1 (dev), 2 (prod) */
  minReplicas?: number;
  /** HPA ceiling, at least `minReplicas`. @default 3 (dev), 10 (prod) */
  maxReplicas?: number;
  /** Average CPU utilisation (percent of the request) the HPA aims for. @default 70 */
  targetCpuUtilization?: number;
  /** Requests and limits. @default the `small` preset */
  resources?: ResourceSpec;
  /**
   * Seconds the pod keeps serving after it is marked terminating, while Traefik and the
   * endpoints catch up (`lifecycle.preStop.sleep`, Kubernetes ≥ 1.30). @default 10
   */
  preStopSeconds?: number;
  /** Time for preStop plus draining SSE streams and requests after SIGTERM. @default 45 */
  terminationGracePeriodSeconds?: number;
}

/** The `worker` Deployment: BullMQ and Temporal workers, no Service. */
export interface WorkerArgs {
  /** Replicas. @default 1 (dev), 2 (prod) */
  replicas?: number;
  /** Requests and limits. @default the `small` preset */
  resources?: ResourceSpec;
  /** Port of the worker's health endpoints (named `health`). @default 8080 */
  healthPort?: number;
  /** Readiness path on `healthPort`. @default "/readyz" */
  readinessPath?: string;
  /** Liveness path on `healthPort`. @default "/healthz" */
  livenessPath?: string;
  /** Time to finish in-flight jobs and activities after SIGTERM. @default 120 */
  terminationGracePeriodSeconds?: number;
}

/** Where the app exposes Prometheus metrics (both Deployments), or `false` for none. */
export interface MetricsArgs {
  /** Port, named `metrics`. @default 9464 (the OpenTelemetry Prometheus exporter's) */
  port?: number;
  /** Path. @default "/metrics" */
  path?: string;
}

/** S3-compatible object storage the app reads and writes. */
export interface S3Args {
  /** Endpoint URL (`S3_ENDPOINT`), e.g. `http://minio.platform.svc:9000`. */
  endpoint: pulumi.Input<string>;
  /** Bucket (`S3_BUCKET`). */
  bucket: pulumi.Input<string>;
  /** Access key id (`AWS_ACCESS_KEY_ID`). */
  accessKeyId: SecretKey;
  /** Secret access key (`AWS_SECRET_ACCESS_KEY`). */
  secretAccessKey: SecretKey;
  /** `AWS_REGION`: AWS SDKs refuse to start without one, MinIO accepts any. @default "us-east-1" */
  region?: string;
}

/** Arguments of the App component. Exactly one of `image` and `build`. */
export interface AppArgs {
  /** Namespace of everything it creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its labels, and OTel `service.namespace`. @default the component's name */
  instance?: string;
  /** Stack profile: prod requires a digest-pinned image, TLS and ≥ 2 web replicas. */
  profile: Profile;
  /** Image reference; in prod it must carry `@sha256:`. @default none (then `build`) */
  image?: string;
  /** Build and push the image instead of `image`. @default none */
  build?: AppBuildArgs;
  /** UID the image's process runs as (the pod's `runAsUser`). @default 65532 */
  uid?: number;
  /** Web Deployment settings. @default see {@link WebArgs} */
  web?: WebArgs;
  /** Worker Deployment settings. @default see {@link WorkerArgs} */
  worker?: WorkerArgs;
  /** Prometheus metrics endpoint of both Deployments. @default `{ port: 9464, path: "/metrics" }` */
  metrics?: MetricsArgs | false;
  /** The web Ingress. */
  ingress: IngressSettings;
  /** PgBouncer URL (`DATABASE_URL`): what the app uses for queries. */
  databaseUrl: SecretKey;
  /** Direct Postgres URL (`DATABASE_DIRECT_URL`), for session features. @default none */
  databaseDirectUrl?: SecretKey;
  /** Give web and worker `DATABASE_DIRECT_URL` (needs `databaseDirectUrl`). @default false */
  directDatabaseAccess?: boolean;
  /** Dragonfly URL (`REDIS_URL`). */
  redisUrl: SecretKey;
  /** OTLP endpoint of the collector (`OTEL_EXPORTER_OTLP_ENDPOINT`), e.g. `http://otel-collector:4318`. */
  otlpEndpoint: pulumi.Input<string>;
  /** Temporal frontend and namespace (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`). */
  temporal: {
    /** `host:7233`. */
    address: pulumi.Input<string>;
    /** Temporal namespace. @default "default" */
    namespace?: pulumi.Input<string>;
  };
  /** Object storage (`S3_*`, `AWS_*`). */
  s3: S3Args;
  /** Ollama base URL (`OLLAMA_HOST`), e.g. `http://ollama:11434`. */
  ollamaHost: pulumi.Input<string>;
  /**
   * Arcjet key (`ARCJET_KEY`), a Pulumi secret; the App keeps it in its own Secret.
   * @default none: no `ARCJET_KEY`, and the app makes no Arcjet calls
   */
  arcjetKey?: pulumi.Input<string>;
  /** The migrations Job: both Deployments wait for it, so a failed migration stops the rollout. */
  migrationsJob: pulumi.Resource;
  /** More for the worker to wait for, e.g. the Ollama model pull Job. @default none */
  workerDependsOn?: pulumi.Resource[];
  /** ServiceAccount of the worker (deploy targets give it API rights); mounts its token. @default none: namespace default, no token */
  workerServiceAccountName?: pulumi.Input<string>;
  /**
   * Namespaces the worker deploys user services to (`DEPLOY_NAMESPACES`, comma-joined, on the
   * worker only: `web` has no API rights to use them with).
   * @default none: no `DEPLOY_NAMESPACES`
   */
  deployNamespaces?: pulumi.Input<string[]>;
}

/**
 * Every default of {@link AppArgs} in one place. The stack's defaults read their replica counts
 * from here, so a stack and a hand-built App get the same ones.
 */
export const APP_DEFAULTS = {
  uid: 65532,
  web: {
    port: 3000,
    readinessPath: "/readyz",
    livenessPath: "/healthz",
    minReplicas: { dev: 1, prod: 2 },
    maxReplicas: { dev: 3, prod: 10 },
    targetCpuUtilization: 70,
    resources: RESOURCE_PRESETS.small,
    preStopSeconds: 10,
    terminationGracePeriodSeconds: 45,
  },
  worker: {
    replicas: { dev: 1, prod: 2 },
    resources: RESOURCE_PRESETS.small,
    healthPort: 8080,
    readinessPath: "/readyz",
    livenessPath: "/healthz",
    terminationGracePeriodSeconds: 120,
  },
  metrics: { port: 9464, path: "/metrics" },
  temporalNamespace: "default",
  s3Region: "us-east-1",
  build: { dockerfile: "Dockerfile", platform: "linux/amd64" },
} as const;

/** {@link WebArgs} with every default applied. */
export type ResolvedWeb = Required<WebArgs>;
/** {@link WorkerArgs} with every default applied. */
export type ResolvedWorker = Required<WorkerArgs>;

/** The App's plain settings: what a stack config decides, and all that its rules read. */
export type AppSettings = Pick<
  AppArgs,
  | "profile"
  | "image"
  | "build"
  | "uid"
  | "web"
  | "worker"
  | "metrics"
  | "ingress"
  | "directDatabaseAccess"
>;

/** {@link AppSettings} with every default of {@link APP_DEFAULTS} applied. */
export interface ResolvedApp {
  web: ResolvedWeb;
  worker: ResolvedWorker;
  metrics: { port: number; path: string } | false;
  uid: number;
  directDatabaseAccess: boolean;
}

/** Applies {@link APP_DEFAULTS} (per profile where they differ); checks nothing. */
export function resolveApp(args: AppSettings): ResolvedApp {
  const { profile } = args;
  const d = APP_DEFAULTS;
  const web: ResolvedWeb = {
    port: args.web?.port ?? d.web.port,
    readinessPath: args.web?.readinessPath ?? d.web.readinessPath,
    livenessPath: args.web?.livenessPath ?? d.web.livenessPath,
    minReplicas: args.web?.minReplicas ?? d.web.minReplicas[profile],
    maxReplicas: args.web?.maxReplicas ?? d.web.maxReplicas[profile],
    targetCpuUtilization: args.web?.targetCpuUtilization ?? d.web.targetCpuUtilization,
    resources: args.web?.resources ?? d.web.resources,
    preStopSeconds: args.web?.preStopSeconds ?? d.web.preStopSeconds,
    terminationGracePeriodSeconds:
      args.web?.terminationGracePeriodSeconds ?? d.web.terminationGracePeriodSeconds,
  };
  const worker: ResolvedWorker = {
    replicas: args.worker?.replicas ?? d.worker.replicas[profile],
    resources: args.worker?.resources ?? d.worker.resources,
    healthPort: args.worker?.healthPort ?? d.worker.healthPort,
    readinessPath: args.worker?.readinessPath ?? d.worker.readinessPath,
    livenessPath: args.worker?.livenessPath ?? d.worker.livenessPath,
    terminationGracePeriodSeconds:
      args.worker?.terminationGracePeriodSeconds ?? d.worker.terminationGracePeriodSeconds,
  };
  return {
    web,
    worker,
    metrics: args.metrics === false ? false : { ...d.metrics, ...args.metrics },
    uid: args.uid ?? d.uid,
    directDatabaseAccess: args.directDatabaseAccess ?? false,
  };
}

/**
 * Every problem with the App's settings, defaults applied: the image, web and worker, metrics,
 * and TLS in prod. The stack config runs these same rules (`platform/args/app.ts`).
 */
export function appRules(args: AppSettings): FieldError[] {
  const { web, worker, metrics } = resolveApp(args);
  return [
    ...appImageRules(args),
    ...nestedErrors("ingress", ingressRules(args.ingress)),
    ...nestedErrors("web", webRules(web, args.profile)),
    ...nestedErrors("worker", workerRules(worker)),
    ...fieldErrorIf(
      metrics !== false && (metrics.port === web.port || metrics.port === worker.healthPort),
      "metrics.port",
      () => `must differ from web.port (${web.port}) and worker.healthPort (${worker.healthPort})`,
    ),
    ...fieldErrorIf(
      args.profile === "prod" && args.ingress.tlsSecretName === undefined,
      "ingress.tlsSecretName",
      () =>
        "is required in prod: the API is served over HTTPS only; name the TLS Secret for its " +
        "host (e.g. from cert-manager)",
    ),
  ];
}

/**
 * Problems with what the Platform wires in rather than what a stack sets: direct database access
 * needs the direct URL. The Platform always passes one, so only a hand-built App can miss it.
 */
export function appWiringRules(
  args: Pick<AppArgs, "directDatabaseAccess" | "databaseDirectUrl">,
): FieldError[] {
  return fieldErrorIf(
    (args.directDatabaseAccess ?? false) && args.databaseDirectUrl === undefined,
    "databaseDirectUrl",
    () => "is required when directDatabaseAccess is on",
  );
}

/** The web Deployment's problems, by their path in {@link WebArgs}. */
function webRules(web: ResolvedWeb, profile: Profile): FieldError[] {
  return [
    ...wholeNumberRule("minReplicas", web.minReplicas, 1),
    ...fieldErrorIf(
      profile === "prod" && web.minReplicas < 2,
      "minReplicas",
      () =>
        `must be ≥ 2 in prod, so a node drain or a rollout never takes the API down ` +
        `(got ${web.minReplicas})`,
    ),
    ...fieldErrorIf(
      web.maxReplicas < web.minReplicas,
      "maxReplicas",
      () => `must be at least minReplicas (${web.maxReplicas} < ${web.minReplicas})`,
    ),
    ...fieldErrorIf(
      web.targetCpuUtilization < 1 || web.targetCpuUtilization > 100,
      "targetCpuUtilization",
      () => `must be a percentage 1–100 (got ${web.targetCpuUtilization})`,
    ),
    ...wholeNumberRule("preStopSeconds", web.preStopSeconds, 0),
    ...fieldErrorIf(
      web.terminationGracePeriodSeconds <= web.preStopSeconds,
      "terminationGracePeriodSeconds",
      () =>
        `must exceed preStopSeconds (${web.terminationGracePeriodSeconds} ≤ ${web.preStopSeconds}): ` +
        "the grace period includes the preStop sleep, and the app needs time to drain after it",
    ),
    ...probeRules(web),
  ];
}

/** The worker Deployment's problems, by their path in {@link WorkerArgs}. */
function workerRules(worker: ResolvedWorker): FieldError[] {
  return [...wholeNumberRule("replicas", worker.replicas, 1), ...probeRules(worker)];
}

/** Probe paths are absolute, and liveness is not readiness. */
function probeRules(probes: { readinessPath: string; livenessPath: string }): FieldError[] {
  return [
    ...(["readinessPath", "livenessPath"] as const).flatMap((key) =>
      fieldErrorIf(
        !probes[key].startsWith("/"),
        key,
        () => `must start with "/" (got "${probes[key]}")`,
      ),
    ),
    ...fieldErrorIf(
      probes.readinessPath === probes.livenessPath,
      "livenessPath",
      () => "must differ from readinessPath: a slow dependency would restart the pod",
    ),
  ];
}

function wholeNumberRule(path: string, value: number, min: number): FieldError[] {
  return fieldErrorIf(
    !Number.isInteger(value) || value < min,
    path,
    () => `must be a whole number ≥ ${min} (got ${value})`,
  );
}
