import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation } from "../lib/hash";
import { tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../core/labels";
import { PlatformSecret, type SecretKey } from "../lib/secrets";
import {
  APP_DEFAULTS,
  validateAppImage,
  type AppArgs,
  type ResolvedWeb,
  type ResolvedWorker,
} from "./args";
import { appEnv, secretHashInputs, type AppEnvSpec } from "./env";
import { buildAppImage } from "./image";
import { disruptionBudget } from "../lib/workload";
import {
  appUrl,
  webAutoscaler,
  webDeployment,
  webIngress,
  webService,
  workerDeployment,
} from "./workloads";

export * from "./args";
export * from "./env";
export { dockerImageArgs } from "./image";
export {
  INGRESS_PATHS,
  SSE_PATH,
  STREAMING_PATHS_ANNOTATION,
  TRAEFIK_SSE_HELM_CHART_CONFIG,
  WEB_SERVICE_PORT,
  webIngressAnnotations,
} from "./workloads";

/** {@link AppArgs} after validation, with every default applied. */
export interface ResolvedApp {
  web: ResolvedWeb;
  worker: ResolvedWorker;
  metrics: { port: number; path: string } | false;
  uid: number;
  directDatabaseAccess: boolean;
}

function invalid(propertyPath: string, reason: string): never {
  throw new pulumi.InputPropertyError({ propertyPath, reason });
}

function positiveInt(path: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min)
    invalid(path, `must be a whole number ≥ ${min} (got ${value})`);
}

/** Validates the args and applies {@link APP_DEFAULTS}; pure, so tests need no mocks. */
export function resolveApp(args: AppArgs): ResolvedApp {
  const [imageIssue] = validateAppImage(args.profile, args.image, args.build);
  if (imageIssue) invalid(imageIssue.path, imageIssue.message);
  const profile = args.profile;
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
  const metrics = args.metrics === false ? false : { ...d.metrics, ...args.metrics };

  positiveInt("web.minReplicas", web.minReplicas);
  positiveInt("worker.replicas", worker.replicas);
  if (web.maxReplicas < web.minReplicas) {
    invalid(
      "web.maxReplicas",
      `must be ≥ web.minReplicas (${web.maxReplicas} < ${web.minReplicas})`,
    );
  }
  if (profile === "prod" && web.minReplicas < 2) {
    invalid(
      "web.minReplicas",
      `must be ≥ 2 in prod, so a node drain never takes the API down (got ${web.minReplicas})`,
    );
  }
  if (web.targetCpuUtilization < 1 || web.targetCpuUtilization > 100) {
    invalid(
      "web.targetCpuUtilization",
      `must be a percentage 1–100 (got ${web.targetCpuUtilization})`,
    );
  }
  positiveInt("web.preStopSeconds", web.preStopSeconds, 0);
  if (web.terminationGracePeriodSeconds <= web.preStopSeconds) {
    invalid(
      "web.terminationGracePeriodSeconds",
      `must exceed web.preStopSeconds (${web.terminationGracePeriodSeconds} ≤ ${web.preStopSeconds}): ` +
        "the grace period includes the preStop sleep, and the app needs time to drain after it",
    );
  }
  if (metrics && (metrics.port === web.port || metrics.port === worker.healthPort)) {
    invalid(
      "metrics.port",
      `must differ from web.port (${web.port}) and worker.healthPort (${worker.healthPort})`,
    );
  }
  const probePaths = {
    "web.readinessPath": web.readinessPath,
    "web.livenessPath": web.livenessPath,
    "worker.readinessPath": worker.readinessPath,
    "worker.livenessPath": worker.livenessPath,
  };
  for (const [key, path] of Object.entries(probePaths)) {
    if (!path.startsWith("/")) invalid(key, `must start with "/" (got "${path}")`);
  }
  if (web.readinessPath === web.livenessPath) {
    invalid(
      "web.livenessPath",
      "must differ from readinessPath: a slow dependency would restart the pod",
    );
  }
  if (worker.readinessPath === worker.livenessPath) {
    invalid(
      "worker.livenessPath",
      "must differ from readinessPath: a slow dependency would restart the pod",
    );
  }
  const directDatabaseAccess = args.directDatabaseAccess ?? false;
  if (directDatabaseAccess && args.databaseDirectUrl === undefined) {
    invalid("databaseDirectUrl", "is required when directDatabaseAccess is on");
  }
  if (profile === "prod" && args.ingress.tlsSecretName === undefined) {
    invalid("ingress.tlsSecretName", "is required in prod: the API is served over HTTPS only");
  }
  return { web, worker, metrics, uid: args.uid ?? APP_DEFAULTS.uid, directDatabaseAccess };
}

/**
 * What each Deployment waits for: the migrations Job (so a failed migration stops the rollout
 * and the old ReplicaSet keeps serving), and for the worker whatever else it needs first.
 */
export function rolloutDependencies(args: Pick<AppArgs, "migrationsJob" | "workerDependsOn">): {
  web: pulumi.Resource[];
  worker: pulumi.Resource[];
} {
  return {
    web: [args.migrationsJob],
    worker: [args.migrationsJob, ...(args.workerDependsOn ?? [])],
  };
}

/**
 * The application: its image (a pinned reference, or built and deployed by digest), the `web`
 * Deployment behind a Traefik Ingress (`/api`, `/trpc` with SSE) with an HPA and a PDB, and the
 * `worker` Deployment, both wired to the platform through the environment contract
 * ({@link APP_ENV_CONTRACT}) and both rolled out only after the migrations Job completed.
 */
export class App extends pulumi.ComponentResource {
  /** `https://host` (or `http://host` without TLS). */
  public readonly url: pulumi.Output<string>;
  /** Name of the web Service. */
  public readonly webService: pulumi.Output<string>;
  /** The image reference the pods run (a repo digest when built). */
  public readonly image: pulumi.Output<string>;
  /** Labels of the web pods, for network policies. */
  public readonly webIdentity: WorkloadIdentity;
  /** Labels of the worker pods, for network policies. */
  public readonly workerIdentity: WorkloadIdentity;
  /** What each Deployment was made to depend on (inspectable, since mocks do not see it). */
  public readonly rollout: { web: pulumi.Resource[]; worker: pulumi.Resource[] };
  /** The Deployments, for `dependsOn`. */
  public readonly webDeployment: k8s.apps.v1.Deployment;
  public readonly workerDeployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:app:App", name, {}, opts);
    const resolved = resolveApp(args);
    const instance = args.instance ?? name;
    const version = args.image !== undefined ? tagOf(args.image) : undefined;
    this.webIdentity = { name: "web", component: "web", instance, version };
    this.workerIdentity = { name: "worker", component: "worker", instance, version };

    const image = args.build
      ? buildAppImage(`${name}-image`, args.build, this).reference
      : pulumi.output(args.image ?? "");
    this.image = image;

    const arcjet =
      args.arcjetKey === undefined
        ? undefined
        : new PlatformSecret(
            `${name}-arcjet`,
            {
              namespace: args.namespace,
              labels: labelsFor({ name, component: "app", instance }),
              data: { key: args.arcjetKey },
            },
            { parent: this },
          );
    const secrets: SecretKey[] = [
      args.databaseUrl,
      ...(resolved.directDatabaseAccess && args.databaseDirectUrl ? [args.databaseDirectUrl] : []),
      args.redisUrl,
      args.s3.accessKeyId,
      args.s3.secretAccessKey,
      ...(arcjet ? [arcjet.key("key")] : []),
    ];
    const configHash = configHashAnnotation(...secretHashInputs(secrets));
    const envSpec = (
      serviceName: string,
      deploymentName: string,
      deployNamespaces?: pulumi.Input<string[]>,
    ): AppEnvSpec => ({
      profile: args.profile,
      serviceName,
      serviceNamespace: instance,
      serviceVersion: version,
      deploymentName,
      databaseUrl: args.databaseUrl,
      databaseDirectUrl: resolved.directDatabaseAccess ? args.databaseDirectUrl : undefined,
      redisUrl: args.redisUrl,
      otlpEndpoint: args.otlpEndpoint,
      temporalAddress: args.temporal.address,
      temporalNamespace: args.temporal.namespace ?? APP_DEFAULTS.temporalNamespace,
      s3Endpoint: args.s3.endpoint,
      s3Bucket: args.s3.bucket,
      s3Region: args.s3.region ?? APP_DEFAULTS.s3Region,
      accessKeyId: args.s3.accessKeyId,
      secretAccessKey: args.s3.secretAccessKey,
      ollamaHost: args.ollamaHost,
      arcjetKey: arcjet?.key("key"),
      ...(deployNamespaces !== undefined ? { deployNamespaces } : {}),
    });
    this.rollout = rolloutDependencies(args);
    const common = {
      namespace: args.namespace,
      image,
      uid: resolved.uid,
      metrics: resolved.metrics,
      configHash,
    };

    const webName = `${name}-web`;
    this.webDeployment = new k8s.apps.v1.Deployment(
      webName,
      webDeployment({
        ...common,
        name: webName,
        identity: this.webIdentity,
        env: appEnv(envSpec("web", webName)),
        web: resolved.web,
      }),
      { parent: this, dependsOn: [...(arcjet ? [arcjet.resource] : []), ...this.rollout.web] },
    );
    const workerName = `${name}-worker`;
    this.workerDeployment = new k8s.apps.v1.Deployment(
      workerName,
      workerDeployment({
        ...common,
        name: workerName,
        identity: this.workerIdentity,
        env: appEnv(envSpec("worker", workerName, args.deployNamespaces)),
        worker: resolved.worker,
        serviceAccountName: args.workerServiceAccountName,
      }),
      { parent: this, dependsOn: [...(arcjet ? [arcjet.resource] : []), ...this.rollout.worker] },
    );

    // After the web Deployment: the provider awaits a Service until it has endpoints, so a
    // Service created first would, on a first install whose migration fails, wait the full
    // timeout for pods that are never created before `pulumi up` reports the failed Job.
    const service = new k8s.core.v1.Service(
      webName,
      webService(webName, args.namespace, this.webIdentity),
      { parent: this, dependsOn: [this.webDeployment] },
    );
    new k8s.networking.v1.Ingress(
      name,
      webIngress({
        name,
        namespace: args.namespace,
        identity: this.webIdentity,
        host: args.ingress.host,
        tlsSecretName: args.ingress.tlsSecretName,
        ingressClassName: args.ingress.ingressClassName ?? APP_DEFAULTS.ingressClassName,
        serviceName: service.metadata.name,
      }),
      { parent: this },
    );
    new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      webName,
      webAutoscaler(
        webName,
        args.namespace,
        this.webIdentity,
        this.webDeployment.metadata.name,
        resolved.web,
      ),
      { parent: this },
    );
    new k8s.policy.v1.PodDisruptionBudget(
      webName,
      disruptionBudget(webName, args.namespace, this.webIdentity),
      { parent: this },
    );
    new k8s.policy.v1.PodDisruptionBudget(
      workerName,
      disruptionBudget(workerName, args.namespace, this.workerIdentity),
      { parent: this },
    );

    this.webService = service.metadata.name;
    this.url = appUrl(args.ingress.host, args.ingress.tlsSecretName !== undefined);
    this.registerOutputs({ url: this.url, webService: this.webService, image: this.image });
  }
}
