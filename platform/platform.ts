import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformArgs } from "../stack-config/types";
import { argsForDragonfly } from "./args/dragonfly";
import { App } from "../components/app";
import { DeployTarget } from "../components/deploy-target";
import { Dragonfly } from "../components/dragonfly";
import { PART_OF } from "../core/labels";
import { nodeLogsNamespace } from "../core/security-exceptions";
import { podSecurityLabels } from "../components/lib/security";
import { Migrations } from "../components/migrations";
import { NetworkPolicies } from "../components/network-policies";
import { ObjectStore } from "../components/object-store";
import { Observability } from "../components/observability";
import { Ollama } from "../components/ollama";
import { PgBouncer } from "../components/pgbouncer";
import { platformEdges } from "./wiring";
import { Postgres } from "../components/postgres";
import { Temporal } from "../components/temporal";

/**
 * The whole platform in one component: the namespace and every component of the stack, wired
 * together by their outputs. A new component is one file in `components/` and one line here.
 */
export class Platform extends pulumi.ComponentResource {
  /** Namespace every platform workload runs in (Pod Security `restricted`). */
  public readonly namespace: pulumi.Output<string>;
  /** The app's public URL. */
  public readonly appUrl: pulumi.Output<string>;
  /** Grafana's URL. */
  public readonly grafanaUrl: pulumi.Output<string>;
  /** The Temporal Web UI's URL. */
  public readonly temporalUiUrl: pulumi.Output<string>;
  /** The app's `DATABASE_URL` through PgBouncer (secret). */
  public readonly databaseUrl: pulumi.Output<string>;
  /** Temporal's frontend address (`host:7233`) for workers and tools. */
  public readonly temporalAddress: pulumi.Output<string>;
  /** The collector's OTLP endpoint over HTTP (4318), what the app's OTEL_EXPORTER_OTLP_ENDPOINT holds. */
  public readonly otlpEndpoint: pulumi.Output<string>;
  /** The wiring table that the NetworkPolicies enforce, as Markdown. */
  public readonly wiringTable: pulumi.Output<string>;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:platform:Platform", name, {}, opts);
    const host = (subdomain: string) => `${subdomain}.${args.cluster.domain}`;

    const namespace = new k8s.core.v1.Namespace(
      "namespace",
      {
        metadata: {
          name: args.namespace,
          labels: {
            ...podSecurityLabels("restricted"),
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "pulumi",
          },
        },
      },
      { parent: this },
    );
    // Every child takes the namespace as an output, so none is created before the namespace.
    const ns = namespace.metadata.name;
    const common = { namespace: ns, instance: name, storageClass: args.cluster.storageClass };
    const child = { parent: this };
    const protect = args.protectStateful;

    const objectStore = new ObjectStore(
      "object-store",
      {
        ...common,
        image: args.objectStore.image,
        clientImage: args.objectStore.clientImage,
        resources: args.objectStore.resources,
        storageSize: args.objectStore.storageSize,
        buckets: {
          app: args.objectStore.buckets.app,
          backups: args.objectStore.buckets.backups,
          ...(args.observability.objectStorage
            ? { loki: args.objectStore.buckets.loki, tempo: args.objectStore.buckets.tempo }
            : {}),
        },
        protect,
      },
      child,
    );

    const postgres = new Postgres(
      "postgres",
      {
        ...common,
        storageClass: args.postgres.storageClass ?? args.cluster.storageClass,
        storageSize: args.postgres.storageSize,
        resources: args.postgres.resources,
        maxConnections: args.postgres.maxConnections,
        superuserReservedConnections: args.postgres.superuserReservedConnections,
        protect,
        backup: args.postgres.backup.enabled
          ? {
              schedule: args.postgres.backup.schedule,
              retain: args.postgres.backup.retain,
              bucket: objectStore.bucketFor("backups"),
              endpoint: objectStore.endpoint,
              accessKey: objectStore.credentialsFor("backups").accessKey,
              secretKey: objectStore.credentialsFor("backups").secretKey,
            }
          : undefined,
      },
      child,
    );

    const pgbouncer = new PgBouncer(
      "pgbouncer",
      {
        namespace: ns,
        instance: name,
        replicas: args.pgbouncer.replicas,
        resources: args.pgbouncer.resources,
        pool: args.pgbouncer,
        postgresHost: postgres.host,
        postgresPort: postgres.port,
        credentials: postgres.appCredentials,
      },
      child,
    );

    const dragonfly = new Dragonfly(
      "dragonfly",
      { ...argsForDragonfly(args), namespace: ns, instance: name },
      child,
    );

    const observability = new Observability(
      "observability",
      {
        ...common,
        protect,
        nodeLogs: { enabled: args.observability.nodeLogs },
        collector: { replicas: args.observability.collectorReplicas },
        tempo: {
          retention: args.observability.retention.traces,
          storageSize: args.observability.storage.tempo,
        },
        loki: {
          retention: args.observability.retention.logs,
          storageSize: args.observability.storage.loki,
        },
        prometheus: {
          retention: args.observability.retention.metrics,
          storageSize: args.observability.storage.prometheus,
        },
        grafana: {
          host: args.observability.grafana.host ?? host("grafana"),
          anonymousViewer: args.observability.grafana.anonymousViewer,
          ingressClassName: args.cluster.ingressClass,
          tls: args.cluster.tlsSecretName ? { secretName: args.cluster.tlsSecretName } : undefined,
          storageSize: args.observability.storage.grafana,
        },
        objectStorage: args.observability.objectStorage
          ? {
              endpoint: objectStore.endpoint,
              loki: {
                bucket: objectStore.bucketFor("loki"),
                credentials: objectStore.credentialsFor("loki"),
              },
              tempo: {
                bucket: objectStore.bucketFor("tempo"),
                credentials: objectStore.credentialsFor("tempo"),
              },
              dependsOn: [objectStore.bucketJob],
            }
          : undefined,
      },
      child,
    );

    const temporal = new Temporal(
      "temporal",
      {
        namespace: ns,
        instance: name,
        postgres: {
          host: postgres.host,
          port: 5432,
          user: postgres.temporalSecret.key("username"),
          password: postgres.temporalSecret.key("password"),
          database: "temporal",
          visibilityDatabase: "temporal_visibility",
        },
        numHistoryShards: args.temporal.numHistoryShards,
        separateServices: args.temporal.separateServices,
        replicas: replicasPerService(args.temporal.replicas),
        resources: args.temporal.resources,
        ui: {
          host: args.temporal.ui.host ?? host("temporal"),
          ingressClass: args.cluster.ingressClass,
          tlsSecretName: args.cluster.tlsSecretName,
          replicas: args.temporal.separateServices ? 2 : 1,
        },
        appNamespace: args.temporal.namespace,
        dependsOn: [postgres.statefulSet],
      },
      child,
    );

    const ollama = new Ollama(
      "ollama",
      {
        namespace: ns,
        instance: name,
        storageClass: args.cluster.storageClass,
        resources: args.ollama.resources,
        storageSize: args.ollama.storageSize,
        models: args.ollama.models,
        keepAlive: args.ollama.keepAlive,
        numParallel: args.ollama.numParallel,
        gpu: args.ollama.gpu,
        protect,
      },
      child,
    );

    const migrations = new Migrations(
      "migrations",
      {
        namespace: ns,
        instance: name,
        databaseUrl: postgres.appSecret.key("url"),
        dependsOn: [postgres.statefulSet],
      },
      child,
    );

    const deployTarget = new DeployTarget(
      "deploy-target",
      {
        namespace: args.namespace,
        namespaceRef: ns,
        instance: name,
        targetNamespaces: args.deployTargets.namespaces,
        quota: args.deployTargets.quota,
        containerLimits: args.deployTargets.containerLimits,
        podCidr: args.cluster.podCidr,
        serviceCidr: args.cluster.serviceCidr,
        apiServer: args.deployTargets.apiServer,
      },
      child,
    );

    const app = new App(
      "app",
      {
        namespace: ns,
        instance: name,
        profile: args.profile,
        image: args.app.image,
        build: args.app.build && {
          ...args.app.build,
          registry: { ...args.app.build.registry, password: args.secrets.registryPassword },
        },
        web: args.app.web,
        worker: args.app.worker,
        ingress: {
          host: args.app.host ?? host("app"),
          tlsSecretName: args.cluster.tlsSecretName,
          ingressClassName: args.cluster.ingressClass,
        },
        databaseUrl: pgbouncer.appSecret.key("url"),
        databaseDirectUrl: postgres.appSecret.key("url"),
        directDatabaseAccess: args.app.directDatabaseAccess,
        redisUrl: dragonfly.redisUrl,
        // OTLP over HTTP: the protocol every OTel SDK defaults to when only the endpoint is set.
        otlpEndpoint: observability.otlpHttpEndpoint,
        temporal: { address: temporal.frontendAddress, namespace: temporal.namespaceName },
        s3: {
          endpoint: objectStore.endpoint,
          bucket: objectStore.bucketFor("app"),
          accessKeyId: objectStore.credentialsFor("app").accessKey,
          secretAccessKey: objectStore.credentialsFor("app").secretKey,
        },
        ollamaHost: ollama.host,
        arcjetKey: args.secrets.arcjetKey,
        migrationsJob: migrations.job,
        workerDependsOn: [ollama.modelsReady],
        workerServiceAccountName: deployTarget.serviceAccountName,
        deployNamespaces: deployTarget.targetNamespaces,
      },
      child,
    );

    const edges = platformEdges(args, {
      postgres,
      pgbouncer,
      dragonfly,
      objectStore,
      observability,
      temporal,
      ollama,
      migrations,
      app,
      deployTarget,
    });
    // One set of policies per namespace, all from the same edges, so both ends of a
    // cross-namespace edge (node log collector → gateway) agree.
    const policyNamespaces: [string, pulumi.Input<string>][] = [
      [args.namespace, ns],
      ...(args.observability.nodeLogs
        ? [
            [nodeLogsNamespace(args.namespace), observability.nodeLogsNamespace.apply(String)] as [
              string,
              pulumi.Input<string>,
            ],
          ]
        : []),
    ];
    const [networkPolicies] = policyNamespaces.map(
      ([policyNamespace, namespaceRef]) =>
        new NetworkPolicies(
          policyNamespace === args.namespace
            ? "network-policies"
            : `network-policies-${policyNamespace}`,
          {
            namespace: policyNamespace,
            namespaceRef,
            podCidr: args.cluster.podCidr,
            serviceCidr: args.cluster.serviceCidr,
            edges,
          },
          child,
        ),
    );

    this.namespace = ns;
    this.appUrl = app.url;
    this.grafanaUrl = observability.grafanaUrl;
    this.temporalUiUrl = temporal.uiUrl;
    this.databaseUrl = pgbouncer.url;
    this.temporalAddress = temporal.frontendAddress;
    this.otlpEndpoint = observability.otlpHttpEndpoint;
    this.wiringTable = networkPolicies.table;
    this.registerOutputs({
      namespace: this.namespace,
      appUrl: this.appUrl,
      grafanaUrl: this.grafanaUrl,
      temporalUiUrl: this.temporalUiUrl,
      databaseUrl: this.databaseUrl,
      temporalAddress: this.temporalAddress,
      otlpEndpoint: this.otlpEndpoint,
      wiringTable: this.wiringTable,
    });
  }
}

function replicasPerService(replicas: number) {
  return { frontend: replicas, history: replicas, matching: replicas, worker: replicas };
}
