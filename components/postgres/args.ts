import type * as pulumi from "@pulumi/pulumi";
import { cronProblem } from "../../core/cron";
import { parseImageReference } from "../../policy/model/image-reference";
import { cataloguePostgresMajor, imageRef, postgresRelease } from "../../core/images";
import {
  fieldErrorIf,
  nestedErrors,
  type FieldError,
  type Settings,
  storageSizeErrors,
} from "../../core/validation";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import { S3_KEY_PREFIX } from "../../core/s3";
import type { S3KeyPair } from "../lib/s3";
import type { SettingValue } from "./config";
import { haRules, resolveHaArgs, type PostgresHaArgs, type ResolvedHaArgs } from "./ha-args";

/**
 * The most `max_connections` PostgreSQL accepts (`MAX_BACKENDS`, 2^18 − 1); above it the server
 * refuses to start.
 */
export const POSTGRES_MAX_CONNECTIONS = 262143;

/** Arguments of a {@link Postgres}. */
import type { AppLogin, PlatformRoleName } from "./init";

export interface PostgresArgs {
  /** Namespace of every object the component creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its objects. @default the component's name */
  instance?: string;
  /** Size of the data volume, a positive quantity such as `5Gi`. */
  storageSize: string;
  /**
   * Passwords given instead of generated, by role (`superuser`, `app`, `app2`, `temporal`,
   * `exporter`, `backup`, and `replication`, which only the HA members use); a role left out gets
   * one from `@pulumi/random`. @default all generated
   */
  passwords?: Partial<Record<"superuser" | "replication" | PlatformRoleName, pulumi.Input<string>>>;
  /**
   * Which of the app's two logins (`app`, `app2`) its consumers use: `appSecret`,
   * `appCredentials` and `directUrl` are that login's. A rotation gives the other login its new
   * password and makes it this one, in one `up`, so pods still on the old login keep working.
   * @default "app"
   */
  appLogin?: AppLogin;
  /** StorageClass of the data volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /**
   * Requests and limits of the database container; `shared_buffers` and the other memory settings
   * derive from its memory limit (see `memorySettings`).
   */
  resources: ResourceSpec;
  /** `max_connections`: a whole number from 1 to {@link POSTGRES_MAX_CONNECTIONS}. */
  maxConnections: number;
  /**
   * `superuser_reserved_connections`: slots only a superuser may take (for repairs); a whole
   * number below `maxConnections`.
   */
  superuserReservedConnections: number;
  /** Further `postgresql.conf` settings, applied last (they win over derived ones). @default none */
  settings?: Record<string, SettingValue>;
  /**
   * Postgres image, e.g. a mirror of the catalogue's; a `postgres` image of another major than the
   * catalogue's is refused (see {@link postgresImageProblem}). @default the catalogue's `postgres`
   */
  image?: pulumi.Input<string>;
  /** postgres_exporter image. @default the catalogue's `postgresExporter` */
  exporterImage?: pulumi.Input<string>;
  /** rclone image of the backup upload. @default the catalogue's `rclone` */
  uploaderImage?: pulumi.Input<string>;
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
  /**
   * Start the database from the backup target's base backups and WAL: only on an empty data
   * volume (one that holds a database is never overwritten), and only with `backup`, whose target
   * it reads. @default none (an empty volume starts as a new, empty database)
   */
  restoreFrom?: PostgresRestoreArgs;
  /** A Patroni cluster of members across nodes instead of one pod. @default none (one pod) */
  ha?: PostgresHaArgs;
}

/** Where a new database starts from: a base backup, replayed to a point. */
export interface PostgresRestoreArgs {
  /**
   * `latest` (the newest base backup, replayed to the archive's end), a base backup's name (its
   * UTC stamp, e.g. `20261205T013000Z`, replayed to the archive's end), or a point in time in
   * the past, in ISO 8601 with a zone and whole seconds (e.g. `2026-12-05T10:15:00Z`).
   */
  point: string;
  /**
   * Key prefix of the archive to read, in the backup target's bucket; another stack's prefix to
   * start a copy of it. @default the backup target's `prefix`
   */
  prefix?: string;
}

/** Continuous WAL archiving next to periodic base backups: restore to any point in time. */
export interface WalArchiveArgs {
  /**
   * `archive_timeout`: a WAL segment with any write in it is finished and archived after at most
   * this many seconds (10 to 3600). @default 60
   */
  archiveTimeoutSeconds?: number;
  /** How often the sidecar moves finished segments to the target (5 to 600 s). @default 30 */
  uploadIntervalSeconds?: number;
  /** Five-field cron schedule of the base backups, in UTC. @default "30 1 * * *" */
  baseBackupSchedule?: string;
  /** Base backups always kept, newest first (at least 1). @default 2 */
  keepBaseBackups?: number;
  /**
   * Days of the recovery window: every base backup younger than this is kept, and the newest one
   * older, so any point in the window can be restored (at least 1). @default 7
   */
  keepDays?: number;
}

/** The WAL archiving args with their documented defaults filled in. */
export type ResolvedWalArchiveArgs = Required<WalArchiveArgs>;

/** The restore args with their documented defaults filled in. */
export type ResolvedRestoreArgs = Required<PostgresRestoreArgs>;

/** Where the backups go (any S3-compatible endpoint), how often, and how many are kept. */
export interface PostgresBackupArgs {
  /** Five-field cron schedule, in UTC, e.g. `"0 3 * * *"`. */
  schedule: string;
  /**
   * How many backups to keep in the bucket (at least 1); older ones are deleted after each
   * upload.
   */
  retain: number;
  /** Bucket that receives the backups; it must exist (the uploader never creates one). */
  bucket: pulumi.Input<string>;
  /** S3 API endpoint URL, e.g. `http://minio.platform.svc.cluster.local:9000`. */
  endpoint: pulumi.Input<string>;
  /** Key pair of a user that may list, write and delete in the bucket. */
  credentials: S3KeyPair;
  /** S3 region of the bucket. @default "us-east-1" */
  region?: string;
  /**
   * Path-style addressing (`https://endpoint/bucket/key`) rather than virtual-hosted
   * (`https://bucket.endpoint/key`); MinIO and most self-hosted stores need it. @default true
   */
  pathStyle?: boolean;
  /**
   * PEM bundle of the CA(s) that signed the endpoint's certificate, for a private CA; mounted
   * from a ConfigMap (certificates are public). @default none: the image's public CA roots
   */
  caBundle?: string;
  /**
   * Key prefix inside the bucket: letters, digits and `. _ - /`, no leading or trailing `/`.
   * @default "postgres"
   */
  prefix?: string;
  /**
   * Resources of each backup container: the CronJobs' and the WAL uploader sidecar's.
   * @default the `small` preset
   */
  resources?: ResourceSpec;
  /**
   * Continuous WAL archiving and base backups, for point-in-time restores. @default none (dumps
   * only)
   */
  wal?: WalArchiveArgs;
}

/** The plain-valued part of the backup args (the rest are the object store's outputs). */
export type PostgresBackupSettings = Omit<
  PostgresBackupArgs,
  "bucket" | "endpoint" | "credentials"
>;

/**
 * What {@link postgresRules} read, and what a stack config gives before any resource exists: the
 * settings, with only the plain-valued part of `backup`.
 */
export type PostgresSettings = Omit<Settings<PostgresArgs>, "backup"> & {
  backup?: PostgresBackupSettings;
};

/** Backup args with their documented defaults filled in. */
export type ResolvedBackupArgs = Required<Omit<PostgresBackupArgs, "caBundle" | "wal">> &
  Pick<PostgresBackupArgs, "caBundle"> & { wal?: ResolvedWalArchiveArgs };

/** Postgres args with their documented defaults filled in (but `instance`, the component's name). */
export type ResolvedPostgresArgs = Required<
  Omit<
    PostgresArgs,
    "instance" | "storageClass" | "backup" | "passwords" | "restoreFrom" | "appLogin" | "ha"
  >
> &
  Pick<PostgresArgs, "instance" | "storageClass" | "passwords" | "appLogin"> & {
    backup?: ResolvedBackupArgs;
    restoreFrom?: ResolvedRestoreArgs;
    ha?: ResolvedHaArgs;
  };

/** The args with every documented default filled in; the one place those defaults live. */
export function resolvePostgresArgs(args: PostgresArgs): ResolvedPostgresArgs {
  return {
    ...args,
    settings: args.settings ?? {},
    image: args.image ?? imageRef("postgres"),
    exporterImage: args.exporterImage ?? imageRef("postgresExporter"),
    uploaderImage: args.uploaderImage ?? imageRef("rclone"),
    exporterResources: args.exporterResources ?? RESOURCE_PRESETS.nano,
    clusterDomain: args.clusterDomain ?? "cluster.local",
    protect: args.protect ?? false,
    backup: args.backup && resolveBackupArgs(args.backup),
    restoreFrom: args.restoreFrom && {
      point: args.restoreFrom.point,
      prefix: args.restoreFrom.prefix ?? args.backup?.prefix ?? "postgres",
    },
    ha: args.ha && resolveHaArgs(args.ha),
  };
}

/** The backup args with their documented defaults filled in. */
export function resolveBackupArgs(backup: PostgresBackupArgs): ResolvedBackupArgs {
  return {
    ...backup,
    prefix: backup.prefix ?? "postgres",
    region: backup.region ?? "us-east-1",
    pathStyle: backup.pathStyle ?? true,
    resources: backup.resources ?? RESOURCE_PRESETS.small,
    wal: backup.wal && {
      archiveTimeoutSeconds: backup.wal.archiveTimeoutSeconds ?? 60,
      uploadIntervalSeconds: backup.wal.uploadIntervalSeconds ?? 30,
      baseBackupSchedule: backup.wal.baseBackupSchedule ?? "30 1 * * *",
      keepBaseBackups: backup.wal.keepBaseBackups ?? 2,
      keepDays: backup.wal.keepDays ?? 7,
    },
  };
}

/** Every problem with a Postgres's args. */
export function postgresRules(args: PostgresSettings): FieldError[] {
  const { maxConnections, superuserReservedConnections: reserved } = args;
  const imageProblem = postgresImageProblem(args.image);
  return [
    ...storageSizeErrors("storageSize", args.storageSize, "5Gi"),
    ...fieldErrorIf(
      !Number.isInteger(maxConnections) ||
        maxConnections < 1 ||
        maxConnections > POSTGRES_MAX_CONNECTIONS,
      "maxConnections",
      () =>
        `must be a whole number from 1 to ${POSTGRES_MAX_CONNECTIONS}, PostgreSQL's limit ` +
        `(got ${maxConnections})`,
    ),
    ...fieldErrorIf(
      !Number.isInteger(reserved) || reserved < 0,
      "superuserReservedConnections",
      () => `must be a whole number ≥ 0 (got ${reserved})`,
    ),
    ...fieldErrorIf(
      reserved >= maxConnections,
      "superuserReservedConnections",
      () =>
        `must be below maxConnections, or PostgreSQL refuses to start ` +
        `(${reserved} ≥ ${maxConnections})`,
    ),
    ...fieldErrorIf(imageProblem !== undefined, "image", () => imageProblem as string),
    ...(args.backup ? nestedErrors("backup", backupRules(args.backup)) : []),
    ...(args.ha ? nestedErrors("ha", haRules(args.ha)) : []),
    ...(args.restoreFrom ? nestedErrors("restoreFrom", restoreRules(args)) : []),
  ];
}

/** A base backup's name: the UTC stamp of its start. */
export const BASE_BACKUP_NAME = /^\d{8}T\d{6}Z$/;
/** A point in time as the restore reads it: ISO 8601, whole seconds, with a zone. */
const POINT_IN_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/;

/**
 * Why a restore point is refused, or undefined. `now` is when the stack is checked: a point
 * after it has nothing archived yet.
 */
export function restorePointProblem(point: string, now: Date): string | undefined {
  if (point === "latest" || BASE_BACKUP_NAME.test(point)) return undefined;
  if (!POINT_IN_TIME.test(point) || Number.isNaN(Date.parse(point))) {
    return (
      `must be "latest", a base backup's name such as 20261205T013000Z, or a point in time in ` +
      `ISO 8601 with whole seconds and a zone such as 2026-12-05T10:15:00Z (got "${point}")`
    );
  }
  if (Date.parse(point) > now.getTime()) {
    return `is in the future (${point}, now ${now.toISOString()}): nothing is archived after now`;
  }
  return undefined;
}

/**
 * A point in time in UTC (`…Z`), as the archive's stop-times are written, so the two compare as
 * strings; anything else unchanged (the rules judge it).
 */
export function normalizedRestorePoint(point: string): string {
  if (!POINT_IN_TIME.test(point) || Number.isNaN(Date.parse(point))) return point;
  return new Date(Date.parse(point)).toISOString().replace(/\.000Z$/, "Z");
}

/** Every problem with `restoreFrom`, by its path inside it. */
function restoreRules(args: PostgresSettings): FieldError[] {
  const restore = args.restoreFrom;
  if (!restore) return [];
  const problem = restorePointProblem(restore.point, new Date());
  return [
    ...fieldErrorIf(
      args.backup === undefined,
      "point",
      () =>
        "needs backups: the restore reads base backups and WAL from the backup target, so " +
        "give postgres.backup its target (and wal archiving) on this stack too",
    ),
    ...fieldErrorIf(problem !== undefined, "point", () => problem as string),
    ...fieldErrorIf(
      args.ha !== undefined,
      "point",
      () =>
        "restores into the single server only: the Patroni members of postgres.ha bootstrap " +
        "their own data, which the restore's init containers are not part of; restore into a " +
        "stack with postgres.ha.enabled: false",
    ),
    ...fieldErrorIf(
      restore.prefix !== undefined && !S3_KEY_PREFIX.test(restore.prefix),
      "prefix",
      () => `must be letters, digits and . _ - / without a leading, trailing or doubled '/'`,
    ),
  ];
}

/**
 * Why a Postgres image is refused, or undefined: a `postgres` image (the official one, or a mirror
 * under that name) whose tag names another major than the catalogue's. A data directory does not
 * start on another major, and the platform has no upgrade path between majors (pg_upgrade, or a
 * dump and restore), so the StatefulSet would crash-loop on its volume. Other images, and images
 * known only at deploy time, name no release we can read and pass.
 */
export function postgresImageProblem(image: pulumi.Input<string> | undefined): string | undefined {
  if (typeof image !== "string") return undefined;
  const { repository, tag } = parseImageReference(image);
  if (repository.split("/").pop() !== "postgres" || tag === undefined) return undefined;
  const release = postgresRelease(tag);
  const major = cataloguePostgresMajor();
  if (release === undefined || release.major === major) return undefined;
  return (
    `runs PostgreSQL ${release.major}, but the platform's data directory and tests are ` +
    `PostgreSQL ${major}'s and no upgrade path between majors exists: keep a ${major}.x tag ` +
    `(got "${image}")`
  );
}
/** At least one whole PEM certificate block. */
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** Every problem with the backup args, by their path inside `backup`. */
function backupRules(backup: PostgresBackupSettings): FieldError[] {
  const schedule = cronProblem(backup.schedule);
  return [
    ...fieldErrorIf(schedule !== undefined, "schedule", () => schedule as string),
    ...fieldErrorIf(
      !Number.isInteger(backup.retain) || backup.retain < 1,
      "retain",
      () => `must be a whole number ≥ 1: keep at least one backup (got ${backup.retain})`,
    ),
    ...fieldErrorIf(
      backup.prefix !== undefined && !S3_KEY_PREFIX.test(backup.prefix),
      "prefix",
      () =>
        `must be letters, digits and . _ - / without a leading, trailing or doubled '/' ` +
        `(got "${backup.prefix}"): it is a folder inside the bucket, written into a shell script`,
    ),
    ...fieldErrorIf(
      backup.region !== undefined && !/^[a-z0-9-]+$/.test(backup.region),
      "region",
      () => `must be an S3 region name such as eu-central-1 (got "${backup.region}")`,
    ),
    ...fieldErrorIf(
      backup.caBundle !== undefined && !PEM_CERTIFICATE.test(backup.caBundle),
      "caBundle",
      () => "must be PEM: one or more -----BEGIN CERTIFICATE----- blocks",
    ),
    ...(backup.wal ? nestedErrors("wal", walRules(backup.wal)) : []),
  ];
}

/** A whole number within bounds, or its problem. */
function wholeNumberErrors(key: string, value: number | undefined, min: number, max: number) {
  return fieldErrorIf(
    value !== undefined && (!Number.isInteger(value) || value < min || value > max),
    key,
    () => `must be a whole number from ${min} to ${max} (got ${value})`,
  );
}

/** Every problem with the WAL archiving args, by their path inside `wal`. */
function walRules(wal: WalArchiveArgs): FieldError[] {
  const schedule =
    wal.baseBackupSchedule === undefined ? undefined : cronProblem(wal.baseBackupSchedule);
  return [
    ...wholeNumberErrors("archiveTimeoutSeconds", wal.archiveTimeoutSeconds, 10, 3600),
    ...wholeNumberErrors("uploadIntervalSeconds", wal.uploadIntervalSeconds, 5, 600),
    ...fieldErrorIf(schedule !== undefined, "baseBackupSchedule", () => schedule as string),
    ...wholeNumberErrors("keepBaseBackups", wal.keepBaseBackups, 1, 100),
    ...wholeNumberErrors("keepDays", wal.keepDays, 1, 3650),
  ];
}
