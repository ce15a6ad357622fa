import * as k8s from "@pulumi/kubernetes";
import { DEFAULT_INGRESS_CLASS, ingressUrl } from "../lib/ingress";
import * as pulumi from "@pulumi/pulumi";
import { dockerConfigJson } from "../lib/registry-auth";
import { registryOf } from "../../policy/model/image-reference";
import { tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { configHashAnnotation } from "../lib/hash";
import { PlatformSecret, type SecretKey } from "../lib/secrets";
import { assertValidArgs } from "../lib/validation";
import { disruptionBudget } from "../lib/workload";
import {
  APP_DEFAULTS,
  appRules,
  appWiringRules,
  resolveApp,
  type AppArgs,
  type ResolvedWeb,
} from "./args";
import { appEnv, secretHashInputs, type AppEnvSpec } from "./env";
import { buildAppImage, deployedReference } from "./image";
import {
  webAutoscaler,
  webDeployment,
  webIngress,
  webService,
  workerDeployment,
} from "./workloads";

/**
 * The application: its image (a pinned reference, or built and deployed by digest), the `web`
 * Deployment behind a Traefik Ingress (`/api`, `/trpc` with SSE) with an HPA and a PDB, and the
 * `worker` Deployment, both wired to the platform through the environment contract
 * (`APP_ENV_CONTRACT`) and both rolled out only after the migrations Job completed.
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
  /** The web Deployment, for `dependsOn`. */
  public readonly webDeployment: k8s.apps.v1.Deployment;
  /** The worker Deployment, for `dependsOn`. */
  public readonly workerDeployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:app:App", name, {}, opts);
    const pull = {
      imagePullSecret: args.imagePullSecret !== undefined,
      credentials: args.pullCredentials !== undefined,
    };
    assertValidArgs("App", [...appRules({ ...args, pull }), ...appWiringRules(args)]);
    const resolved = resolveApp(args);
    const instance = args.instance ?? name;
    const version = args.image !== undefined ? tagOf(args.image) : undefined;
    this.webIdentity = { name: "web", component: "web", instance, version };
    this.workerIdentity = { name: "worker", component: "worker", instance, version };

    this.image = args.build
      ? buildAppImage(`${name}-image`, args.build, this).reference
      : deployedReference({ image: args.image ?? "" });
    const pullSecret = pullSecretOf(name, args, instance, this);
    const arcjet = arcjetSecret(name, args, instance, this);
    const arcjetKey = arcjet?.key("key");
    const envSpec = envSpecFor(
      args,
      { instance, version, arcjetKey },
      resolved.directDatabaseAccess,
    );
    this.rollout = rolloutDependencies(args);
    const pods = {
      namespace: args.namespace,
      image: this.image,
      uid: resolved.uid,
      gid: resolved.gid,
      imagePullSecrets: pullSecret ? [pullSecret.name] : [],
      metrics: resolved.metrics,
      configHash: configHashAnnotation(
        ...secretHashInputs(secretsRead(args, resolved.directDatabaseAccess, arcjetKey)),
      ),
    };
    // The pods read the Arcjet Secret and pull with the pull Secret: both must exist first.
    const secretsFirst = [arcjet, pullSecret?.created]
      .filter((secret) => secret !== undefined)
      .map((secret) => secret.resource);

    const webName = `${name}-web`;
    this.webDeployment = new k8s.apps.v1.Deployment(
      webName,
      webDeployment({
        ...pods,
        name: webName,
        identity: this.webIdentity,
        env: appEnv(envSpec("web", webName)),
        web: resolved.web,
      }),
      { parent: this, dependsOn: [...secretsFirst, ...this.rollout.web] },
    );
    const workerName = `${name}-worker`;
    this.workerDeployment = new k8s.apps.v1.Deployment(
      workerName,
      workerDeployment({
        ...pods,
        name: workerName,
        identity: this.workerIdentity,
        env: appEnv(envSpec("worker", workerName, args.deployNamespaces)),
        worker: resolved.worker,
        serviceAccountName: args.workerServiceAccountName,
      }),
      { parent: this, dependsOn: [...secretsFirst, ...this.rollout.worker] },
    );

    this.webService = this.serveWeb(name, args, resolved.web);
    this.budgetDisruptions(args.namespace, [
      [webName, this.webIdentity],
      [workerName, this.workerIdentity],
    ]);
    this.url = pulumi.output(ingressUrl(args.ingress));
    this.registerOutputs({ url: this.url, webService: this.webService, image: this.image });
  }

  /** The web Service, the Ingress to it and the HPA of the web Deployment; the Service's name. */
  private serveWeb(name: string, args: AppArgs, web: ResolvedWeb): pulumi.Output<string> {
    const webName = `${name}-web`;
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
        ingressClassName: args.ingress.ingressClassName ?? DEFAULT_INGRESS_CLASS,
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
        web,
      ),
      { parent: this },
    );
    return service.metadata.name;
  }

  /** A PodDisruptionBudget per Deployment, so a node drain evicts one pod at a time. */
  private budgetDisruptions(
    namespace: pulumi.Input<string>,
    deployments: [string, WorkloadIdentity][],
  ): void {
    for (const [deploymentName, identity] of deployments) {
      new k8s.policy.v1.PodDisruptionBudget(
        deploymentName,
        disruptionBudget(deploymentName, namespace, identity),
        { parent: this },
      );
    }
  }
}

/** The App's own Secret for the Arcjet key, when there is a key. */
function arcjetSecret(
  name: string,
  args: Pick<AppArgs, "arcjetKey" | "namespace">,
  instance: string,
  parent: pulumi.Resource,
): PlatformSecret | undefined {
  if (args.arcjetKey === undefined) return undefined;
  return new PlatformSecret(
    `${name}-arcjet`,
    {
      namespace: args.namespace,
      labels: labelsFor({ name, component: "app", instance }),
      data: { key: args.arcjetKey },
    },
    { parent },
  );
}

/**
 * The Secret both Deployments pull with: the one the stack names, or one the App makes from the
 * credentials it was given (`.dockerconfigjson`, every byte of it a Pulumi secret).
 */
function pullSecretOf(
  name: string,
  args: Pick<AppArgs, "imagePullSecret" | "pullCredentials" | "namespace" | "image" | "build">,
  instance: string,
  parent: pulumi.Resource,
): { name: pulumi.Input<string>; created?: PlatformSecret } | undefined {
  if (args.imagePullSecret !== undefined) return { name: args.imagePullSecret };
  const credentials = args.pullCredentials;
  if (credentials === undefined) return undefined;
  const registry =
    credentials.registry ?? args.build?.registry.server ?? registryOf(args.image ?? "");
  const created = new PlatformSecret(
    `${name}-pull`,
    {
      namespace: args.namespace,
      labels: labelsFor({ name, component: "app", instance }),
      type: "kubernetes.io/dockerconfigjson",
      data: {
        ".dockerconfigjson": dockerConfigJson(registry, credentials.username, credentials.password),
      },
    },
    { parent },
  );
  return { name: created.name, created };
}

/** Every Secret key the pods read, for their config hash. */
function secretsRead(
  args: AppArgs,
  directDatabaseAccess: boolean,
  arcjetKey: SecretKey | undefined,
): SecretKey[] {
  return [
    args.databaseUrl,
    ...(directDatabaseAccess && args.databaseDirectUrl ? [args.databaseDirectUrl] : []),
    args.redisUrl,
    args.s3.accessKeyId,
    args.s3.secretAccessKey,
    ...(arcjetKey ? [arcjetKey] : []),
  ];
}

/** Who the pods are, for their OTel resource and their Arcjet key. */
interface AppPodContext {
  instance: string;
  version: string | undefined;
  arcjetKey: SecretKey | undefined;
}

/**
 * The environment spec of one Deployment, given its OTel service name and Deployment name (and,
 * for the worker, the namespaces it deploys to); all else is shared by web and worker.
 */
function envSpecFor(
  args: AppArgs,
  pod: AppPodContext,
  directDatabaseAccess: boolean,
): (
  serviceName: string,
  deploymentName: string,
  deployNamespaces?: pulumi.Input<string[]>,
) => AppEnvSpec {
  return (serviceName, deploymentName, deployNamespaces) => ({
    profile: args.profile,
    serviceName,
    serviceNamespace: pod.instance,
    serviceVersion: pod.version,
    deploymentName,
    databaseUrl: args.databaseUrl,
    databaseDirectUrl: directDatabaseAccess ? args.databaseDirectUrl : undefined,
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
    arcjetKey: pod.arcjetKey,
    ...(deployNamespaces !== undefined ? { deployNamespaces, appsDomain: args.appsDomain } : {}),
  });
}

/**
 * What each Deployment waits for: the migrations Job (so a failed migration stops the rollout
 * and the old ReplicaSet keeps serving), and for the worker whatever else it needs first.
 */
function rolloutDependencies(args: Pick<AppArgs, "migrationsJob" | "workerDependsOn">): {
  web: pulumi.Resource[];
  worker: pulumi.Resource[];
} {
  return {
    web: [args.migrationsJob],
    worker: [args.migrationsJob, ...(args.workerDependsOn ?? [])],
  };
}
