import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { memoryCeiling } from "../lib/resources";
import { s3SecretKeys } from "../lib/s3";
import { passwordFor, PlatformSecret, scramSaltSourceFor, type SecretKey } from "../lib/secrets";
import { keepData, serviceHost, statefulServices } from "../lib/stateful";
import { assertValidArgs } from "../lib/validation";
import { objectMeta } from "../lib/workload";
import {
  postgresRules,
  resolvePostgresArgs,
  type PostgresArgs,
  type ResolvedBackupArgs,
  type ResolvedPostgresArgs,
} from "./args";
import { BACKUP_CA_KEY, backupCronJobSpec, caVolumes, dumpJobScripts } from "./backup";
import { baseBackupJobScripts } from "./base-backup";
import {
  CONFIG_DIR,
  DATA_MOUNT,
  exporterContainer,
  INIT_SQL_FILE,
  postgresConfigFiles,
  postgresContainer,
  postgresIdentity,
  postgresInitFiles,
  postgresStatefulSet,
  roleLogin,
  roleVolumeName,
  SUPERUSER,
  SUPERUSER_DIR,
  PGDATA,
  WAL_SPOOL,
  type RoleCredentials,
} from "./builders";
import { POSTGRES_PORT, SOCKET_DIR } from "./config";
import { haMembers, haServices, topologyGuard, topologyGuardName, waitForTopology } from "./ha";
import { restoreInitContainers } from "./restore";
import { walArchiveSettings, walUploaderContainer } from "./wal-archive";
import { rolesJob, rolesJobName } from "./roles-job";
import {
  BACKUP_ROLE_NAME,
  EXPORTER_ROLE,
  otherAppLogin,
  platformRoles,
  TEMPORAL_ROLE,
  VERIFIER_FILE,
  type PlatformRoleName,
} from "./init";

/** How the backup containers reach the target: its key pair, and its CA bundle's ConfigMap. */
interface BackupTarget {
  s3: { accessKey: SecretKey; secretKey: SecretKey };
  caConfigMap?: pulumi.Output<string>;
}

/** One role's Secret, and the credentials of a role that owns a database. */
interface RoleSecret {
  secret: PlatformSecret;
  credentials?: pulumi.Output<RoleCredentials>;
}

/**
 * PostgreSQL 15, as one StatefulSet pod or (with `ha`) a Patroni cluster across nodes: the
 * `app`, `temporal` and `temporal_visibility` databases, one role per consumer with its own
 * Secret, a postgres_exporter sidecar, and in prod nightly dumps, base backups and continuous WAL
 * archiving to the backup target, from which a new stack can start (`restoreFrom`).
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
  /**
   * The Secret of the app login in use ({@link PostgresArgs.appLogin}): `username`, `password`,
   * `database`, `host`, `port`, `url`, `scramVerifier`.
   */
  public readonly appSecret: PlatformSecret;
  /** The temporal role's Secret (same keys; `database` is `temporal`). */
  public readonly temporalSecret: PlatformSecret;
  /** The credentials of the app login in use, for PgBouncer (secret). */
  public readonly appCredentials: pulumi.Output<RoleCredentials>;
  /**
   * The app's other login (the one not in use) and its verifier, for PgBouncer to admit as well:
   * pods still on it during a rotation's rollout keep logging in (secret).
   */
  public readonly appStandbyLogin: pulumi.Output<{ username: string; scramVerifier: string }>;
  /** `postgres://<app login>:…@host:5432/app`, straight to Postgres (secret). */
  public readonly directUrl: pulumi.Output<string>;
  /** The StatefulSet, for `dependsOn`: Pulumi waits until its pod is ready. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;
  /**
   * The role-reconcile Job, for the `dependsOn` of every consumer: once it has succeeded, every
   * role exists with its current verifier and grants (it runs after the StatefulSet is ready).
   */
  public readonly rolesReady: k8s.batch.v1.Job;
  /** Labels of the role-reconcile Job's pods, for network policies. */
  public readonly rolesIdentity: WorkloadIdentity;
  /** Labels of the database pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** Labels of the backup CronJob's pods, for network policies. */
  public readonly backupIdentity: WorkloadIdentity;
  /** Name of the backup CronJob, or undefined without backups (for the backup alerts). */
  public readonly backupCronJob: string | undefined;
  /** Labels of the base backup CronJob's pods, for network policies. */
  public readonly baseBackupIdentity: WorkloadIdentity;
  /** Name of the base backup CronJob, or undefined without WAL archiving. */
  public readonly baseBackupCronJob: string | undefined;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    // Every child waits for the topology guard, so a refused switch changes none of them.
    const guard: { resource?: pulumi.Resource } = {};
    const transformations = [
      ...(opts?.transformations ?? []),
      waitForTopology(topologyGuardName(name), () => guard.resource),
    ];
    super("k3s-platform:data:Postgres", name, {}, { ...opts, transformations });
    assertValidArgs("Postgres", postgresRules(args));
    const settings = resolvePostgresArgs(args);
    // The HA members run another image than the single server: their version label is its tag.
    this.identity = postgresIdentity(
      name,
      args.instance ?? name,
      settings.ha?.image ?? settings.image,
    );
    const jobs = jobIdentities(name, this.identity.instance);
    this.backupIdentity = jobs.backup;
    this.baseBackupIdentity = jobs.baseBackup;
    this.rolesIdentity = jobs.roles;
    const ns = args.namespace;
    const dataOpts = { parent: this, ...keepData(settings.protect) };
    const topology = settings.ha ? "ha" : "single";
    guard.resource = topologyGuard(this, name, args.namespace, this.identity, topology, dataOpts);

    const ports = [{ name: "postgres", port: POSTGRES_PORT }];
    const { headless } = settings.ha
      ? haServices(this, name, ns, this.identity)
      : statefulServices(this, name, ns, this.identity, ports);
    this.host = serviceHost(name, ns, settings.clusterDomain);
    this.headlessHost = serviceHost(`${name}-headless`, ns, settings.clusterDomain);
    this.port = pulumi.output(POSTGRES_PORT);

    // One Secret per role, so each consumer mounts only its own credentials.
    const roles = this.roleSecrets(name, ns, dataOpts, args.passwords);
    const active = args.appLogin ?? "app";
    const app = roleSecret(roles, active);
    this.appSecret = app.secret;
    this.temporalSecret = roleSecret(roles, TEMPORAL_ROLE.name).secret;
    this.appCredentials = app.credentials as pulumi.Output<RoleCredentials>;
    const standby = roleSecret(roles, otherAppLogin(active));
    this.appStandbyLogin = pulumi.secret(
      (standby.credentials as pulumi.Output<RoleCredentials>).apply(
        ({ username, scramVerifier }) => ({ username, scramVerifier }),
      ),
    );
    this.directUrl = pulumi.secret(
      pulumi.interpolate`postgres://${this.appCredentials.username}:${this.appCredentials.password}@${this.host}:${POSTGRES_PORT}/${this.appCredentials.database}`,
    );

    this.superuserSecret = new PlatformSecret(
      `${name}-superuser`,
      {
        namespace: ns,
        labels: labelsFor(this.identity),
        data: { username: SUPERUSER, password: superuserPassword(name, args, dataOpts) },
      },
      dataOpts,
    );

    const target = settings.backup && this.backupTarget(settings.namespace, settings.backup);
    const db = this.database(name, settings, roles, headless.metadata.name, dataOpts, target);
    this.statefulSet = db.statefulSet;
    this.rolesReady = this.reconcileRoles(settings, roles, db);
    if (settings.backup && target) {
      const credentials = roleSecret(roles, BACKUP_ROLE_NAME).secret;
      this.backupJobs(settings, settings.backup, target, credentials);
    }
    this.backupCronJob = settings.backup ? this.backupIdentity.name : undefined;
    this.baseBackupCronJob = settings.backup?.wal ? this.baseBackupIdentity.name : undefined;

    this.registerOutputs({
      host: this.host,
      port: this.port,
      headlessHost: this.headlessHost,
      directUrl: this.directUrl,
      appCredentials: this.appCredentials,
    });
  }

  /** A password (given or generated), SCRAM salt and Secret for every platform role, by name. */
  private roleSecrets(
    name: string,
    ns: pulumi.Input<string>,
    dataOpts: pulumi.CustomResourceOptions,
    passwords: PostgresArgs["passwords"],
  ): Map<string, RoleSecret> {
    const labels = labelsFor(this.identity);
    const secrets = new Map<string, RoleSecret>();
    for (const role of platformRoles()) {
      const given = passwords?.[role.name as PlatformRoleName];
      const password = passwordFor(`${name}-${role.name}-password`, given, dataOpts);
      // A generated salt is stored like the password, so the verifier (and the Secret) stays stable.
      const salt = scramSaltSourceFor(`${name}-${role.name}-scram-salt`, given, dataOpts);
      const { data, credentials } = roleLogin(role, password, salt, this.host);
      const secret = new PlatformSecret(
        `${name}-${role.name}`,
        { namespace: ns, labels, data },
        dataOpts,
      );
      secrets.set(role.name, { secret, credentials });
    }
    return secrets;
  }

  /** The config and init ConfigMaps, and the StatefulSet of the database pod that mounts them. */
  private database(
    name: string,
    args: ResolvedPostgresArgs,
    roles: Map<string, RoleSecret>,
    serviceName: pulumi.Input<string>,
    dataOpts: pulumi.CustomResourceOptions,
    target: BackupTarget | undefined,
  ): Database {
    const ns = args.namespace;
    const initData = postgresInitFiles(args.backup?.wal !== undefined);
    const init = new k8s.core.v1.ConfigMap(
      `${name}-init`,
      { metadata: objectMeta(`${name}-init`, ns, this.identity), data: initData },
      { parent: this },
    );
    const exporter = roleSecret(roles, EXPORTER_ROLE.name).secret;
    const exporterSidecar = exporterContainer(args.exporterImage, args.exporterResources, {
      username: exporter.key("username"),
      password: exporter.key("password"),
    });
    if (args.ha) {
      const statefulSet = haMembers(this, {
        name,
        args: { ...args, ha: args.ha },
        identity: this.identity,
        serviceName,
        superuser: this.superuserSecret,
        exporter: exporterSidecar,
        walArchive: args.backup?.wal && {
          // Every member archives what it has (`always`): a primary lost with segments still in
          // its spool leaves them on the standbys, which upload the same files under the same
          // names, so the archive has no gap before the new primary's timeline.
          settings: {
            ...walArchiveSettings(WAL_SPOOL, args.backup.wal.archiveTimeoutSeconds),
            archive_mode: "always",
          },
          sidecars: this.walUploader(args, target),
          volumes: caVolumes(target?.caConfigMap),
        },
        replicationPassword: passwordFor(
          `${name}-replication-password`,
          args.passwords?.replication,
          dataOpts,
        ),
        dataOpts,
      });
      return { statefulSet, init, sql: initData[INIT_SQL_FILE] };
    }
    const configData = postgresConfigFiles(args);
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: objectMeta(`${name}-config`, ns, this.identity), data: configData },
      { parent: this },
    );
    const roleVolumes = roleSecretVolumes(roles);
    const workload = postgresStatefulSet({
      name,
      namespace: ns,
      identity: this.identity,
      serviceName,
      storageSize: args.storageSize,
      storageClass: args.storageClass,
      containers: [
        postgresContainer(args.image, args.resources),
        exporterSidecar,
        ...this.walUploader(args, target),
      ],
      initContainers: this.restoreContainers(args, target),
      extraVolumes: caVolumes(target?.caConfigMap),
      configMaps: { config: config.metadata.name, init: init.metadata.name },
      secretVolumes: [this.superuserSecret.volume("superuser", ["password"]), ...roleVolumes],
      memoryLimit: memoryCeiling(args.resources),
      // A changed config, init SQL or superuser password must restart the server, which reads
      // them at start. A role's password must not: the role-reconcile Job sets it on the running
      // server, and a restart would fail every transaction in flight.
      configHashOf: [configData, initData, this.superuserSecret.content],
    });
    const statefulSet = new k8s.apps.v1.StatefulSet(name, workload, dataOpts);
    return { statefulSet, init, sql: initData[INIT_SQL_FILE] };
  }

  /**
   * The role-reconcile Job, after the StatefulSet is ready: the init SQL again, against the
   * running server, under a name hashed over the SQL and every role's verifier.
   */
  private reconcileRoles(
    args: ResolvedPostgresArgs,
    roles: Map<string, RoleSecret>,
    db: Database,
  ): k8s.batch.v1.Job {
    const verifiers = Object.fromEntries(
      platformRoles().map((role) => [
        role.name,
        roleSecret(roles, role.name).secret.content.apply((data) => data[VERIFIER_FILE]),
      ]),
    );
    // The hash of the verifiers is not secret and must not be: a secret name would hide from the
    // preview exactly the change that reruns the Job.
    const jobName = pulumi.unsecret(
      pulumi
        .all([verifiers, args.image])
        .apply(([plain, image]) =>
          rolesJobName(this.rolesIdentity.name, { sql: db.sql, verifiers: plain, image }),
        ),
    );
    return new k8s.batch.v1.Job(
      this.rolesIdentity.name,
      rolesJob({
        name: jobName,
        namespace: args.namespace,
        identity: this.rolesIdentity,
        image: args.image,
        uid: IMAGES.postgres.uid,
        host: this.host,
        port: POSTGRES_PORT,
        username: this.superuserSecret.key("username"),
        password: this.superuserSecret.key("password"),
        initConfigMap: db.init.metadata.name,
        roleVolumes: roleSecretVolumes(roles),
      }),
      // A retried (replaceUnready) Job keeps its name: the old one must go first.
      { parent: this, dependsOn: [db.statefulSet, db.init], deleteBeforeReplace: true },
    );
  }

  /** The sidecar that uploads archived WAL, with WAL archiving on. */
  private walUploader(
    args: ResolvedPostgresArgs,
    target: BackupTarget | undefined,
  ): k8s.types.input.core.v1.Container[] {
    const wal = args.backup?.wal;
    if (!args.backup || !wal || !target) return [];
    return [
      walUploaderContainer({
        image: args.uploaderImage,
        backup: args.backup,
        wal,
        s3: target.s3,
        spool: WAL_SPOOL,
        dataVolume: { name: "data", mountPath: DATA_MOUNT },
        caConfigMap: target.caConfigMap,
        // A backup container: rclone holds whole segments in memory while it uploads them.
        resources: args.backup.resources,
      }),
    ];
  }

  /** The restore's init containers, with `restoreFrom`; the database's resources replay WAL. */
  private restoreContainers(
    args: ResolvedPostgresArgs,
    target: BackupTarget | undefined,
  ): k8s.types.input.core.v1.Container[] | undefined {
    if (!args.restoreFrom || !args.backup || !target) return undefined;
    return restoreInitContainers({
      restore: args.restoreFrom,
      backup: args.backup,
      s3: target.s3,
      caConfigMap: target.caConfigMap,
      images: { postgres: args.image, uploader: args.uploaderImage },
      paths: {
        dataMount: DATA_MOUNT,
        pgdata: PGDATA,
        configFile: `${CONFIG_DIR}/postgresql.conf`,
        socketDir: SOCKET_DIR,
        superuserPasswordFile: `${SUPERUSER_DIR}/password`,
      },
      port: POSTGRES_PORT,
      applyMounts: [
        { name: "data", mountPath: DATA_MOUNT },
        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
        { name: "superuser", mountPath: SUPERUSER_DIR, readOnly: true },
        { name: "run", mountPath: SOCKET_DIR },
        { name: "tmp", mountPath: "/tmp" },
        { name: "shm", mountPath: "/dev/shm" },
      ],
      resources: { fetch: args.backup.resources, apply: args.resources },
    });
  }

  /** The uploader's key pair and the target's CA bundle, shared by every backup container. */
  private backupTarget(namespace: pulumi.Input<string>, backup: ResolvedBackupArgs): BackupTarget {
    const labels = labelsFor(this.backupIdentity);
    const name = `${this.backupIdentity.name}-ca`;
    const ca =
      backup.caBundle === undefined
        ? undefined
        : new k8s.core.v1.ConfigMap(
            name,
            {
              metadata: objectMeta(name, namespace, this.backupIdentity),
              data: { [BACKUP_CA_KEY]: backup.caBundle },
            },
            { parent: this },
          );
    return {
      s3: s3SecretKeys(backup.credentials, {
        name: `${this.backupIdentity.name}-s3`,
        namespace,
        labels,
        parent: this,
      }),
      caConfigMap: ca?.metadata.name,
    };
  }

  /**
   * The nightly dump CronJob and, with WAL archiving, the base backup CronJob, logging in as the
   * backup role; both wait for the database and its roles.
   */
  private backupJobs(
    args: ResolvedPostgresArgs,
    backup: ResolvedBackupArgs,
    target: BackupTarget,
    credentials: PlatformSecret,
  ): void {
    const jobs = [{ identity: this.backupIdentity, job: dumpJobScripts(backup, target.s3) }];
    if (backup.wal) {
      const job = baseBackupJobScripts(backup, backup.wal, target.s3);
      jobs.push({ identity: this.baseBackupIdentity, job });
    }
    for (const { identity, job } of jobs) {
      new k8s.batch.v1.CronJob(
        identity.name,
        {
          metadata: objectMeta(identity.name, args.namespace, identity),
          spec: backupCronJobSpec({
            identity,
            job,
            backup,
            storageSize: args.storageSize,
            host: this.host,
            port: POSTGRES_PORT,
            username: credentials.key("username"),
            password: credentials.key("password"),
            caConfigMap: target.caConfigMap,
            postgresImage: args.image,
            uploaderImage: args.uploaderImage,
            uid: IMAGES.postgres.uid,
          }),
        },
        { parent: this, dependsOn: [this.statefulSet, this.rolesReady] },
      );
    }
  }
}

/** The identities of the component's Jobs: the dumps, the base backups, the role reconcile. */
function jobIdentities(
  name: string,
  instance: string,
): { backup: WorkloadIdentity; baseBackup: WorkloadIdentity; roles: WorkloadIdentity } {
  const identity = (suffix: string, component: string) => ({
    name: `${name}-${suffix}`,
    component,
    instance,
  });
  return {
    backup: identity("backup", "database-backup"),
    baseBackup: identity("basebackup", "database-basebackup"),
    roles: identity("roles", "database-roles"),
  };
}

/** The superuser's password: given, or generated and kept like the data. */
function superuserPassword(
  name: string,
  args: PostgresArgs,
  dataOpts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  return passwordFor(`${name}-superuser-password`, args.passwords?.superuser, dataOpts);
}

/** The database's StatefulSet, its init ConfigMap and the init SQL in it. */
interface Database {
  statefulSet: k8s.apps.v1.StatefulSet;
  init: k8s.core.v1.ConfigMap;
  sql: string;
}

/** One volume per role's Secret, holding only its verifier. */
function roleSecretVolumes(roles: Map<string, RoleSecret>): k8s.types.input.core.v1.Volume[] {
  return platformRoles().map((role) =>
    roleSecret(roles, role.name).secret.volume(roleVolumeName(role), [VERIFIER_FILE]),
  );
}

/** The Secret of one of the platform roles (every one of them has a Secret). */
function roleSecret(roles: Map<string, RoleSecret>, role: string): RoleSecret {
  const found = roles.get(role);
  if (!found) throw new Error(`Postgres has no Secret for the role "${role}"`);
  return found;
}
