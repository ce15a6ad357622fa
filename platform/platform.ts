import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformArgs } from "../stack-config/types";
import { argsForApp, pullUsernameOf } from "./args/app";
import { appIsOn } from "../stack-config/stack-rules";
import { argsForDeployTarget } from "./args/deploy-target";
import { argsForDragonfly, externalSnapshotTarget } from "./args/dragonfly";
import { imagesForPlatform, type ComponentImages } from "./args/images";
import { argsForMigrations } from "./args/migrations";
import { argsForNetworkPolicies } from "./args/network-policies";
import { argsForObjectStore } from "./args/object-store";
import { argsForObservability } from "./args/observability";
import { argsForOllama } from "./args/ollama";
import { argsForPgBouncer } from "./args/pgbouncer";
import { argsForPostgres, externalBackupTarget } from "./args/postgres";
import { argsForTemporal } from "./args/temporal";
import { App } from "../components/app";
import { DeployTarget } from "../components/deploy-target";
import { Dragonfly, type DragonflySnapshotStore } from "../components/dragonfly";
import { longestCronGapSeconds } from "../core/cron";
import { PART_OF } from "../policy/model/labels";
import { PROFILE_LABEL } from "../policy/model/profile";
import { nodeLogsNamespace } from "../policy/model/security-exceptions";
import { podSecurityLabels } from "../components/lib/security";
import { Migrations } from "../components/migrations";
import { NetworkPolicies } from "../components/network-policies";
import { ObjectStore } from "../components/object-store";
import {
  Observability,
  type BackupSchedule,
  type ObjectStorageArgs,
} from "../components/observability";
import { Ollama } from "../components/ollama";
import { PgBouncer } from "../components/pgbouncer";
import { platformEdges, type WiredComponents } from "./wiring";
import type { Edge } from "../policy/model/network";
import { BACKUP_RUN_DEADLINE_SECONDS, Postgres } from "../components/postgres";
import type { PostgresBackupArgs } from "../components/postgres/args";
import { Temporal } from "../components/temporal";

/**
 * The whole platform in one component: the namespace and every component of the stack, wired
 * together by their outputs. The constructor is the table of contents: one line per component,
 * each built from `argsFor<Component>(args)` (platform/args/) plus what only exists at run time.
 */
export class Platform extends pulumi.ComponentResource {
  /** Namespace every platform workload runs in (Pod Security `restricted`). */
  public readonly namespace: pulumi.Output<string>;
  /** The app's public URL; none while the app is off. */
  public readonly appUrl: pulumi.Output<string> | undefined;
  /** The image reference the app's pods run; none while the app is off. */
  public readonly appImage: pulumi.Output<string> | undefined;
  /** Whether the app runs, and if not, how to turn it on. */
  public readonly appStatus: string;
  /** Grafana's URL. */
  public readonly grafanaUrl: pulumi.Output<string>;
  /** Grafana's admin user name. */
  public readonly grafanaAdminUser: string;
  /** Grafana's admin password as first seeded (secret). */
  public readonly grafanaAdminPassword: pulumi.Output<string>;
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
    // Every child takes the namespace as an output, so none is created before the namespace.
    const at: Placement = {
      args,
      name,
      ns: platformNamespace(args, this).metadata.name,
      parent: this,
      images: imagesForPlatform(args),
    };
    const objectStore = objectStoreOn(at);
    const postgres = postgresOn(at, objectStore);
    const pgbouncer = pgbouncerOn(at, postgres);
    const dragonfly = dragonflyOn(at, objectStore);
    const observability = observabilityOn(at, objectStore, postgres);
    const temporal = temporalOn(at, postgres);
    const ollama = ollamaOn(at);
    const migrations = migrationsOn(at, postgres);
    const deployTarget = new DeployTarget(
      "deploy-target",
      {
        ...argsForDeployTarget(args),
        namespace: args.namespace,
        namespaceRef: at.ns,
        instance: name,
      },
      { parent: at.parent },
    );
    const wired = {
      postgres,
      pgbouncer,
      dragonfly,
      objectStore,
      observability,
      temporal,
      ollama,
      migrations,
      deployTarget,
    };
    const app = appOn(at, wired);
    const networkPolicies = networkPoliciesOn(
      at,
      platformEdges(args, { ...wired, app }),
      observability,
    );

    this.namespace = at.ns;
    this.appUrl = app?.url;
    this.appImage = app?.image;
    this.appStatus = app ? "on" : APP_OFF_STATUS;
    this.grafanaUrl = observability.grafanaUrl;
    this.grafanaAdminUser = observability.grafanaAdmin.user;
    this.grafanaAdminPassword = pulumi.secret(observability.grafanaAdmin.password);
    this.temporalUiUrl = temporal.uiUrl;
    this.databaseUrl = pgbouncer.url;
    this.temporalAddress = temporal.frontendAddress;
    this.otlpEndpoint = observability.otlpHttpEndpoint;
    this.wiringTable = networkPolicies.table;
    this.registerOutputs({
      namespace: this.namespace,
      appUrl: this.appUrl,
      appImage: this.appImage,
      appStatus: this.appStatus,
      grafanaUrl: this.grafanaUrl,
      grafanaAdminUser: this.grafanaAdminUser,
      grafanaAdminPassword: this.grafanaAdminPassword,
      temporalUiUrl: this.temporalUiUrl,
      databaseUrl: this.databaseUrl,
      temporalAddress: this.temporalAddress,
      otlpEndpoint: this.otlpEndpoint,
      wiringTable: this.wiringTable,
    });
  }
}

/** Where the Platform puts a component: its namespace, instance label and parent. */
interface Placement {
  args: PlatformArgs;
  /** The Platform's name: every component's `instance`. */
  name: string;
  /** The namespace's name as an output of the Namespace object. */
  ns: pulumi.Output<string>;
  parent: Platform;
  /** Every component's images, resolved once for the stack. */
  images: ComponentImages;
}

/** The `namespace` and `instance` arguments every component takes from its placement. */
function placed(at: Placement) {
  return { namespace: at.ns, instance: at.name };
}

/**
 * The platform namespace: Pod Security `restricted`, labelled as ours and with the stack's profile,
 * which the policy pack's prod-only rules read (a stack without the label is judged as prod).
 */
function platformNamespace(args: PlatformArgs, parent: Platform): k8s.core.v1.Namespace {
  return new k8s.core.v1.Namespace(
    "namespace",
    {
      metadata: {
        name: args.namespace,
        labels: {
          ...podSecurityLabels("restricted"),
          "app.kubernetes.io/part-of": PART_OF,
          "app.kubernetes.io/managed-by": "pulumi",
          [PROFILE_LABEL]: args.profile,
        },
      },
    },
    { parent },
  );
}

/** The object store, with the root and consumer keys the stack gives (the rest generated). */
function objectStoreOn(at: Placement): ObjectStore {
  return new ObjectStore(
    "object-store",
    {
      ...argsForObjectStore(at.args),
      ...at.images.objectStore,
      ...placed(at),
      secretKeys: at.args.credentials.objectStore,
    },
    { parent: at.parent },
  );
}

function ollamaOn(at: Placement): Ollama {
  return new Ollama(
    "ollama",
    { ...argsForOllama(at.args), ...at.images.ollama, ...placed(at) },
    { parent: at.parent },
  );
}

/** Postgres, its backups (when on) in the external target or the object store's backup bucket. */
function postgresOn(at: Placement, objectStore: ObjectStore): Postgres {
  const settings = argsForPostgres(at.args);
  return new Postgres(
    "postgres",
    {
      ...settings,
      ...at.images.postgres,
      ...placed(at),
      passwords: at.args.credentials.postgres,
      backup: settings.backup && { ...settings.backup, ...backupTargetOf(at, objectStore) },
      ha: settings.ha && { ...settings.ha, ...at.images.postgresHa },
    },
    { parent: at.parent },
  );
}

/** The bucket, endpoint and keys of the backup target: the stack's external one, or in-cluster. */
function backupTargetOf(
  at: Placement,
  objectStore: ObjectStore,
): Pick<PostgresBackupArgs, "bucket" | "endpoint" | "credentials"> {
  const external = externalBackupTarget(at.args);
  if (external === undefined) {
    const { accessKey, secretKey } = objectStore.credentialsFor("backups");
    return {
      bucket: objectStore.bucketFor("backups"),
      endpoint: objectStore.endpoint,
      credentials: { accessKey, secretKey },
    };
  }
  const { backupS3AccessKeyId: accessKeyId, backupS3SecretAccessKey: secretAccessKey } =
    at.args.secrets;
  // The config's rules require both with an s3 target, before anything is created.
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new Error("an s3 backup target without backupS3AccessKeyId and backupS3SecretAccessKey");
  }
  return {
    bucket: external.bucket,
    endpoint: external.endpoint,
    credentials: { accessKeyId, secretAccessKey },
  };
}

function pgbouncerOn(at: Placement, postgres: Postgres): PgBouncer {
  return new PgBouncer(
    "pgbouncer",
    {
      ...argsForPgBouncer(at.args),
      ...at.images.pgbouncer,
      ...placed(at),
      statsPassword: at.args.credentials.pgbouncer?.stats,
      postgresHost: postgres.host,
      postgresPort: postgres.port,
      credentials: postgres.appCredentials,
      standbyLogin: postgres.appStandbyLogin,
      dependsOn: [postgres.rolesReady],
    },
    { parent: at.parent },
  );
}

/** Dragonfly, its snapshots (unless on its volume) in the external target or the object store. */
function dragonflyOn(at: Placement, objectStore: ObjectStore): Dragonfly {
  const settings = argsForDragonfly(at.args);
  return new Dragonfly(
    "dragonfly",
    {
      ...settings,
      ...at.images.dragonfly,
      ...placed(at),
      password: at.args.credentials.dragonfly?.password,
      snapshotStore: settings.snapshotStore && {
        ...settings.snapshotStore,
        ...snapshotStoreOf(at, objectStore),
      },
    },
    { parent: at.parent },
  );
}

/** The bucket, endpoint and keys of the snapshot target: the stack's external one, or in-cluster. */
function snapshotStoreOf(
  at: Placement,
  objectStore: ObjectStore,
): Pick<DragonflySnapshotStore, "bucket" | "endpoint" | "credentials" | "dependsOn"> {
  const external = externalSnapshotTarget(at.args);
  if (external === undefined) {
    return {
      bucket: objectStore.bucketFor("dragonfly"),
      endpoint: objectStore.endpoint,
      credentials: objectStore.credentialsFor("dragonfly"),
      dependsOn: [objectStore.bucketJob],
    };
  }
  const { dragonflyS3AccessKeyId: accessKeyId, dragonflyS3SecretAccessKey: secretAccessKey } =
    at.args.secrets;
  // The config's rules require both with an s3 target, before anything is created.
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new Error(
      "an s3 snapshot target without dragonflyS3AccessKeyId and dragonflyS3SecretAccessKey",
    );
  }
  return {
    bucket: external.bucket,
    endpoint: external.endpoint,
    credentials: { accessKeyId, secretAccessKey },
  };
}

/** The observability stack; in prod Loki and Tempo keep their data in the object store. */
function observabilityOn(
  at: Placement,
  objectStore: ObjectStore,
  postgres: Postgres,
): Observability {
  const settings = argsForObservability(at.args);
  const images = at.images.observability;
  return new Observability(
    "observability",
    {
      ...settings,
      ...placed(at),
      collector: { ...settings.collector, ...images.collector },
      nodeLogs: { ...settings.nodeLogs, ...images.nodeLogs },
      tempo: { ...settings.tempo, ...images.tempo },
      loki: { ...settings.loki, ...images.loki },
      prometheus: { ...settings.prometheus, ...images.prometheus },
      kubeStateMetrics: { ...settings.kubeStateMetrics, ...images.kubeStateMetrics },
      grafana: {
        ...settings.grafana,
        ...images.grafana,
        adminPassword: at.args.credentials.grafana?.admin,
      },
      backupSchedules: backupSchedulesOf(at.args, postgres),
      alertmanager: {
        ...settings.alertmanager,
        ...images.alertmanager,
        receivers: settings.alertmanager.receivers.map((receiver) => ({
          ...receiver,
          credential: receiverCredential(at.args, receiver.name),
        })),
      },
      objectStorage: telemetryStorageOf(at, objectStore),
    },
    { parent: at.parent },
  );
}

/**
 * Where Loki and Tempo keep their data, with object storage on: the object store's buckets, or
 * the backup target's endpoint with buckets and a key pair of their own.
 */
function telemetryStorageOf(
  at: Placement,
  objectStore: ObjectStore,
): ObjectStorageArgs | undefined {
  const { objectStorage, objectStorageTarget, externalBuckets } = at.args.observability;
  if (!objectStorage) return undefined;
  if (objectStorageTarget === "in-cluster") {
    const bucket = (consumer: "loki" | "tempo") => ({
      bucket: objectStore.bucketFor(consumer),
      credentials: objectStore.credentialsFor(consumer),
    });
    return {
      endpoint: objectStore.endpoint,
      loki: bucket("loki"),
      tempo: bucket("tempo"),
      dependsOn: [objectStore.bucketJob],
    };
  }
  const target = at.args.postgres.backup.target;
  const { telemetryS3AccessKeyId: accessKeyId, telemetryS3SecretAccessKey: secretAccessKey } =
    at.args.secrets;
  if (!target.endpoint || !externalBuckets || !accessKeyId || !secretAccessKey) {
    throw new Error(
      "observability.objectStorageTarget backup-target without its endpoint, buckets or keys",
    );
  }
  const credentials = { accessKeyId, secretAccessKey };
  return {
    endpoint: target.endpoint,
    region: target.region,
    pathStyle: target.pathStyle,
    loki: { bucket: externalBuckets.loki, credentials },
    tempo: { bucket: externalBuckets.tempo, credentials },
  };
}

/**
 * The backup CronJobs (dumps; base backups with WAL archiving) and how old each one's last success
 * may get before `PostgresBackupTooOld` fires: its schedule's longest gap between two runs plus
 * the longest one run may take. None without backups: there is nothing to be late.
 */
function backupSchedulesOf(args: PlatformArgs, postgres: Postgres): BackupSchedule[] {
  const { backup } = args.postgres;
  if (!backup.enabled) return [];
  const jobs = [
    { cronJob: postgres.backupCronJob, schedule: backup.schedule, key: "postgres.backup.schedule" },
    {
      cronJob: postgres.baseBackupCronJob,
      schedule: backup.wal.baseBackupSchedule,
      key: "postgres.backup.wal.baseBackupSchedule",
    },
  ];
  return jobs.flatMap(({ cronJob, schedule, key }) => {
    if (cronJob === undefined) return [];
    const gap = longestCronGapSeconds(schedule);
    if (gap === undefined)
      throw new Error(`${key} never runs; the stack config refuses that first`);
    return [{ cronJob, maxAgeSeconds: gap + BACKUP_RUN_DEADLINE_SECONDS }];
  });
}

/** A receiver's credential; the config refuses a receiver without one before this runs. */
function receiverCredential(args: PlatformArgs, name: string): pulumi.Output<string> {
  const credential = args.credentials.alerting?.[name];
  if (credential === undefined) {
    throw new Error(`credentials.alerting.${name} is missing; the stack config refuses that first`);
  }
  return credential;
}

/** Temporal, on Postgres directly (never through PgBouncer), once its role holds its verifier. */
function temporalOn(at: Placement, postgres: Postgres): Temporal {
  return new Temporal(
    "temporal",
    {
      ...argsForTemporal(at.args),
      ...at.images.temporal,
      ...placed(at),
      postgres: {
        host: postgres.host,
        port: 5432,
        user: postgres.temporalSecret.key("username"),
        password: postgres.temporalSecret.key("password"),
        database: "temporal",
        visibilityDatabase: "temporal_visibility",
      },
      dependsOn: [postgres.rolesReady],
    },
    { parent: at.parent },
  );
}

/** The Atlas migrations Job, on the direct Postgres URL (Atlas takes a session lock). */
function migrationsOn(at: Placement, postgres: Postgres): Migrations {
  return new Migrations(
    "migrations",
    {
      ...argsForMigrations(at.args),
      ...at.images.migrations,
      ...placed(at),
      databaseUrl: postgres.appSecret.key("url"),
      dependsOn: [postgres.rolesReady],
    },
    { parent: at.parent },
  );
}

/** What the app is wired to. */
type AppDependencies = Omit<WiredComponents, "app">;

/** What `appStatus` says while the stack names no app image. */
export const APP_OFF_STATUS =
  "off: set k3s-platform:app.image (a pinned reference) or k3s-platform:app.build, then pulumi up";

/**
 * The app, wired to every other component by their outputs; its rollout waits for migrations.
 * None while the stack names neither an image nor a build.
 */
function appOn(at: Placement, c: AppDependencies): App | undefined {
  if (!appIsOn(at.args)) return undefined;
  const settings = argsForApp(at.args);
  const password = at.args.secrets.registryPassword;
  const username = pullUsernameOf(at.args);
  return new App(
    "app",
    {
      ...settings,
      ...placed(at),
      build: settings.build && {
        ...settings.build,
        registry: { ...settings.build.registry, password },
      },
      imagePullSecret: at.args.app.imagePullSecret,
      pullCredentials:
        at.args.app.imagePullSecret === undefined && username !== undefined && password
          ? { username, password }
          : undefined,
      databaseUrl: c.pgbouncer.appSecret.key("url"),
      databaseDirectUrl: c.postgres.appSecret.key("url"),
      redisUrl: c.dragonfly.redisUrl,
      // OTLP over HTTP: the protocol every OTel SDK defaults to when only the endpoint is set.
      otlpEndpoint: c.observability.otlpHttpEndpoint,
      temporal: { address: c.temporal.frontendAddress, namespace: c.temporal.namespaceName },
      s3: {
        endpoint: c.objectStore.endpoint,
        bucket: c.objectStore.bucketFor("app"),
        accessKeyId: c.objectStore.credentialsFor("app").accessKey,
        secretAccessKey: c.objectStore.credentialsFor("app").secretKey,
      },
      ollamaHost: c.ollama.host,
      arcjetKey: at.args.secrets.arcjetKey,
      migrationsJob: c.migrations.job,
      workerDependsOn: [c.ollama.modelsReady],
      workerServiceAccountName: c.deployTarget.serviceAccountName,
      deployNamespaces: c.deployTarget.targetNamespaces,
      appsDomain: c.deployTarget.appsDomain,
    },
    { parent: at.parent },
  );
}

/**
 * One set of policies per namespace, all from the same edges, so both ends of a cross-namespace
 * edge (node log collector → gateway) agree. Returns the platform namespace's set.
 */
function networkPoliciesOn(
  at: Placement,
  edges: Edge[],
  observability: Observability,
): NetworkPolicies {
  const { args } = at;
  const policyNamespaces: [string, pulumi.Input<string>][] = [
    [args.namespace, at.ns],
    ...(args.observability.nodeLogs
      ? [
          [nodeLogsNamespace(args.namespace), observability.nodeLogsNamespace.apply(String)] as [
            string,
            pulumi.Input<string>,
          ],
        ]
      : []),
  ];
  const [platformPolicies] = policyNamespaces.map(
    ([policyNamespace, namespaceRef]) =>
      new NetworkPolicies(
        policyNamespace === args.namespace
          ? "network-policies"
          : `network-policies-${policyNamespace}`,
        { ...argsForNetworkPolicies(args), namespace: policyNamespace, namespaceRef, edges },
        { parent: at.parent },
      ),
  );
  return platformPolicies;
}
