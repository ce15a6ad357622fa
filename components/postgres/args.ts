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
import type { SecretKey } from "../lib/secrets";
import type { SettingValue } from "./config";
import { haRules, resolveHaArgs, type PostgresHaArgs, type ResolvedHaArgs } from "./ha-args";

/**
 * The most `max_connections` PostgreSQL accepts (`MAX_BACKENDS`, 2^18 − 1); above it the server
 * refuses to start.
 */
export const POSTGRES_MAX_CONNECTIONS = 262143;

/** Arguments of a {@link Postgres}. */
import type { PlatformRoleName } from "./init";

export interface PostgresArgs {
  /** Namespace of every object the component creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its objects. @default the component's name */
  instance?: string;
  /** Size of the data volume, a positive quantity such as `5Gi`. */
  storageSize: string;
  /**
   * Passwords given instead of generated, by role (`superuser`, `app`, `temporal`, `exporter`,
   * `backup`, and `replication`, which only the HA members use); a role left out gets one from
   * `@pulumi/random`. @default all generated
   */
  passwords?: Partial<Record<"superuser" | "replication" | PlatformRoleName, pulumi.Input<string>>>;
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
  /** A Patroni cluster of members across nodes instead of one pod. @default none (one pod) */
  ha?: PostgresHaArgs;
}

/**
 * The uploader's S3 key pair: keys of a Secret that exists (the object store's backups user), or
 * values the component keeps in a Secret of its own (an external target's credentials).
 */
export type BackupCredentials =
  | { accessKey: SecretKey; secretKey: SecretKey }
  | { accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> };

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
  credentials: BackupCredentials;
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
  /** Resources of each backup container. @default the `small` preset */
  resources?: ResourceSpec;
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
export type ResolvedBackupArgs = Required<Omit<PostgresBackupArgs, "caBundle">> &
  Pick<PostgresBackupArgs, "caBundle">;

/** Postgres args with their documented defaults filled in (but `instance`, the component's name). */
export type ResolvedPostgresArgs = Required<
  Omit<PostgresArgs, "instance" | "storageClass" | "backup" | "passwords" | "ha">
> &
  Pick<PostgresArgs, "instance" | "storageClass" | "passwords"> & {
    backup?: ResolvedBackupArgs;
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
/** A key prefix: path segments of safe characters, so it is a folder and safe in the script. */
export const BACKUP_PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

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
      backup.prefix !== undefined && !BACKUP_PREFIX.test(backup.prefix),
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
  ];
}
