import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation } from "../lib/hash";
import { imageRef, IMAGES, tagOf } from "../../core/images";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../../core/labels";
import { check, probesFor } from "../lib/probes";
import { parseQuantity, QUANTITY_PATTERN } from "../../core/quantity";
import { memoryCeiling, RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import { scramSalt, scramSha256Verifier } from "../lib/scram";
import { scrapeAnnotations } from "../lib/scrape";
import { generatedPassword, PlatformSecret } from "../lib/secrets";
import {
  keepData,
  RETAIN_CLAIMS,
  serviceArgs,
  serviceHost,
  volumeClaimTemplate,
} from "../lib/stateful";
import { container, emptyDir, objectMeta, podTemplate } from "../lib/workload";
import { backupCronJobSpec, type PostgresBackupArgs } from "./backup";
import { pgHbaConf, postgresqlConf, type SettingValue } from "./config";
import { APP_ROLE, initSql, platformRoles, TEMPORAL_ROLE, VERIFIER_FILE } from "./init";

/** PostgreSQL's port, on the container, both Services and in every URL. */
export const POSTGRES_PORT = 5432;
/** postgres_exporter's metrics port. */
export const POSTGRES_EXPORTER_PORT = 9187;

const CONFIG_DIR = "/etc/postgresql";
const ROLES_DIR = "/etc/postgresql-roles";
const SUPERUSER_DIR = "/etc/postgresql-superuser";
const DATA_MOUNT = "/var/lib/postgresql/data";
/** PGDATA is a subdirectory: a fresh volume's root may hold `lost+found`, which initdb refuses. */
export const PGDATA = `${DATA_MOUNT}/pgdata`;
const SUPERUSER = "postgres";

/** Arguments of {@link Postgres}. */
export interface PostgresArgs {
  /** Namespace of every object the component creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its objects. @default the component's name */
  instance?: string;
  /** Size of the data volume, e.g. `5Gi`. */
  storageSize: string;
  /** StorageClass of the data volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /** Requests and limits of the database container; `shared_buffers` etc. derive from its memory limit. */
  resources: ResourceSpec;
  /** `max_connections`. */
  maxConnections: number;
  /** `superuser_reserved_connections`. */
  superuserReservedConnections: number;
  /** Further `postgresql.conf` settings, applied last. @default none */
  settings?: Record<string, SettingValue>;
  /** Postgres image. @default the catalogue's `postgres` */
  image?: pulumi.Input<string>;
  /** postgres_exporter image. @default the catalogue's `postgresExporter` */
  exporterImage?: pulumi.Input<string>;
  /** `mc` image of the backup upload. @default the catalogue's `minioClient` */
  clientImage?: pulumi.Input<string>;
  /** Requests and limits of the exporter sidecar. @default the `nano` preset */
  exporterResources?: ResourceSpec;
  /** Kubernetes cluster domain, for the Service host names. @default "cluster.local" */
  clusterDomain?: string;
  /**
   * Prod: `protect` + `retainOnDelete` on the StatefulSet (whose claim template holds the data)
   * and on the generated passwords, which the database keeps after its first start.
   * @default false
   */
  protect?: boolean;
  /** Nightly dumps to the object store. @default none (no backup CronJob) */
  backup?: PostgresBackupArgs;
}

/** What a client needs to log in as one role; every field is part of one secret output. */
export interface RoleCredentials {
  /** Role name. */
  username: string;
  /** Its password. */
  password: string;
  /** Its SCRAM-SHA-256 verifier, exactly as the server stores it (for PgBouncer's userlist). */
  scramVerifier: string;
  /** The database the role owns. */
  database: string;
}

/**
 * PostgreSQL 15 as a one-replica StatefulSet: the `app`, `temporal` and `temporal_visibility`
 * databases, one role per consumer with its own Secret, a postgres_exporter sidecar, and in prod
 * a nightly backup to the object store.
 */
export class Postgres extends pulumi.ComponentResource {
  /** Client Service DNS name. */
  public readonly host: pulumi.Output<string>;
  /** Client Service port. */
  public readonly port: pulumi.Output<number>;
  /** Headless Service DNS name (the StatefulSet's `serviceName`). */
  public readonly headlessHost: pulumi.Output<string>;
  /** The superuser's Secret (`username`, `password`). */
  public readonly superuserSecret: PlatformSecret;
  /** The app role's Secret (`username`, `password`, `database`, `host`, `port`, `url`, `scramVerifier`). */
  public readonly appSecret: PlatformSecret;
  /** The temporal role's Secret (same keys; `database` is `temporal`). */
  public readonly temporalSecret: PlatformSecret;
  /** The app role's credentials, for PgBouncer (secret). */
  public readonly appCredentials: pulumi.Output<RoleCredentials>;
  /** `postgres://app:…@host:5432/app`, straight to Postgres (secret). */
  public readonly directUrl: pulumi.Output<string>;
  /** The StatefulSet, for `dependsOn`: Pulumi waits until its pod is ready. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;
  /** Labels of the database pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** Labels of the backup CronJob's pods, for network policies. */
  public readonly backupIdentity: WorkloadIdentity;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:data:Postgres", name, {}, opts);
    validate(args);

    const image = args.image ?? imageRef("postgres");
    const identity: WorkloadIdentity = {
      name,
      component: "database",
      instance: args.instance ?? name,
      version: typeof image === "string" ? tagOf(image) : undefined,
    };
    this.identity = identity;
    this.backupIdentity = {
      name: `${name}-backup`,
      component: "database-backup",
      instance: identity.instance,
    };
    const ns = args.namespace;
    const domain = args.clusterDomain ?? "cluster.local";
    const dataOpts = { parent: this, ...keepData(args.protect ?? false) };
    const childOpts = { parent: this };

    const headless = new k8s.core.v1.Service(
      `${name}-headless`,
      serviceArgs(`${name}-headless`, ns, identity, [{ name: "postgres", port: POSTGRES_PORT }], {
        headless: true,
      }),
      childOpts,
    );
    new k8s.core.v1.Service(
      name,
      serviceArgs(name, ns, identity, [{ name: "postgres", port: POSTGRES_PORT }]),
      childOpts,
    );
    this.host = serviceHost(name, ns, domain);
    this.headlessHost = serviceHost(`${name}-headless`, ns, domain);
    this.port = pulumi.output(POSTGRES_PORT);

    // One Secret per role, so each consumer mounts only its own credentials.
    const labels = labelsFor(identity);
    const secrets = new Map<string, PlatformSecret>();
    const credentials = new Map<string, pulumi.Output<RoleCredentials>>();
    for (const role of platformRoles()) {
      const password = generatedPassword(`${name}-${role.name}-password`, dataOpts);
      // The salt is random too, but stored, so the verifier (and the Secret) stays stable.
      const salt = generatedPassword(`${name}-${role.name}-scram-salt`, dataOpts);
      const scramVerifier = pulumi
        .all([password, salt])
        .apply(([p, s]) => scramSha256Verifier(p, scramSalt(s)));
      const database = role.owns?.[0];
      const data: Record<string, pulumi.Input<string>> = {
        username: role.name,
        password,
        scramVerifier,
      };
      if (database) {
        data.database = database;
        data.host = this.host;
        data.port = String(POSTGRES_PORT);
        data.url = pulumi.interpolate`postgres://${role.name}:${password}@${this.host}:${POSTGRES_PORT}/${database}`;
        credentials.set(
          role.name,
          pulumi.secret(
            pulumi.all([password, scramVerifier]).apply(([p, v]) => ({
              username: role.name,
              password: p,
              scramVerifier: v,
              database,
            })),
          ),
        );
      }
      secrets.set(
        role.name,
        new PlatformSecret(`${name}-${role.name}`, { namespace: ns, labels, data }, dataOpts),
      );
    }
    const roleSecret = (role: string) => secrets.get(role) as PlatformSecret;
    this.appSecret = roleSecret(APP_ROLE.name);
    this.temporalSecret = roleSecret(TEMPORAL_ROLE.name);
    this.appCredentials = credentials.get(APP_ROLE.name) as pulumi.Output<RoleCredentials>;
    this.directUrl = pulumi.secret(
      pulumi.interpolate`postgres://${this.appCredentials.username}:${this.appCredentials.password}@${this.host}:${POSTGRES_PORT}/${this.appCredentials.database}`,
    );

    this.superuserSecret = new PlatformSecret(
      `${name}-superuser`,
      {
        namespace: ns,
        labels,
        data: {
          username: SUPERUSER,
          password: generatedPassword(`${name}-superuser-password`, dataOpts),
        },
      },
      dataOpts,
    );

    const configData = {
      "postgresql.conf": postgresqlConf({
        maxConnections: args.maxConnections,
        superuserReservedConnections: args.superuserReservedConnections,
        memoryLimit: memoryCeiling(args.resources),
        hbaFile: `${CONFIG_DIR}/pg_hba.conf`,
        settings: args.settings,
      }),
      "pg_hba.conf": pgHbaConf(),
    };
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: objectMeta(`${name}-config`, ns, identity), data: configData },
      childOpts,
    );
    const initData = { "10-platform.sql": initSql(platformRoles(), ROLES_DIR) };
    const init = new k8s.core.v1.ConfigMap(
      `${name}-init`,
      { metadata: objectMeta(`${name}-init`, ns, identity), data: initData },
      childOpts,
    );

    const exporter = roleSecret("exporter");
    const roleVolumes = platformRoles().map((role) =>
      roleSecret(role.name).volume(`role-${role.name}`, [VERIFIER_FILE]),
    );
    const postgres = container({
      name: "postgres",
      image,
      // The image's entrypoint stays: it runs initdb and the init SQL on an empty volume.
      args: ["postgres", "-c", `config_file=${CONFIG_DIR}/postgresql.conf`],
      ports: [{ name: "postgres", containerPort: POSTGRES_PORT }],
      env: [
        { name: "PGDATA", value: PGDATA },
        { name: "POSTGRES_USER", value: SUPERUSER },
        { name: "POSTGRES_PASSWORD_FILE", value: `${SUPERUSER_DIR}/password` },
        { name: "POSTGRES_INITDB_ARGS", value: "--data-checksums --encoding=UTF8" },
      ],
      resources: args.resources,
      probes: probesFor(
        // Ready only once the real server listens on TCP (the first-start init server does not).
        check.exec("pg_isready", "--quiet", "--host=127.0.0.1", `--port=${POSTGRES_PORT}`),
        {
          liveness: check.exec("pg_isready", "--quiet", "--host=/var/run/postgresql"),
          // initdb and the init SQL on first start, crash recovery on a later one.
          startupSeconds: 600,
        },
      ),
      volumeMounts: [
        { name: "data", mountPath: DATA_MOUNT },
        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
        { name: "init", mountPath: "/docker-entrypoint-initdb.d", readOnly: true },
        { name: "superuser", mountPath: SUPERUSER_DIR, readOnly: true },
        ...platformRoles().map((role) => ({
          name: `role-${role.name}`,
          mountPath: `${ROLES_DIR}/${role.name}`,
          readOnly: true,
        })),
        { name: "run", mountPath: "/var/run/postgresql" },
        { name: "tmp", mountPath: "/tmp" },
        { name: "shm", mountPath: "/dev/shm" },
      ],
    });
    const metrics = container({
      name: "exporter",
      image: args.exporterImage ?? imageRef("postgresExporter"),
      ports: [{ name: "metrics", containerPort: POSTGRES_EXPORTER_PORT }],
      env: [
        {
          name: "DATA_SOURCE_URI",
          value: `127.0.0.1:${POSTGRES_PORT}/postgres?sslmode=disable`,
        },
        exporter.key("username").env("DATA_SOURCE_USER"),
        exporter.key("password").env("DATA_SOURCE_PASS"),
      ],
      resources: args.exporterResources ?? RESOURCE_PRESETS.nano,
      probes: probesFor(check.http("/", "metrics"), { liveness: check.tcp("metrics") }),
    });

    const annotations = configHashAnnotation(
      configData,
      initData,
      this.superuserSecret.content,
      ...[...secrets.values()].map((s) => s.content),
    ).apply((hash) => ({ ...scrapeAnnotations(POSTGRES_EXPORTER_PORT), ...hash }));
    const memoryMiB = Math.floor(parseQuantity(memoryCeiling(args.resources)) / 2 ** 20);

    this.statefulSet = new k8s.apps.v1.StatefulSet(
      name,
      {
        metadata: objectMeta(name, ns, identity),
        spec: {
          serviceName: headless.metadata.name,
          replicas: 1,
          selector: { matchLabels: selectorFor(identity) },
          podManagementPolicy: "OrderedReady",
          updateStrategy: { type: "RollingUpdate" },
          persistentVolumeClaimRetentionPolicy: RETAIN_CLAIMS,
          template: podTemplate(
            identity,
            {
              containers: [postgres, metrics],
              volumes: [
                { name: "config", configMap: { name: config.metadata.name } },
                { name: "init", configMap: { name: init.metadata.name } },
                this.superuserSecret.volume("superuser", ["password"]),
                ...roleVolumes,
                emptyDir("run", "16Mi"),
                emptyDir("tmp", "256Mi"),
                // Parallel queries share memory through /dev/shm; the runtime's default is 64 MiB.
                emptyDir("shm", `${Math.max(64, Math.floor(memoryMiB / 4))}Mi`, "Memory"),
              ],
              security: { runAsUser: IMAGES.postgres.uid },
              // Fast shutdown (SIGINT from the image's STOPSIGNAL) needs a moment to checkpoint.
              terminationGracePeriodSeconds: 60,
            },
            annotations,
          ),
          volumeClaimTemplates: [
            volumeClaimTemplate("data", identity, args.storageSize, args.storageClass),
          ],
        },
      },
      dataOpts,
    );

    if (args.backup) {
      const backupIdentity = this.backupIdentity;
      const backupSecret = roleSecret("backup");
      new k8s.batch.v1.CronJob(
        `${name}-backup`,
        {
          metadata: objectMeta(`${name}-backup`, ns, backupIdentity),
          spec: backupCronJobSpec({
            identity: backupIdentity,
            backup: args.backup,
            host: this.host,
            port: POSTGRES_PORT,
            username: backupSecret.key("username"),
            password: backupSecret.key("password"),
            postgresImage: image,
            clientImage: args.clientImage ?? imageRef("minioClient"),
            uid: IMAGES.postgres.uid,
          }),
        },
        { parent: this, dependsOn: [this.statefulSet] },
      );
    }

    this.registerOutputs({
      host: this.host,
      port: this.port,
      headlessHost: this.headlessHost,
      directUrl: this.directUrl,
      appCredentials: this.appCredentials,
    });
  }
}

function validate(args: PostgresArgs): void {
  const fail = (propertyPath: string, reason: string) => {
    throw new pulumi.InputPropertyError({ propertyPath, reason });
  };
  if (!QUANTITY_PATTERN.test(args.storageSize) || parseQuantity(args.storageSize) <= 0) {
    fail("storageSize", `must be a positive quantity such as 5Gi (got "${args.storageSize}")`);
  }
  if (!Number.isInteger(args.maxConnections) || args.maxConnections < 1) {
    fail("maxConnections", `must be a whole number ≥ 1 (got ${args.maxConnections})`);
  }
  if (args.superuserReservedConnections >= args.maxConnections) {
    fail(
      "superuserReservedConnections",
      `must be below maxConnections (${args.superuserReservedConnections} ≥ ${args.maxConnections})`,
    );
  }
  if (args.backup && (!Number.isInteger(args.backup.retain) || args.backup.retain < 1)) {
    fail("backup.retain", `must keep at least one backup (got ${args.backup.retain})`);
  }
}
