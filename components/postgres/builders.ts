import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES, tagOf } from "../../core/images";
import { selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { toMebibytes } from "../../core/quantity";
import { configHashAnnotation } from "../lib/hash";
import { check, probesFor } from "../lib/probes";
import { memoryCeiling, type ResourceSpec } from "../lib/resources";
import { scramSalt, scramSha256Verifier } from "../lib/scram";
import { scrapeAnnotations } from "../lib/scrape";
import type { SecretKey } from "../lib/secrets";
import { RETAIN_CLAIMS, volumeClaimTemplate, type StatefulWorkloadBase } from "../lib/stateful";
import { container, emptyDir, objectMeta, podTemplate } from "../lib/workload";
import type { ResolvedPostgresArgs } from "./args";
import { pgHbaConf, POSTGRES_PORT, postgresqlConf, SOCKET_DIR } from "./config";
import { BACKUP_ROLE_NAME, initSql, loginDatabase, platformRoles, type RoleSpec } from "./init";
import { walArchiveSettings } from "./wal-archive";

/**
 * The pure parts of a {@link Postgres}: its config files, each role's Secret data, its two
 * containers and its StatefulSet. (`config.ts`, `init.ts` and `backup.ts` build the config
 * files, the init SQL and the backup CronJob.)
 */

type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;

/** postgres_exporter's metrics port. */
export const POSTGRES_EXPORTER_PORT = 9187;
/**
 * The OS user and database superuser the image initialises: by peer over the socket inside the
 * pod, and with its Secret's password over TCP (the role-reconcile Job).
 */
export const SUPERUSER = "postgres";

/** Where the config ConfigMap is mounted; `postgresql.conf` in it is the server's whole config. */
export const CONFIG_DIR = "/etc/postgresql";
/** Where each role's Secret is mounted, one folder per role: the init SQL reads verifiers here. */
export const ROLES_DIR = "/etc/postgresql-roles";
/** The init SQL's file name in the init ConfigMap. */
export const INIT_SQL_FILE = "10-platform.sql";
/** Where the superuser's Secret is mounted (its `password`). */
export const SUPERUSER_DIR = "/etc/postgresql-superuser";
/** Mount path of the data volume. */
export const DATA_MOUNT = "/var/lib/postgresql/data";
/** Where `archive_command` puts finished WAL segments until the sidecar uploads them. */
export const WAL_SPOOL = `${DATA_MOUNT}/wal-spool`;
/** PGDATA is a subdirectory: a fresh volume's root may hold `lost+found`, which initdb refuses. */
export const PGDATA = `${DATA_MOUNT}/pgdata`;

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

/** One role's Secret data, and the credentials of a role that logs in to a database of its own. */
export interface RoleLogin {
  /**
   * `username`, `password`, `scramVerifier`; and `database`, `host`, `port`, `url` for a role
   * with a {@link loginDatabase}.
   */
  data: Record<string, pulumi.Input<string>>;
  /** The login as one secret output, for a role with a {@link loginDatabase}. */
  credentials?: pulumi.Output<RoleCredentials>;
}

/** The Secret data of a role with this password and SCRAM salt, on the server at `host`. */
export function roleLogin(
  role: RoleSpec,
  password: pulumi.Output<string>,
  salt: pulumi.Output<string>,
  host: pulumi.Output<string>,
): RoleLogin {
  const scramVerifier = pulumi
    .all([password, salt])
    .apply(([p, s]) => scramSha256Verifier(p, scramSalt(s)));
  const data: Record<string, pulumi.Input<string>> = {
    username: role.name,
    password,
    scramVerifier,
  };
  const database = loginDatabase(role);
  if (!database) return { data };
  data.database = database;
  data.host = host;
  data.port = String(POSTGRES_PORT);
  data.url = pulumi.interpolate`postgres://${role.name}:${password}@${host}:${POSTGRES_PORT}/${database}`;
  const credentials = pulumi.secret(
    pulumi.all([password, scramVerifier]).apply(([p, v]) => ({
      username: role.name,
      password: p,
      scramVerifier: v,
      database,
    })),
  );
  return { data, credentials };
}

/**
 * The config ConfigMap's data: `postgresql.conf` and `pg_hba.conf`. With WAL archiving, the
 * server archives into the spool and the backup role may stream base backups.
 */
export function postgresConfigFiles(
  args: Pick<
    ResolvedPostgresArgs,
    "maxConnections" | "superuserReservedConnections" | "resources" | "settings" | "backup"
  >,
): Record<string, string> {
  const wal = args.backup?.wal;
  return {
    "postgresql.conf": postgresqlConf({
      maxConnections: args.maxConnections,
      superuserReservedConnections: args.superuserReservedConnections,
      memoryLimit: memoryCeiling(args.resources),
      hbaFile: `${CONFIG_DIR}/pg_hba.conf`,
      settings: {
        ...(wal ? walArchiveSettings(WAL_SPOOL, wal.archiveTimeoutSeconds) : {}),
        ...args.settings,
      },
    }),
    "pg_hba.conf": pgHbaConf(wal ? [BACKUP_ROLE_NAME] : []),
  };
}

/**
 * The init ConfigMap's data: the init SQL, reading each role's verifier from its mount; with base
 * backups, the backup role may take them.
 */
export function postgresInitFiles(baseBackups = false): Record<string, string> {
  return { [INIT_SQL_FILE]: initSql(platformRoles({ baseBackups }), ROLES_DIR) };
}

/** Name of the pod volume of a role's Secret. */
export function roleVolumeName(role: RoleSpec): string {
  return `role-${role.name}`;
}

/**
 * The mounts of every role's Secret volume, where the init SQL reads the verifiers: the same in
 * the database pod and the role-reconcile Job, which run the same SQL.
 */
export function roleMounts(): k8s.types.input.core.v1.VolumeMount[] {
  return platformRoles().map((role) => ({
    name: roleVolumeName(role),
    mountPath: `${ROLES_DIR}/${role.name}`,
    readOnly: true,
  }));
}

/** The database container: the server on the rendered config, its socket and scratch on emptyDirs. */
export function postgresContainer(image: pulumi.Input<string>, resources: ResourceSpec): Container {
  return container({
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
    resources,
    probes: probesFor(
      // Ready only once the real server listens on TCP (the first-start init server does not).
      check.exec("pg_isready", "--quiet", "--host=127.0.0.1", `--port=${POSTGRES_PORT}`),
      {
        liveness: check.exec("pg_isready", "--quiet", `--host=${SOCKET_DIR}`),
        // initdb and the init SQL on first start, crash recovery on a later one.
        startupSeconds: 600,
      },
    ),
    volumeMounts: [
      { name: "data", mountPath: DATA_MOUNT },
      { name: "config", mountPath: CONFIG_DIR, readOnly: true },
      { name: "init", mountPath: "/docker-entrypoint-initdb.d", readOnly: true },
      { name: "superuser", mountPath: SUPERUSER_DIR, readOnly: true },
      ...roleMounts(),
      { name: "run", mountPath: SOCKET_DIR },
      { name: "tmp", mountPath: "/tmp" },
      { name: "shm", mountPath: "/dev/shm" },
    ],
  });
}

/** The postgres_exporter sidecar, logging in over TCP as the given (pg_monitor) role. */
export function exporterContainer(
  image: pulumi.Input<string>,
  resources: ResourceSpec,
  login: { username: SecretKey; password: SecretKey },
): Container {
  return container({
    name: "exporter",
    image,
    ports: [{ name: "metrics", containerPort: POSTGRES_EXPORTER_PORT }],
    env: [
      {
        name: "DATA_SOURCE_URI",
        value: `127.0.0.1:${POSTGRES_PORT}/postgres?sslmode=disable`,
      },
      login.username.env("DATA_SOURCE_USER"),
      login.password.env("DATA_SOURCE_PASS"),
    ],
    resources,
    probes: probesFor(check.http("/", "metrics"), { liveness: check.tcp("metrics") }),
  });
}

/** What {@link postgresStatefulSet} builds from. */
export interface PostgresWorkloadSpec extends StatefulWorkloadBase {
  /** The database container and its sidecars (exporter, WAL upload). */
  containers: Container[];
  /** Init containers (a restore's). @default none */
  initContainers?: Container[];
  /** Volumes besides the standard ones (a backup target's CA bundle). @default none */
  extraVolumes?: Volume[];
  /** Names of the config and init ConfigMaps. */
  configMaps: { config: pulumi.Input<string>; init: pulumi.Input<string> };
  /** The superuser's Secret volume (`superuser`), then one per role ({@link roleVolumeName}). */
  secretVolumes: Volume[];
  /** Memory limit of the database container; `/dev/shm` is sized from it. */
  memoryLimit: string;
}

/** The single-replica StatefulSet of the database pod. */
export function postgresStatefulSet(spec: PostgresWorkloadSpec): k8s.apps.v1.StatefulSetArgs {
  const annotations = configHashAnnotation(...spec.configHashOf).apply((hash) => ({
    ...scrapeAnnotations(POSTGRES_EXPORTER_PORT),
    ...hash,
  }));
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      serviceName: spec.serviceName,
      replicas: 1,
      selector: { matchLabels: selectorFor(spec.identity) },
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate" },
      persistentVolumeClaimRetentionPolicy: RETAIN_CLAIMS,
      template: podTemplate(
        spec.identity,
        {
          containers: spec.containers,
          ...(spec.initContainers ? { initContainers: spec.initContainers } : {}),
          volumes: [...podVolumes(spec), ...(spec.extraVolumes ?? [])],
          security: { runAsUser: IMAGES.postgres.uid },
          // Fast shutdown (SIGINT from the image's STOPSIGNAL) needs a moment to checkpoint.
          terminationGracePeriodSeconds: 60,
        },
        annotations,
      ),
      volumeClaimTemplates: [
        volumeClaimTemplate("data", spec.identity, spec.storageSize, spec.storageClass),
      ],
    },
  };
}

/** The pod's volumes besides the data claim. */
function podVolumes(spec: PostgresWorkloadSpec): Volume[] {
  const memoryMiB = toMebibytes(spec.memoryLimit);
  return [
    { name: "config", configMap: { name: spec.configMaps.config } },
    { name: "init", configMap: { name: spec.configMaps.init } },
    ...spec.secretVolumes,
    emptyDir("run", "16Mi"),
    emptyDir("tmp", "256Mi"),
    // Parallel queries share memory through /dev/shm; the runtime's default is 64 MiB.
    emptyDir("shm", `${Math.max(64, Math.floor(memoryMiB / 4))}Mi`, "Memory"),
  ];
}

/** Identity of the database pods. */
export function postgresIdentity(
  name: string,
  instance: string,
  image: pulumi.Input<string>,
): WorkloadIdentity {
  return {
    name,
    component: "database",
    instance,
    version: typeof image === "string" ? tagOf(image) : undefined,
  };
}
