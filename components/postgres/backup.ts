import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import type { SecretKey } from "../lib/secrets";
import { container, emptyDir, podTemplate } from "../lib/workload";
import type { ResolvedBackupArgs } from "./args";

/**
 * The backup CronJob: an init container (the Postgres image) writes a compressed custom-format
 * `pg_dump` of every database into an emptyDir, then an rclone container uploads that folder to
 * the backup target's bucket and deletes all but the newest `retain` backups. Two containers
 * because neither image has the other's client; an init container because the upload must only
 * start once every dump has succeeded.
 */

/** Folder the dumps are written to and uploaded from, shared by both containers. */
export const BACKUP_DIR = "/backup";

/**
 * Dumps every database that allows connections into `$BACKUP_DIR/<UTC stamp>/<db>.dump`
 * (custom format, compressed) and checks that each archive's table of contents reads back. Reads
 * the connection from libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD).
 */
export function backupDumpScript(): string {
  return `set -euo pipefail
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
dir="\${BACKUP_DIR}/\${stamp}"
mkdir -p "$dir"
databases="$(psql --no-psqlrc --no-align --tuples-only --dbname=postgres \\
  --command="SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")"
while IFS= read -r db; do
  [ -n "$db" ] || continue
  echo "dumping $db"
  pg_dump --format=custom --compress=6 --no-password --dbname="$db" --file="$dir/$db.dump"
  pg_restore --list "$dir/$db.dump" > /dev/null
done <<< "$databases"
echo "dumped to $dir"
`;
}

/**
 * The start both upload scripts share: exactly one folder under `$BACKUP_DIR`, the one the
 * producing container wrote, as `$dir`, and its name (the UTC stamp) as `$stamp`.
 */
export const ONE_BACKUP_FOLDER = `set -- "\${BACKUP_DIR}"/*/
if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then echo "expected exactly one backup folder in \${BACKUP_DIR}" >&2; exit 1; fi
dir="\${1%/}"
stamp="\${dir##*/}"
`;

/**
 * Uploads the one folder under `$BACKUP_DIR` to `$S3_BUCKET/$S3_PREFIX/<stamp>/` with rclone, then
 * deletes all but the newest `$BACKUP_RETAIN` backup folders there. The remote `target` is
 * configured entirely by `RCLONE_CONFIG_TARGET_*` variables (endpoint, region, addressing, keys),
 * so no credential is ever written to a file. POSIX sh, rclone and `sort`; the stamps sort by time.
 */
export function backupUploadScript(): string {
  return `set -eu
${ONE_BACKUP_FOLDER}target="target:\${S3_BUCKET}/\${S3_PREFIX}"
# copy compares each object's size and checksum with the file after the upload.
rclone copy "$dir" "\${target}/\${stamp}"
echo "uploaded \${stamp}"
names="$(rclone lsf --dirs-only "\${target}/" | sort)"
backups=""
count=0
for name in $names; do
  case "$name" in
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z/)
      backups="$backups $name"
      count=$((count + 1)) ;;
  esac
done
excess=$((count - BACKUP_RETAIN))
for name in $backups; do
  [ "$excess" -gt 0 ] || break
  echo "deleting old backup \${name%/}"
  rclone purge "\${target}/\${name%/}"
  excess=$((excess - 1))
done
`;
}

/**
 * How long one backup run may take before Kubernetes stops it as failed: the dump and upload of
 * every database, retries included. The backup-age alert allows a run this long on top of the
 * schedule's longest gap.
 */
export const BACKUP_RUN_DEADLINE_SECONDS = 6 * 3600;
/** Where the CA bundle of a private CA is mounted in the upload container. */
export const BACKUP_CA_DIR = "/etc/backup-ca";
/** Key of the CA bundle in its ConfigMap, and its file name under {@link BACKUP_CA_DIR}. */
export const BACKUP_CA_KEY = "ca.crt";

/**
 * The environment every container that talks to the backup target gets: the bucket and prefix
 * the scripts read, and rclone's remote `target`. Every setting rclone reads is given, so nothing
 * depends on a config file or the image's defaults; `no_check_bucket` because the bucket exists
 * and a user scoped to it may not create buckets.
 */
export function targetEnvironment(
  backup: ResolvedBackupArgs,
  credentials: { accessKey: SecretKey; secretKey: SecretKey },
): k8s.types.input.core.v1.EnvVar[] {
  const remote = (name: string, value: pulumi.Input<string>) => ({
    name: `RCLONE_CONFIG_TARGET_${name}`,
    value,
  });
  return [
    { name: "S3_ENDPOINT", value: backup.endpoint },
    { name: "S3_BUCKET", value: backup.bucket },
    { name: "S3_PREFIX", value: backup.prefix },
    remote("TYPE", "s3"),
    remote("PROVIDER", "Other"),
    remote("ENDPOINT", backup.endpoint),
    remote("REGION", backup.region),
    remote("FORCE_PATH_STYLE", String(backup.pathStyle)),
    remote("NO_CHECK_BUCKET", "true"),
    credentials.accessKey.env("RCLONE_CONFIG_TARGET_ACCESS_KEY_ID"),
    credentials.secretKey.env("RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY"),
    // No config file (rclone keeps its config in memory with /dev/null): the remote is all in
    // the environment; the rest of rclone's state goes to /tmp.
    { name: "RCLONE_CONFIG", value: "/dev/null" },
    { name: "RCLONE_CACHE_DIR", value: "/tmp/rclone-cache" },
    { name: "HOME", value: "/tmp" },
    ...(backup.caBundle !== undefined
      ? [{ name: "RCLONE_CA_CERT", value: `${BACKUP_CA_DIR}/${BACKUP_CA_KEY}` }]
      : []),
  ];
}

/** The dump upload container's environment: its folder and retention, and the target. */
export function uploaderEnvironment(
  backup: ResolvedBackupArgs,
  credentials: { accessKey: SecretKey; secretKey: SecretKey },
): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "BACKUP_DIR", value: BACKUP_DIR },
    { name: "BACKUP_RETAIN", value: String(backup.retain) },
    ...targetEnvironment(backup, credentials),
  ];
}

/** The CA bundle's mount, for a target signed by a private CA. */
export function caMounts(
  caConfigMap: pulumi.Input<string> | undefined,
): k8s.types.input.core.v1.VolumeMount[] {
  return caConfigMap !== undefined
    ? [{ name: "ca", mountPath: BACKUP_CA_DIR, readOnly: true }]
    : [];
}

/** The CA bundle's volume, for a target signed by a private CA. */
export function caVolumes(
  caConfigMap: pulumi.Input<string> | undefined,
): k8s.types.input.core.v1.Volume[] {
  return caConfigMap !== undefined ? [{ name: "ca", configMap: { name: caConfigMap } }] : [];
}

/**
 * What one kind of backup runs: a script in the Postgres image that writes one folder under
 * `$BACKUP_DIR`, then a script in the rclone image that uploads it and applies the retention.
 */
export interface BackupJobScripts {
  /** Five-field cron schedule, in UTC. */
  schedule: string;
  /** Name of the container that writes the backup. */
  producer: string;
  /** Its bash script (libpq's environment is set). */
  produce: string;
  /** The upload's POSIX sh script. */
  upload: string;
  /** The upload's environment (the target's, and the retention's). */
  uploadEnv: k8s.types.input.core.v1.EnvVar[];
}

/** The nightly dumps: {@link backupDumpScript}, then {@link backupUploadScript}. */
export function dumpJobScripts(
  backup: ResolvedBackupArgs,
  s3: { accessKey: SecretKey; secretKey: SecretKey },
): BackupJobScripts {
  return {
    schedule: backup.schedule,
    producer: "dump",
    produce: backupDumpScript(),
    upload: backupUploadScript(),
    uploadEnv: uploaderEnvironment(backup, s3),
  };
}

/** Everything the CronJob's spec is made of. */
export interface BackupCronJobSpecArgs {
  /** What the job runs. */
  job: BackupJobScripts;
  /** Identity of the backup pods (labels, selectors of network policies). */
  identity: WorkloadIdentity;
  /** Where to send the backups, defaults filled in. */
  backup: ResolvedBackupArgs;
  /**
   * Size of the database volume: the scratch folder's limit. A compressed dump of every database
   * is never larger than the data it was read from, and that data fits on this volume.
   */
  storageSize: string;
  /** Postgres client Service host and port. */
  host: pulumi.Input<string>;
  port: number;
  /** The backup role's credentials. */
  username: SecretKey;
  password: SecretKey;
  /** Name of the ConfigMap holding the target's CA bundle, when it has one. */
  caConfigMap?: pulumi.Input<string>;
  /** Images: the Postgres image for pg_dump, an rclone image for the upload. */
  postgresImage: pulumi.Input<string>;
  uploaderImage: pulumi.Input<string>;
  /** UID the Postgres image runs as (both containers run as it, sharing the emptyDir). */
  uid: number;
}

/** The CronJob spec. */
export function backupCronJobSpec(
  args: BackupCronJobSpecArgs,
): k8s.types.input.batch.v1.CronJobSpec {
  const { backup, job } = args;
  const resources = backup.resources;
  const mounts = [
    { name: "backup", mountPath: BACKUP_DIR },
    { name: "tmp", mountPath: "/tmp" },
  ];
  const produce = container({
    name: job.producer,
    image: args.postgresImage,
    command: ["bash", "-c", job.produce],
    env: [
      { name: "BACKUP_DIR", value: BACKUP_DIR },
      { name: "PGHOST", value: args.host },
      { name: "PGPORT", value: String(args.port) },
      args.username.env("PGUSER"),
      args.password.env("PGPASSWORD"),
    ],
    resources,
    volumeMounts: mounts,
  });
  const ca = args.caConfigMap;
  const upload = container({
    name: "upload",
    image: args.uploaderImage,
    command: ["/bin/sh", "-c", job.upload],
    env: job.uploadEnv,
    resources,
    volumeMounts: [...mounts, ...caMounts(ca)],
  });
  return {
    schedule: job.schedule,
    timeZone: "Etc/UTC",
    // A backup still running when the next one is due is left alone, not doubled.
    concurrencyPolicy: "Forbid",
    startingDeadlineSeconds: 3600,
    successfulJobsHistoryLimit: 3,
    failedJobsHistoryLimit: 3,
    jobTemplate: {
      metadata: { labels: labelsFor(args.identity) },
      spec: {
        backoffLimit: 2,
        activeDeadlineSeconds: BACKUP_RUN_DEADLINE_SECONDS,
        template: podTemplate(args.identity, {
          initContainers: [produce],
          containers: [upload],
          volumes: [emptyDir("backup", args.storageSize), emptyDir("tmp"), ...caVolumes(ca)],
          security: { runAsUser: args.uid },
          // Every retry starts from an empty scratch folder.
          restartPolicy: "Never",
        }),
      },
    },
  };
}
