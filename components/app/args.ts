import type * as pulumi from "@pulumi/pulumi";
import { ingressRules, type IngressSettings } from "../lib/ingress";
import type { Profile } from "../../policy/model/profile";
import { fieldError, fieldErrorIf, nestedErrors, type FieldError } from "../../core/validation";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import type { NodeSpreadMode } from "../lib/workload";
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

/**
 * A health check of an app container: an HTTP GET on `path` (on the container's own port unless
 * `port` is given), or `exec`, a command run in the container that must exit 0. Exactly one of
 * `path` and `exec`.
 */
export interface AppProbe {
  /** Path of an HTTP GET that answers 2xx or 3xx, starting with `/`. */
  path?: string;
  /** Port of the GET. @default the container's own (web: `port`, worker: `healthPort`) */
  port?: number;
  /** Command and its arguments, run without a shell. */
  exec?: string[];
}

/** The probes of one app container. */
export interface AppProbes {
  /** "Send me traffic": a slow dependency makes the pod unready, not restarted. @default `{ path: "/readyz" }` */
  readiness?: AppProbe;
  /** "Restart me": fails only when the process is stuck. @default `{ path: "/healthz" }` */
  liveness?: AppProbe;
  /** Holds liveness off while the app boots. @default the liveness probe */
  startup?: AppProbe;
  /** How long the startup probe waits for a boot. @default 120 */
  startupSeconds?: number;
}

/** The `web` Deployment: the HTTP API behind the Ingress. */
export interface WebArgs {
  /** Container port of the HTTP server (named `http`; the Service and Ingress reach it). @default 3001 */
  port?: number;
  /** Health checks. @default see {@link AppProbes} */
  probes?: AppProbes;
  /** Entrypoint override. @default the image's ENTRYPOINT */
  command?: string[];
  /** Arguments. @default the image's CMD */
  args?: string[];
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
  /**
   * How hard the replicas spread across nodes: `DoNotSchedule` where the cluster has more than
   * one node, so one node lost never takes every web pod. @default "ScheduleAnyway"
   */
  nodeSpread?: NodeSpreadMode;
}

/** The `worker` Deployment: BullMQ and Temporal workers, no Service. */
export interface WorkerArgs {
  /**
   * Entrypoint of the worker process, when the image's default starts the web server (one image
   * for both). @default the image's ENTRYPOINT
   */
  command?: string[];
  /** Arguments, e.g. `["dist/worker.js"]`. @default the image's CMD */
  args?: string[];
  /** Replicas. @default 1 (dev), 2 (prod) */
  replicas?: number;
  /** Requests and limits. @default the `small` preset */
  resources?: ResourceSpec;
  /** Port of the worker's health endpoints (named `health`); none when every probe is `exec`. @default 8080 */
  healthPort?: number;
  /** Health checks. @default see {@link AppProbes} */
  probes?: AppProbes;
  /** Time to finish in-flight jobs and activities after SIGTERM. @default 120 */
  terminationGracePeriodSeconds?: number;
}

/** Login to the registry the image is pulled from. */
export interface PullCredentials {
  /** Registry host[:port]. @default the image's registry (`build.registry.server` for a build) */
  registry?: string;
  /** User name. */
  username: pulumi.Input<string>;
  /** Password or token, a Pulumi secret. */
  password: pulumi.Input<string>;
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
  /** GID of the process and of its writable volumes (`runAsGroup`, `fsGroup`). @default `uid` */
  gid?: number;
  /**
   * An existing `kubernetes.io/dockerconfigjson` Secret in the namespace that both Deployments
   * pull the image with. @default none
   */
  imagePullSecret?: pulumi.Input<string>;
  /**
   * Credentials the App keeps in a `kubernetes.io/dockerconfigjson` Secret of its own and pulls
   * with; not with `imagePullSecret`. @default none (public image, or the node's registries.yaml)
   */
  pullCredentials?: PullCredentials;
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
  /**
   * The domain users' services are served under (`APPS_DOMAIN`, worker only, with
   * `deployNamespaces`): the deploy targets' admission policy refuses Ingress hosts elsewhere.
   * @default none: no `APPS_DOMAIN`
   */
  appsDomain?: pulumi.Input<string>;
}

/** The probes every app container gets unless the stack says otherwise. */
const DEFAULT_PROBES = {
  readiness: { path: "/readyz" },
  liveness: { path: "/healthz" },
  startupSeconds: 120,
} as const;

/**
 * Every default of {@link AppArgs} in one place. The stack's defaults read their replica counts
 * from here, so a stack and a hand-built App get the same ones.
 */
export const APP_DEFAULTS = {
  uid: 65532,
  web: {
    port: 3001,
    probes: DEFAULT_PROBES,
    minReplicas: { dev: 1, prod: 2 },
    maxReplicas: { dev: 3, prod: 10 },
    targetCpuUtilization: 70,
    resources: RESOURCE_PRESETS.small,
    preStopSeconds: 10,
    terminationGracePeriodSeconds: 45,
    nodeSpread: "ScheduleAnyway",
  },
  worker: {
    replicas: { dev: 1, prod: 2 },
    resources: RESOURCE_PRESETS.small,
    healthPort: 8080,
    probes: DEFAULT_PROBES,
    terminationGracePeriodSeconds: 120,
  },
  metrics: { port: 9464, path: "/metrics" },
  temporalNamespace: "default",
  s3Region: "us-east-1",
  build: { dockerfile: "Dockerfile", platform: "linux/amd64" },
} as const;

/** {@link AppProbes} with every default applied: the startup probe is the liveness one unless given. */
export type ResolvedProbes = Required<AppProbes>;
/** {@link WebArgs} with every default applied (no entrypoint override unless given). */
export type ResolvedWeb = Required<Omit<WebArgs, "command" | "args" | "probes">> &
  Pick<WebArgs, "command" | "args"> & { probes: ResolvedProbes };
/** {@link WorkerArgs} with every default applied (no entrypoint override unless given). */
export type ResolvedWorker = Required<Omit<WorkerArgs, "command" | "args" | "probes">> &
  Pick<WorkerArgs, "command" | "args"> & { probes: ResolvedProbes };

/** The App's plain settings: what a stack config decides, and all that its rules read. */
export type AppSettings = Pick<
  AppArgs,
  | "profile"
  | "image"
  | "build"
  | "uid"
  | "gid"
  | "web"
  | "worker"
  | "metrics"
  | "ingress"
  | "directDatabaseAccess"
> & {
  /** Which pull settings are given, for the rule that allows one way to pull. */
  pull?: { imagePullSecret: boolean; credentials: boolean };
};

/** {@link AppSettings} with every default of {@link APP_DEFAULTS} applied. */
export interface ResolvedApp {
  web: ResolvedWeb;
  worker: ResolvedWorker;
  metrics: { port: number; path: string } | false;
  uid: number;
  gid: number;
  directDatabaseAccess: boolean;
}

/** Probes with the defaults of {@link DEFAULT_PROBES} under what was given. */
function resolveProbes(probes: AppProbes | undefined): ResolvedProbes {
  const liveness = probes?.liveness ?? DEFAULT_PROBES.liveness;
  return {
    readiness: probes?.readiness ?? DEFAULT_PROBES.readiness,
    liveness,
    startup: probes?.startup ?? liveness,
    startupSeconds: probes?.startupSeconds ?? DEFAULT_PROBES.startupSeconds,
  };
}

function resolveWeb(web: WebArgs | undefined, profile: Profile): ResolvedWeb {
  const d = APP_DEFAULTS.web;
  return {
    port: web?.port ?? d.port,
    probes: resolveProbes(web?.probes),
    command: web?.command,
    args: web?.args,
    minReplicas: web?.minReplicas ?? d.minReplicas[profile],
    maxReplicas: web?.maxReplicas ?? d.maxReplicas[profile],
    targetCpuUtilization: web?.targetCpuUtilization ?? d.targetCpuUtilization,
    resources: web?.resources ?? d.resources,
    preStopSeconds: web?.preStopSeconds ?? d.preStopSeconds,
    terminationGracePeriodSeconds:
      web?.terminationGracePeriodSeconds ?? d.terminationGracePeriodSeconds,
    nodeSpread: web?.nodeSpread ?? d.nodeSpread,
  };
}

function resolveWorker(worker: WorkerArgs | undefined, profile: Profile): ResolvedWorker {
  const d = APP_DEFAULTS.worker;
  return {
    command: worker?.command,
    args: worker?.args,
    replicas: worker?.replicas ?? d.replicas[profile],
    resources: worker?.resources ?? d.resources,
    healthPort: worker?.healthPort ?? d.healthPort,
    probes: resolveProbes(worker?.probes),
    terminationGracePeriodSeconds:
      worker?.terminationGracePeriodSeconds ?? d.terminationGracePeriodSeconds,
  };
}

/** Applies {@link APP_DEFAULTS} (per profile where they differ); checks nothing. */
export function resolveApp(args: AppSettings): ResolvedApp {
  const uid = args.uid ?? APP_DEFAULTS.uid;
  return {
    web: resolveWeb(args.web, args.profile),
    worker: resolveWorker(args.worker, args.profile),
    metrics: args.metrics === false ? false : { ...APP_DEFAULTS.metrics, ...args.metrics },
    uid,
    gid: args.gid ?? uid,
    directDatabaseAccess: args.directDatabaseAccess ?? false,
  };
}

/**
 * Every problem with the App's settings, defaults applied: the image, web and worker, metrics,
 * and TLS in prod. The stack config runs these same rules (`platform/args/app.ts`).
 */
export function appRules(args: AppSettings): FieldError[] {
  const { web, worker, metrics, uid, gid } = resolveApp(args);
  const metricsPort = metrics === false ? undefined : metrics.port;
  return [
    ...appImageRules(args),
    ...wholeNumberRule("uid", uid, 1, MAX_ID),
    ...wholeNumberRule("gid", gid, 1, MAX_ID),
    ...nestedErrors("ingress", ingressRules(args.ingress)),
    ...nestedErrors("web", webRules(web, args.profile)),
    ...nestedErrors("worker", workerRules(worker)),
    ...(
      [
        ["web.port", web.port],
        ["worker.healthPort", worker.healthPort],
      ] as const
    ).flatMap(([key, port]) =>
      fieldErrorIf(
        metricsPort === port,
        key,
        () => `must differ from the metrics port (${port}) of the same pod`,
      ),
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
 * needs the direct URL, and deploy namespaces their apps domain. The Platform always passes both,
 * so only a hand-built App can miss them.
 */
export function appWiringRules(
  args: Pick<
    AppArgs,
    "directDatabaseAccess" | "databaseDirectUrl" | "deployNamespaces" | "appsDomain"
  >,
): FieldError[] {
  return [
    ...fieldErrorIf(
      (args.directDatabaseAccess ?? false) && args.databaseDirectUrl === undefined,
      "databaseDirectUrl",
      () => "is required when directDatabaseAccess is on",
    ),
    ...fieldErrorIf(
      args.deployNamespaces !== undefined && args.appsDomain === undefined,
      "appsDomain",
      () => "is required with deployNamespaces: the worker serves users' services under it",
    ),
  ];
}

/** The web Deployment's problems, by their path in {@link WebArgs}. */
function webRules(web: ResolvedWeb, profile: Profile): FieldError[] {
  return [
    ...portRule("port", web.port),
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
    ...nestedErrors("probes", probeRules(web.probes)),
    ...entrypointRules(web),
  ];
}

/** The worker Deployment's problems, by their path in {@link WorkerArgs}. */
function workerRules(worker: ResolvedWorker): FieldError[] {
  return [
    ...wholeNumberRule("replicas", worker.replicas, 1),
    ...portRule("healthPort", worker.healthPort),
    ...nestedErrors("probes", probeRules(worker.probes)),
    ...entrypointRules(worker),
  ];
}

/** The largest UID/GID Linux user namespaces map. */
const MAX_ID = 2 ** 31 - 1;
const PROBE_KINDS = ["readiness", "liveness", "startup"] as const;

/** Each probe is one HTTP path or one command; liveness is not readiness. */
function probeRules(probes: ResolvedProbes): FieldError[] {
  const same = (a: AppProbe, b: AppProbe) => JSON.stringify(a) === JSON.stringify(b);
  return [
    // A startup probe left to default is the liveness probe itself: its problems are reported once.
    ...PROBE_KINDS.filter(
      (kind) => kind !== "startup" || probes.startup !== probes.liveness,
    ).flatMap((kind) => nestedErrors(kind, oneProbeRules(probes[kind]))),
    ...fieldErrorIf(
      same(probes.readiness, probes.liveness),
      "liveness",
      () => "must differ from readiness: a slow dependency would restart the pod",
    ),
    ...wholeNumberRule("startupSeconds", probes.startupSeconds, 1, 3600),
  ];
}

function oneProbeRules(probe: AppProbe): FieldError[] {
  if ((probe.path === undefined) === (probe.exec === undefined)) {
    return [fieldError("path", "or exec: set exactly one (an HTTP GET path, or a command)")];
  }
  if (probe.exec !== undefined) {
    return [
      ...fieldErrorIf(probe.port !== undefined, "port", () => "is for path probes, not exec"),
      ...fieldErrorIf(
        probe.exec.length === 0 || probe.exec.some((part) => part === ""),
        "exec",
        () => "must be a command and its arguments, none empty",
      ),
    ];
  }
  const path = probe.path ?? "";
  return [
    ...fieldErrorIf(!path.startsWith("/"), "path", () => `must start with "/" (got "${path}")`),
    ...(probe.port !== undefined ? portRule("port", probe.port) : []),
  ];
}

/** A command or arguments list has no empty entries (YAML `- ` gives one by mistake). */
function entrypointRules(given: { command?: string[]; args?: string[] }): FieldError[] {
  return (["command", "args"] as const).flatMap((key) =>
    fieldErrorIf(
      given[key] !== undefined && (given[key].length === 0 || given[key].includes("")),
      key,
      () => "must list at least one entry, none empty (leave it out for the image's own)",
    ),
  );
}

function portRule(path: string, port: number): FieldError[] {
  return wholeNumberRule(path, port, 1, 65535);
}

function wholeNumberRule(path: string, value: number, min: number, max = Infinity): FieldError[] {
  return fieldErrorIf(!Number.isInteger(value) || value < min || value > max, path, () =>
    max === Infinity
      ? `must be a whole number ≥ ${min} (got ${value})`
      : `must be a whole number from ${min} to ${max} (got ${value})`,
  );
}
