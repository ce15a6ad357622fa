import * as k8s from "@pulumi/kubernetes";
import { ingressUrl, servesTls } from "../lib/ingress";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { PlatformSecret } from "../lib/secrets";
import { configHashAnnotation } from "../lib/hash";
import { serviceArgs } from "../lib/stateful";
import { assertValidArgs } from "../lib/validation";
import { disruptionBudget, objectMeta } from "../lib/workload";
import {
  TEMPORAL_DEFAULTS,
  TEMPORAL_UI_LOCAL_URL,
  temporalImages,
  temporalRules,
  type TemporalArgs,
  type TemporalIdentities,
  type TemporalImages,
} from "./args";
import {
  frontendIndex,
  namespaceJobName,
  schemaJobName,
  serverIdentity,
  serverLayout,
  temporalIdentities,
  type ServerPart,
} from "./builders";
import {
  TEMPORAL_CONFIG_FILE,
  TEMPORAL_DYNAMIC_CONFIG_FILE,
  TEMPORAL_PORTS,
  temporalDynamicConfig,
  temporalServerConfig,
} from "./config";
import { adminToolsJob, namespaceScript, SQL_TOOL_ENV, temporalSchemaScript } from "./jobs";
import {
  memberPorts,
  portNames,
  serverDeployment,
  TEMPORAL_UI_PORT,
  UI_CALLBACK_PATH,
  uiDeployment,
  uiIngressArgs,
  type UiAuth,
} from "./server";

const SCHEMA_JOB = { backoffLimit: 6, activeDeadlineSeconds: 900 };
const NAMESPACE_JOB = { backoffLimit: 4, activeDeadlineSeconds: 600 };

/** Where the component's children go: their name prefix, namespace and parent. */
interface Placement {
  name: string;
  namespace: pulumi.Input<string>;
  child: { parent: pulumi.Resource };
}

/**
 * Temporal on Postgres, without Helm hooks: a schema Job (`temporal-sql-tool`, straight to the
 * Postgres Service), the server (all four services in one Deployment, or one Deployment each),
 * the Web UI behind an Ingress, and a Job registering the app's namespace. Rollout order is
 * Pulumi dependencies: schema Job → server → namespace Job.
 */
export class Temporal extends pulumi.ComponentResource {
  /** `host:7233` of the frontend Service: the app's `TEMPORAL_ADDRESS`. */
  public readonly frontendAddress: pulumi.Output<string>;
  /** URL of the Web UI. */
  public readonly uiUrl: pulumi.Output<string>;
  /** The app's namespace; resolves once the namespace Job has registered it. */
  public readonly namespaceName: pulumi.Output<string>;
  /** Labels of its workloads, for network policies. */
  public readonly identities: TemporalIdentities;
  /** The Deployment running the frontend, for `dependsOn`. */
  public readonly frontend: k8s.apps.v1.Deployment;
  /** Every server Deployment. */
  public readonly deployments: k8s.apps.v1.Deployment[];
  /** The schema Job, which every server Deployment depends on. */
  public readonly schemaJob: k8s.batch.v1.Job;
  /** The namespace registration Job, which depends on the frontend. */
  public readonly namespaceJob: k8s.batch.v1.Job;

  constructor(name: string, args: TemporalArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:workflow:Temporal", name, {}, opts);
    assertValidArgs("Temporal", temporalRules(args));
    const at: Placement = { name, namespace: args.namespace, child: { parent: this } };
    const instance = args.instance ?? name;
    const images = temporalImages(args.images);
    const layout = serverLayout(args, serverIdentity(instance, images.server));
    this.identities = temporalIdentities(instance, images, layout);

    // Services first: the static config records the frontend's address.
    this.frontendAddress = frontendService(at, this.identities.frontend);
    const config = serverConfig(at, args, this.frontendAddress, this.identities.frontend);
    this.schemaJob = schemaJob(at, args, images, this.identities.schemaJob);
    this.deployments = serverDeployments(at, args, layout, images, {
      ...config,
      schemaJob: this.schemaJob,
    });
    this.frontend = this.deployments[frontendIndex(layout)];
    this.namespaceJob = namespaceJob(at, args, images, this.identities.namespaceJob, {
      address: this.frontendAddress,
      deployment: this.frontend,
    });
    // Consumers that read the namespace from here wait for its registration.
    this.namespaceName = this.namespaceJob.metadata.name.apply(() => args.appNamespace.name);
    this.uiUrl = webUi(at, args, images, this.identities.ui, this.frontendAddress);

    this.registerOutputs({
      frontendAddress: this.frontendAddress,
      uiUrl: this.uiUrl,
      namespaceName: this.namespaceName,
      schemaJob: this.schemaJob.metadata.name,
      namespaceJob: this.namespaceJob.metadata.name,
    });
  }
}

/** The frontend Service; returns the clients' address of it. */
function frontendService(at: Placement, identity: WorkloadIdentity): pulumi.Output<string> {
  const { name, namespace: ns, child } = at;
  const grpcPort = TEMPORAL_PORTS.frontend.grpc;
  new k8s.core.v1.Service(
    `${name}-frontend`,
    serviceArgs(`${name}-frontend`, ns, identity, [
      { name: portNames("frontend").grpc, port: grpcPort },
    ]),
    child,
  );
  // From the names, not the Service's outputs: the server's config records this address, and
  // a server that depended on its Service would wait for the provider's endpoint await on itself.
  return pulumi.interpolate`${name}-frontend.${ns}.svc:${grpcPort}`;
}

/** The server's two config files, and the ConfigMap that holds them. */
interface ServerConfig {
  configData: pulumi.Output<Record<string, string>>;
  configMap: k8s.core.v1.ConfigMap;
}

function serverConfig(
  at: Placement,
  args: TemporalArgs,
  frontendAddress: pulumi.Output<string>,
  identity: WorkloadIdentity,
): ServerConfig {
  const { host, port, database, visibilityDatabase } = args.postgres;
  const configData = pulumi
    .all([host, frontendAddress])
    .apply(([pgHost, address]): Record<string, string> => ({
      [TEMPORAL_CONFIG_FILE]: temporalServerConfig({
        numHistoryShards: args.numHistoryShards,
        postgres: { host: pgHost, port, database, visibilityDatabase },
        frontendAddress: address,
        connections: args.sqlConnections ?? TEMPORAL_DEFAULTS.sqlConnections,
      }),
      [TEMPORAL_DYNAMIC_CONFIG_FILE]: temporalDynamicConfig(),
    }));
  const configMap = new k8s.core.v1.ConfigMap(
    `${at.name}-config`,
    { metadata: objectMeta(`${at.name}-config`, at.namespace, identity), data: configData },
    at.child,
  );
  return { configData, configMap };
}

/** The Job installing or upgrading both schemas, straight against the Postgres Service. */
function schemaJob(
  at: Placement,
  args: TemporalArgs,
  images: TemporalImages,
  identity: WorkloadIdentity,
): k8s.batch.v1.Job {
  const { host, port, database, visibilityDatabase } = args.postgres;
  const jobName = schemaJobName(at.name, images.adminTools, args.postgres);
  return new k8s.batch.v1.Job(
    jobName,
    adminToolsJob({
      name: jobName,
      namespace: at.namespace,
      identity,
      image: images.adminTools,
      uid: IMAGES.temporalAdminTools.uid,
      script: pulumi
        .output(host)
        .apply((pgHost) =>
          temporalSchemaScript({ host: pgHost, port, database, visibilityDatabase }),
        ),
      env: [
        args.postgres.user.env(SQL_TOOL_ENV.user),
        args.postgres.password.env(SQL_TOOL_ENV.password),
      ],
      resources: args.jobResources ?? TEMPORAL_DEFAULTS.jobResources,
      ...SCHEMA_JOB,
    }),
    // A retried (replaceUnready) Job keeps its name: the old one must go first.
    { ...at.child, dependsOn: args.dependsOn ?? [], deleteBeforeReplace: true },
  );
}

/** What every server Deployment waits for and mounts. */
interface ServerInputs extends ServerConfig {
  schemaJob: k8s.batch.v1.Job;
}

/** One Deployment per part of the layout, each with its members Service (and PDB when HA). */
function serverDeployments(
  at: Placement,
  args: TemporalArgs,
  layout: readonly ServerPart[],
  images: TemporalImages,
  inputs: ServerInputs,
): k8s.apps.v1.Deployment[] {
  // A new config or a rotated password restarts the servers, which read both only at start.
  const podAnnotations = configHashAnnotation(
    inputs.configData,
    ...[args.postgres.user.content, args.postgres.password.content].filter(
      (content): content is pulumi.Output<Record<string, string>> => content !== undefined,
    ),
  );
  const serverChild = { ...at.child, dependsOn: [inputs.schemaJob, inputs.configMap] };
  return layout.map((part) => {
    const deploymentName = `${at.name}-${part.suffix}`;
    const deployment = new k8s.apps.v1.Deployment(
      deploymentName,
      serverDeployment({
        name: deploymentName,
        namespace: at.namespace,
        identity: part.identity,
        services: part.services,
        image: images.server,
        uid: IMAGES.temporalServer.uid,
        replicas: part.replicas,
        resources: part.resources,
        configMapName: inputs.configMap.metadata.name,
        user: args.postgres.user,
        password: args.postgres.password,
        podAnnotations,
      }),
      serverChild,
    );
    // Headless: every pod, ready or not, by its own address (members reach each other so).
    new k8s.core.v1.Service(
      `${deploymentName}-members`,
      serviceArgs(
        `${deploymentName}-members`,
        at.namespace,
        part.identity,
        memberPorts(part.services),
        {
          headless: true,
        },
      ),
      at.child,
    );
    if (part.replicas >= 2) {
      new k8s.policy.v1.PodDisruptionBudget(
        deploymentName,
        disruptionBudget(deploymentName, at.namespace, part.identity),
        at.child,
      );
    }
    return deployment;
  });
}

/** The Job registering the app's namespace once the frontend is up. */
function namespaceJob(
  at: Placement,
  args: TemporalArgs,
  images: TemporalImages,
  identity: WorkloadIdentity,
  frontend: { address: pulumi.Output<string>; deployment: k8s.apps.v1.Deployment },
): k8s.batch.v1.Job {
  const registration = args.appNamespace;
  const jobName = namespaceJobName(at.name, images.adminTools, registration);
  return new k8s.batch.v1.Job(
    jobName,
    adminToolsJob({
      name: jobName,
      namespace: at.namespace,
      identity,
      image: images.adminTools,
      uid: IMAGES.temporalAdminTools.uid,
      script: namespaceScript(registration),
      env: [{ name: "TEMPORAL_ADDRESS", value: frontend.address }],
      resources: args.jobResources ?? TEMPORAL_DEFAULTS.jobResources,
      ...NAMESPACE_JOB,
    }),
    { ...at.child, dependsOn: [frontend.deployment], deleteBeforeReplace: true },
  );
}

/**
 * The Web UI: Deployment (and PDB when HA), Service, the Ingress when it has one, and the
 * Secret of its OIDC client when it logs in; returns its URL (the port-forward's without Ingress).
 */
function webUi(
  at: Placement,
  args: TemporalArgs,
  images: TemporalImages,
  identity: WorkloadIdentity,
  frontendAddress: pulumi.Output<string>,
): pulumi.Output<string> {
  const { namespace: ns, child } = at;
  const { ingress } = args.ui;
  const replicas = args.ui.replicas ?? TEMPORAL_DEFAULTS.uiReplicas;
  const url = ingress ? ingressUrl(ingress) : TEMPORAL_UI_LOCAL_URL;
  const uiName = `${at.name}-ui`;
  const auth = uiAuth(at, args, identity, url);
  new k8s.apps.v1.Deployment(
    uiName,
    uiDeployment({
      name: uiName,
      namespace: ns,
      identity,
      image: images.ui,
      uid: IMAGES.temporalUi.uid,
      replicas,
      resources: args.uiResources ?? TEMPORAL_DEFAULTS.uiResources,
      frontendAddress,
      defaultNamespace: args.appNamespace.name,
      url,
      tls: ingress ? servesTls(ingress) : false,
      writeActions: args.ui.writeActions ?? TEMPORAL_DEFAULTS.uiWriteActions,
      ...(auth
        ? { auth: auth.settings, podAnnotations: configHashAnnotation(auth.secret.content) }
        : {}),
    }),
    auth ? { ...child, dependsOn: [auth.secret.resource] } : child,
  );
  if (replicas >= 2) {
    new k8s.policy.v1.PodDisruptionBudget(uiName, disruptionBudget(uiName, ns, identity), child);
  }
  const uiService = new k8s.core.v1.Service(
    uiName,
    serviceArgs(uiName, ns, identity, [{ name: "http", port: TEMPORAL_UI_PORT }]),
    child,
  );
  if (ingress) {
    new k8s.networking.v1.Ingress(
      uiName,
      uiIngressArgs(uiName, ns, identity, ingress, uiService.metadata.name),
      child,
    );
  }
  return pulumi.output(url);
}

/** The OIDC login's settings and the Secret holding its client secret, when the UI has one. */
function uiAuth(
  at: Placement,
  args: TemporalArgs,
  identity: WorkloadIdentity,
  url: string,
): { settings: UiAuth; secret: PlatformSecret } | undefined {
  const { oidc } = args.ui;
  // temporalRules refused OIDC without a secret before any child existed.
  if (oidc?.clientSecret === undefined) return undefined;
  const secret = new PlatformSecret(
    `${at.name}-ui-oidc`,
    {
      namespace: at.namespace,
      labels: labelsFor(identity),
      data: { clientSecret: oidc.clientSecret },
    },
    at.child,
  );
  return {
    secret,
    settings: {
      issuerUrl: oidc.issuerUrl,
      clientId: oidc.clientId,
      scopes: oidc.scopes ?? TEMPORAL_DEFAULTS.oidcScopes,
      callbackUrl: `${url}${UI_CALLBACK_PATH}`,
      clientSecret: secret.key("clientSecret"),
    },
  };
}
