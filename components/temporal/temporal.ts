import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation, hashedName } from "../lib/hash";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../core/labels";
import { RESOURCE_PRESETS } from "../lib/resources";
import { serviceArgs } from "../lib/stateful";
import { disruptionBudget, objectMeta } from "../lib/workload";
import { type TemporalArgs, type TemporalIdentities, validateTemporalArgs } from "./args";
import {
  DEFAULT_SQL_CONNECTIONS,
  TEMPORAL_CONFIG_FILE,
  TEMPORAL_DYNAMIC_CONFIG_FILE,
  TEMPORAL_PORTS,
  TEMPORAL_SERVICES,
  temporalDynamicConfig,
  temporalServerConfig,
  type TemporalServiceName,
} from "./config";
import { adminToolsJob, namespaceScript, SQL_TOOL_ENV, temporalSchemaScript } from "./jobs";
import {
  memberPorts,
  portNames,
  serverDeployment,
  TEMPORAL_UI_PORT,
  uiDeployment,
  uiIngressArgs,
} from "./server";

export {
  type TemporalArgs,
  type TemporalIdentities,
  type TemporalPostgres,
  validateTemporalArgs,
} from "./args";
export {
  assertShardsUnchanged,
  DEFAULT_SQL_CONNECTIONS,
  MEMBERSHIP_PORT_LIMIT,
  renderConfigTemplate,
  shardChangeProblem,
  shardCountProblem,
  TEMPORAL_CONFIG_ENV,
  TEMPORAL_METRICS_PORT,
  TEMPORAL_PORTS,
  TEMPORAL_SERVICES,
  temporalConnectionCount,
  temporalDynamicConfig,
  temporalServerConfig,
  type TemporalServerConfigArgs,
  type TemporalServiceName,
  type TemporalSqlConnections,
} from "./config";
export {
  namespaceScript,
  SCHEMA_NAMES,
  schemaSteps,
  SQL_TOOL_ENV,
  sqlToolCommand,
  temporalSchemaScript,
} from "./jobs";
export { HEALTH_SERVICES, serverCommand, TEMPORAL_UI_PORT } from "./server";

const SCHEMA_JOB = { backoffLimit: 6, activeDeadlineSeconds: 900 };
const NAMESPACE_JOB = { backoffLimit: 4, activeDeadlineSeconds: 600 };

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
    validateTemporalArgs(args);
    const ns = args.namespace;
    const instance = args.instance ?? name;
    const serverImage = args.images?.server ?? imageRef("temporalServer");
    const toolsImage = args.images?.adminTools ?? imageRef("temporalAdminTools");
    const uiImage = args.images?.ui ?? imageRef("temporalUi");
    const jobResources = args.jobResources ?? RESOURCE_PRESETS.nano;
    const version = tagOf(serverImage);
    const serverIdentity = (component: string): WorkloadIdentity => ({
      name: "temporal-server",
      component,
      instance,
      version,
    });
    const tools = (component: string): WorkloadIdentity => ({
      name: "temporal-admin-tools",
      component,
      instance,
      version: tagOf(toolsImage),
    });
    const layout: { identity: WorkloadIdentity; services: TemporalServiceName[] }[] =
      args.separateServices
        ? TEMPORAL_SERVICES.map((service) => ({
            identity: serverIdentity(`temporal-${service}`),
            services: [service],
          }))
        : [{ identity: serverIdentity("temporal-server"), services: [...TEMPORAL_SERVICES] }];
    const frontendIdentity = layout.find((part) => part.services.includes("frontend"))!.identity;
    this.identities = {
      server: layout.map((part) => part.identity),
      frontend: frontendIdentity,
      ui: { name: "temporal-ui", component: "temporal-ui", instance, version: tagOf(uiImage) },
      schemaJob: tools("temporal-schema"),
      namespaceJob: tools("temporal-namespace"),
    };
    const child = { parent: this };

    // Services first: the static config records the frontend's address.
    new k8s.core.v1.Service(
      `${name}-frontend`,
      serviceArgs(`${name}-frontend`, ns, frontendIdentity, [
        { name: portNames("frontend").grpc, port: TEMPORAL_PORTS.frontend.grpc },
      ]),
      child,
    );
    const grpcPort = TEMPORAL_PORTS.frontend.grpc;
    // From the names, not the Service's outputs: the server's config records this address, and
    // a server that depended on its Service would wait for the provider's endpoint await on itself.
    this.frontendAddress = pulumi.interpolate`${name}-frontend.${ns}.svc:${grpcPort}`;

    const { host, port, database, visibilityDatabase } = args.postgres;
    const configData = pulumi
      .all([host, this.frontendAddress])
      .apply(([pgHost, frontendAddress]) => ({
        [TEMPORAL_CONFIG_FILE]: temporalServerConfig({
          numHistoryShards: args.numHistoryShards,
          postgres: { host: pgHost, port, database, visibilityDatabase },
          frontendAddress,
          connections: args.sqlConnections ?? DEFAULT_SQL_CONNECTIONS,
        }),
        [TEMPORAL_DYNAMIC_CONFIG_FILE]: temporalDynamicConfig(),
      }));
    const configMap = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: objectMeta(`${name}-config`, ns, frontendIdentity), data: configData },
      child,
    );

    // Named by everything that shapes it, so a new release is a new Job; the host is in its
    // script too, so even a host only known later replaces the Job when it changes.
    const schemaJobName = hashedName(`${name}-schema`, {
      image: toolsImage,
      host: typeof host === "string" ? host : undefined,
      port,
      database,
      visibilityDatabase,
    });
    this.schemaJob = new k8s.batch.v1.Job(
      schemaJobName,
      adminToolsJob({
        name: schemaJobName,
        namespace: ns,
        identity: this.identities.schemaJob,
        image: toolsImage,
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
        resources: jobResources,
        ...SCHEMA_JOB,
      }),
      // A retried (replaceUnready) Job keeps its name: the old one must go first.
      { ...child, dependsOn: args.dependsOn ?? [], deleteBeforeReplace: true },
    );

    // A new config or a rotated password restarts the servers, which read both only at start.
    const podAnnotations = configHashAnnotation(
      configData,
      ...[args.postgres.user.content, args.postgres.password.content].filter(
        (content): content is pulumi.Output<Record<string, string>> => content !== undefined,
      ),
    );
    const serverChild = { ...child, dependsOn: [this.schemaJob, configMap] };
    this.deployments = layout.map(({ identity, services }) => {
      const deploymentName = args.separateServices ? `${name}-${services[0]}` : `${name}-server`;
      const replicas = args.separateServices ? (args.replicas?.[services[0]] ?? 1) : 1;
      const deployment = new k8s.apps.v1.Deployment(
        deploymentName,
        serverDeployment({
          name: deploymentName,
          namespace: ns,
          identity,
          services,
          image: serverImage,
          uid: IMAGES.temporalServer.uid,
          replicas,
          resources:
            (args.separateServices && args.serviceResources?.[services[0]]) || args.resources,
          configMapName: configMap.metadata.name,
          user: args.postgres.user,
          password: args.postgres.password,
          podAnnotations,
        }),
        serverChild,
      );
      // Headless: every pod, ready or not, by its own address (members reach each other so).
      new k8s.core.v1.Service(
        `${deploymentName}-members`,
        serviceArgs(`${deploymentName}-members`, ns, identity, memberPorts(services), {
          headless: true,
        }),
        child,
      );
      if (replicas >= 2) {
        new k8s.policy.v1.PodDisruptionBudget(
          deploymentName,
          disruptionBudget(deploymentName, ns, identity),
          child,
        );
      }
      return deployment;
    });
    this.frontend =
      this.deployments[layout.findIndex((part) => part.identity === frontendIdentity)];

    const registration = args.appNamespace;
    const namespaceJobName = hashedName(`${name}-namespace`, {
      image: toolsImage,
      registration,
      frontend: `${name}-frontend`,
    });
    this.namespaceJob = new k8s.batch.v1.Job(
      namespaceJobName,
      adminToolsJob({
        name: namespaceJobName,
        namespace: ns,
        identity: this.identities.namespaceJob,
        image: toolsImage,
        uid: IMAGES.temporalAdminTools.uid,
        script: namespaceScript(registration),
        env: [{ name: "TEMPORAL_ADDRESS", value: this.frontendAddress }],
        resources: jobResources,
        ...NAMESPACE_JOB,
      }),
      { ...child, dependsOn: [this.frontend], deleteBeforeReplace: true },
    );
    // Consumers that read the namespace from here wait for its registration.
    this.namespaceName = this.namespaceJob.metadata.name.apply(() => registration.name);

    const uiReplicas = args.ui.replicas ?? 1;
    const tls = args.ui.tlsSecretName !== undefined;
    const uiUrl = `${tls ? "https" : "http"}://${args.ui.host}`;
    const uiName = `${name}-ui`;
    new k8s.apps.v1.Deployment(
      uiName,
      uiDeployment({
        name: uiName,
        namespace: ns,
        identity: this.identities.ui,
        image: uiImage,
        uid: IMAGES.temporalUi.uid,
        replicas: uiReplicas,
        resources: args.uiResources ?? RESOURCE_PRESETS.nano,
        frontendAddress: this.frontendAddress,
        defaultNamespace: registration.name,
        url: uiUrl,
        tls,
      }),
      child,
    );
    if (uiReplicas >= 2) {
      new k8s.policy.v1.PodDisruptionBudget(
        uiName,
        disruptionBudget(uiName, ns, this.identities.ui),
        child,
      );
    }
    const uiService = new k8s.core.v1.Service(
      uiName,
      serviceArgs(uiName, ns, this.identities.ui, [{ name: "http", port: TEMPORAL_UI_PORT }]),
      child,
    );
    new k8s.networking.v1.Ingress(
      uiName,
      uiIngressArgs(uiName, ns, this.identities.ui, args.ui, uiService.metadata.name),
      child,
    );
    this.uiUrl = pulumi.output(uiUrl);

    this.registerOutputs({
      frontendAddress: this.frontendAddress,
      uiUrl: this.uiUrl,
      namespaceName: this.namespaceName,
      schemaJob: this.schemaJob.metadata.name,
      namespaceJob: this.namespaceJob.metadata.name,
    });
  }
}
