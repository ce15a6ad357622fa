import type * as pulumi from "@pulumi/pulumi";
import { cronProblem } from "../../core/cron";
import { imageRef } from "../../core/images";
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
   * `backup`); a role left out gets one from `@pulumi/random`. @default all generated
   */
  passwords?: Partial<Record<"superuser" | PlatformRoleName, pulumi.Input<string>>>;
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

/** Where the backups go: the schedule and retention, and the object store's outputs. */
export interface PostgresBackupArgs {
  /** Five-field cron schedule, in UTC, e.g. `"0 3 * * *"`. */
  schedule: string;
  /**
   * How many backups to keep in the bucket (at least 1); older ones are deleted after each
   * upload.
   */
  retain: number;
  /** Bucket that receives the backups. */
  bucket: pulumi.Input<string>;
  /** S3 API endpoint URL, e.g. `http://minio.platform.svc.cluster.local:9000`. */
  endpoint: pulumi.Input<string>;
  /** Access key id of a user that may write and delete in the bucket. */
  accessKey: SecretKey;
  /** Its secret key. */
  secretKey: SecretKey;
  /** Key prefix inside the bucket. @default "postgres" */
  prefix?: string;
  /** Resources of each backup container. @default the `small` preset */
  resources?: ResourceSpec;
}

/** The plain-valued part of the backup args (the rest are the object store's outputs). */
export type PostgresBackupSettings = Omit<
  PostgresBackupArgs,
  "bucket" | "endpoint" | "accessKey" | "secretKey"
>;

/**
 * What {@link postgresRules} read, and what a stack config gives before any resource exists: the
 * settings, with only the plain-valued part of `backup`.
 */
export type PostgresSettings = Omit<Settings<PostgresArgs>, "backup"> & {
  backup?: PostgresBackupSettings;
};

/** Backup args with their documented defaults filled in. */
export type ResolvedBackupArgs = Required<PostgresBackupArgs>;

/** Postgres args with their documented defaults filled in (but `instance`, the component's name). */
export type ResolvedPostgresArgs = Required<
  Omit<PostgresArgs, "instance" | "storageClass" | "backup" | "passwords">
> &
  Pick<PostgresArgs, "instance" | "storageClass" | "passwords"> & { backup?: ResolvedBackupArgs };

/** The args with every documented default filled in; the one place those defaults live. */
export function resolvePostgresArgs(args: PostgresArgs): ResolvedPostgresArgs {
  return {
    ...args,
    settings: args.settings ?? {},
    image: args.image ?? imageRef("postgres"),
    exporterImage: args.exporterImage ?? imageRef("postgresExporter"),
    clientImage: args.clientImage ?? imageRef("minioClient"),
    exporterResources: args.exporterResources ?? RESOURCE_PRESETS.nano,
    clusterDomain: args.clusterDomain ?? "cluster.local",
    protect: args.protect ?? false,
    backup: args.backup && resolveBackupArgs(args.backup),
  };
}

/** The backup args with their documented defaults filled in. */
export function resolveBackupArgs(backup: PostgresBackupArgs): ResolvedBackupArgs {
  return {
    ...backup,
    prefix: backup.prefix ?? "postgres",
    resources: backup.resources ?? RESOURCE_PRESETS.small,
  };
}

/** Every problem with a Postgres's args. */
export function postgresRules(args: PostgresSettings): FieldError[] {
  const { maxConnections, superuserReservedConnections: reserved } = args;
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
    ...(args.backup ? nestedErrors("backup", backupRules(args.backup)) : []),
  ];
}

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
  ];
}
