import type * as pulumi from "@pulumi/pulumi";
import type { Profile } from "../../core/profile";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";

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
  /** HPA ceiling. @default 3 (dev), 6 (prod) */
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

/** The web Ingress (Traefik). */
export interface IngressArgs {
  /** Public host name, e.g. `platform.example.com`. */
  host: string;
  /** TLS Secret for the host; without it the app is served on plain HTTP. Required in prod. @default none */
  tlsSecretName?: string;
  /** IngressClass. @default "traefik" (K3s's) */
  ingressClassName?: string;
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
  ingress: IngressArgs;
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

/** Every default of {@link AppArgs} in one place. */
export const APP_DEFAULTS = {
  uid: 65532,
  web: {
    port: 3000,
    readinessPath: "/readyz",
    livenessPath: "/healthz",
    minReplicas: { dev: 1, prod: 2 },
    maxReplicas: { dev: 3, prod: 6 },
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
  ingressClassName: "traefik",
  temporalNamespace: "default",
  s3Region: "us-east-1",
  build: { dockerfile: "Dockerfile", platform: "linux/amd64" },
} as const;

/** {@link WebArgs} with every default applied. */
export type ResolvedWeb = Required<WebArgs>;
/** {@link WorkerArgs} with every default applied. */
export type ResolvedWorker = Required<WorkerArgs>;

/** One problem with the image settings: the arg path (`image`, `build.registry.server`) and why. */
export interface AppImageIssue {
  path: string;
  message: string;
}

const SHA256_DIGEST = /@sha256:[0-9a-f]{64}$/;
const FLOATING_TAGS = new Set(["latest", "stable", "edge", "nightly", "main", "master", "dev"]);
const REPOSITORY = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const REGISTRY_SERVER = /^[a-zA-Z0-9.-]+(:\d+)?$/;

/**
 * Checks the app image settings; pure, so `config.ts` reports the issues with the stack key.
 * Exactly one of `image` and `build`; an image names one build (a tag that is not `latest`, or
 * a digest), and in prod a digest, because a tag can be pushed again. A build is deployed by
 * its repo digest, so it satisfies prod by construction.
 */
export function validateAppImage(
  profile: Profile,
  image: string | undefined,
  build: Pick<AppBuildArgs, "registry" | "repository"> | undefined,
): AppImageIssue[] {
  if (image !== undefined && build !== undefined) {
    return [{ path: "image", message: "set either image or build, not both" }];
  }
  if (image === undefined && build === undefined) {
    return [
      {
        path: "image",
        message: "is required: set image (a pinned reference) or build (context and registry)",
      },
    ];
  }
  if (build !== undefined) {
    const issues: AppImageIssue[] = [];
    if (!REGISTRY_SERVER.test(build.registry.server)) {
      issues.push({
        path: "build.registry.server",
        message: `must be a registry host[:port] without a scheme, e.g. ghcr.io (got "${build.registry.server}")`,
      });
    }
    if (!REPOSITORY.test(build.repository)) {
      issues.push({
        path: "build.repository",
        message: `must be a lowercase repository path such as acme/app (got "${build.repository}")`,
      });
    }
    return issues;
  }
  const reference = image ?? "";
  const digested = SHA256_DIGEST.test(reference);
  const named = reference.split("@")[0];
  const colon = named.lastIndexOf(":");
  const tag = colon > named.lastIndexOf("/") ? named.slice(colon + 1) : undefined;
  if (reference.includes("@") && !digested) {
    return [
      {
        path: "image",
        message: `has a malformed digest; use @sha256:<64 hex> (got "${reference}")`,
      },
    ];
  }
  if (profile === "prod" && !digested) {
    return [
      {
        path: "image",
        message:
          `must be pinned by digest in prod (repo:tag@sha256:<digest>), a tag can be pushed again ` +
          `(got "${reference}"); or use build, which deploys by digest`,
      },
    ];
  }
  if (!digested && (tag === undefined || FLOATING_TAGS.has(tag.toLowerCase()))) {
    return [
      {
        path: "image",
        message: `must name one build: an exact tag or a digest, not "${tag ?? "no tag"}" (got "${reference}")`,
      },
    ];
  }
  return [];
}
