import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { labelsFor, type WorkloadIdentity } from "../../core/labels";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import { container, emptyDir, podTemplate } from "../lib/workload";

/**
 * The backup CronJob: an init container (the Postgres image) writes a compressed custom-format
 * `pg_dump` of every database into an emptyDir, then an `mc` container uploads that folder to the
 * backups bucket and deletes all but the newest `retain` backups. Two containers because neither
 * image has the other's client; an init container because the upload must only start once every
 * dump has succeeded.
 */

/** Where the backups go, as the object store's outputs give it. */
export interface PostgresBackupArgs {
  /** Five-field cron schedule, in UTC, e.g. `"0 3 * * *"`. */
  schedule: string;
  /** How many backups to keep in the bucket; older ones are deleted after each upload. */
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
  /** Scratch space for one set of dumps. @default "10Gi" */
  scratchSize?: string;
  /** Resources of each backup container. @default the `small` preset */
  resources?: ResourceSpec;
}

/** Folder the dumps are written to and uploaded from, shared by both containers. */
export const BACKUP_DIR = "/backup";

/** Names of a backup folder: a UTC timestamp, so names sort in time order. */
export const BACKUP_STAMP_PATTERN = /^\d{8}T\d{6}Z$/;

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
 * Uploads the one folder under `$BACKUP_DIR` to `s3/$S3_BUCKET/$S3_PREFIX/<stamp>/`, then deletes
 * all but the newest `$BACKUP_RETAIN` backup folders there. POSIX sh and `mc` only (the `mc` image
 * has no awk or grep); S3 lists keys in ascending order, and the stamps sort by time.
 */
export function backupUploadScript(): string {
  return `set -eu
mc() { command mc --config-dir /tmp/mc --no-color "$@"; }
set -- "\${BACKUP_DIR}"/*/
if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then echo "expected exactly one dump folder in \${BACKUP_DIR}" >&2; exit 1; fi
dir="\${1%/}"
stamp="\${dir##*/}"
mc alias set s3 "$S3_ENDPOINT" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > /dev/null
target="s3/\${S3_BUCKET}/\${S3_PREFIX}"
mc cp --recursive "\${BACKUP_DIR}/\${stamp}/" "\${target}/\${stamp}/"
echo "uploaded \${stamp}"
listing="$(mc ls "\${target}/")"
names="$(printf '%s\\n' "$listing" | while IFS= read -r line; do echo "\${line##* }"; done)"
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
  mc rm --recursive --force "\${target}/\${name}"
  excess=$((excess - 1))
done
`;
}

/** Everything the CronJob's spec is made of. */
export interface BackupCronJobSpecArgs {
  /** Identity of the backup pods (labels, selectors of network policies). */
  identity: WorkloadIdentity;
  /** Where to send the backups. */
  backup: PostgresBackupArgs;
  /** Postgres client Service host and port. */
  host: pulumi.Input<string>;
  port: number;
  /** The backup role's credentials. */
  username: SecretKey;
  password: SecretKey;
  /** Images: the Postgres image for pg_dump, an `mc` image for the upload. */
  postgresImage: pulumi.Input<string>;
  clientImage: pulumi.Input<string>;
  /** UID the Postgres image runs as (both containers run as it, sharing the emptyDir). */
  uid: number;
}

/** The CronJob spec. */
export function backupCronJobSpec(
  args: BackupCronJobSpecArgs,
): k8s.types.input.batch.v1.CronJobSpec {
  const { backup } = args;
  if (!Number.isInteger(backup.retain) || backup.retain < 1) {
    throw new Error(`backup.retain must be a whole number ≥ 1 (got ${backup.retain})`);
  }
  const resources = backup.resources ?? RESOURCE_PRESETS.small;
  const mounts = [
    { name: "backup", mountPath: BACKUP_DIR },
    { name: "tmp", mountPath: "/tmp" },
  ];
  const dump = container({
    name: "dump",
    image: args.postgresImage,
    command: ["bash", "-c", backupDumpScript()],
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
  const upload = container({
    name: "upload",
    image: args.clientImage,
    command: ["/bin/sh", "-c", backupUploadScript()],
    env: [
      { name: "BACKUP_DIR", value: BACKUP_DIR },
      { name: "BACKUP_RETAIN", value: String(backup.retain) },
      { name: "S3_ENDPOINT", value: backup.endpoint },
      { name: "S3_BUCKET", value: backup.bucket },
      { name: "S3_PREFIX", value: backup.prefix ?? "postgres" },
      backup.accessKey.env("AWS_ACCESS_KEY_ID"),
      backup.secretKey.env("AWS_SECRET_ACCESS_KEY"),
    ],
    resources,
    volumeMounts: mounts,
  });
  return {
    schedule: backup.schedule,
    timeZone: "Etc/UTC",
    // A dump still running when the next one is due is left alone, not doubled.
    concurrencyPolicy: "Forbid",
    startingDeadlineSeconds: 3600,
    successfulJobsHistoryLimit: 3,
    failedJobsHistoryLimit: 3,
    jobTemplate: {
      metadata: { labels: labelsFor(args.identity) },
      spec: {
        backoffLimit: 2,
        activeDeadlineSeconds: 6 * 3600,
        template: podTemplate(args.identity, {
          initContainers: [dump],
          containers: [upload],
          volumes: [emptyDir("backup", backup.scratchSize ?? "10Gi"), emptyDir("tmp")],
          security: { runAsUser: args.uid },
          // Every retry starts from an empty scratch folder.
          restartPolicy: "Never",
        }),
      },
    },
  };
}
