import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { check, livenessOnly } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import { container } from "../lib/workload";
import type { ResolvedBackupArgs, ResolvedWalArchiveArgs } from "./args";
import { caMounts, targetEnvironment } from "./backup";
import type { SettingValue } from "./config";

/**
 * Continuous WAL archiving, in two steps that each image can do: the server's `archive_command`
 * copies every finished WAL segment into a spool folder on the data volume (the Postgres image has
 * no S3 client), and an rclone sidecar moves the spool to the backup target every few seconds.
 * A segment is marked archived only once it is durably in the spool, so a crash of either side
 * loses nothing that was marked; the spool holds what is not yet uploaded.
 *
 * The recovery point: a segment is finished at the latest `archive_timeout` after its first
 * write, and uploaded at the latest one upload interval (plus the upload) later.
 */

/** The folder of the archive under the backup target's prefix: one object per WAL file. */
export const WAL_FOLDER = "wal";
/** The folder of the base backups under the prefix: one folder per backup, named by its stamp. */
export const BASE_FOLDER = "base";

/**
 * Minutes a segment may wait in the spool before archiving stops: the uploader is then stalled
 * (its target unreachable, its keys refused), and the recovery point promised is already lost.
 */
export const SPOOL_STALLED_MINUTES = 5;

/**
 * The server settings that archive each finished WAL segment into `spool`. While the spool holds
 * a segment older than {@link SPOOL_STALLED_MINUTES}, the command fails: PostgreSQL keeps the
 * segments in `pg_wal` and counts the failures (`pg_stat_archiver`), which the exporter publishes
 * and `PostgresWalArchivingFailing` watches, so a stalled upload is an alert, not a silent loss.
 */
export function walArchiveSettings(
  spool: string,
  archiveTimeoutSeconds: number,
): Record<string, SettingValue> {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(spool)) throw new Error(`spool "${spool}" must be a plain path`);
  const target = `${spool}/%f`;
  const stalled =
    `find ${spool} -maxdepth 1 -type f ! -name '*.tmp' -mmin +${SPOOL_STALLED_MINUTES} | ` +
    `grep -q . && echo 'WAL spool not uploaded for ${SPOOL_STALLED_MINUTES} minutes' >&2 && exit 1`;
  return {
    wal_level: "replica",
    archive_mode: true,
    // A segment already in the spool is a retry after a crash between copy and acknowledgement:
    // success only if it is the same file. Otherwise copy, flush, then rename into place, so the
    // uploader never sees half a segment and a power loss never loses an acknowledged one.
    archive_command:
      `mkdir -p ${spool} && { ${stalled}; true; } && if [ -f ${target} ]; then cmp -s %p ${target}; ` +
      `else cp %p ${target}.tmp && sync ${target}.tmp && mv ${target}.tmp ${target} && sync ${spool}; fi`,
    archive_timeout: archiveTimeoutSeconds,
  };
}

/**
 * The sidecar's loop: every `$WAL_UPLOAD_INTERVAL` seconds, move every finished file of the spool
 * to `<prefix>/wal/`. `rclone move` deletes a file only after its upload was verified (size and
 * checksum), so a failed upload is retried on the next round and nothing is lost. On SIGTERM it
 * ends after the round under way (the shell is PID 1, which ignores a signal it does not trap, so
 * the pod would otherwise wait out its grace period); what is left waits in the spool, on the
 * volume, for the next start.
 */
export function walUploadScript(): string {
  return `set -u
stopping=0
trap 'stopping=1' TERM INT
archive="target:\${S3_BUCKET}/\${S3_PREFIX}/${WAL_FOLDER}"
echo "moving WAL from \${WAL_SPOOL} to \${archive} every \${WAL_UPLOAD_INTERVAL} s"
while :; do
  touch "${WAL_UPLOAD_HEARTBEAT}"
  if [ -d "\${WAL_SPOOL}" ]; then
    # The timeouts bound a hung round, so the heartbeat's age bounds it too.
    rclone move "\${WAL_SPOOL}" "\${archive}" --exclude '*.tmp' --no-traverse \\
      --contimeout 30s --timeout 5m --stats-log-level NOTICE \\
      || echo "WAL upload failed; the files stay in the spool and the next round retries" >&2
  fi
  if [ "$stopping" = 1 ]; then exit 0; fi
  # In the background, so a SIGTERM ends the wait at once rather than after the sleep.
  sleep "\${WAL_UPLOAD_INTERVAL}" &
  wait $! || true
  if [ "$stopping" = 1 ]; then exit 0; fi
done
`;
}

/** Touched at the start of every round; the liveness probe reads its age. */
const WAL_UPLOAD_HEARTBEAT = "/tmp/wal-upload.alive";

/**
 * The sidecar is alive while a round started recently: within one interval, plus the longest a
 * round can take (rclone's timeouts cap a hung transfer at minutes), rounded up.
 */
function heartbeatMaxAgeMinutes(uploadIntervalSeconds: number): number {
  return Math.ceil(uploadIntervalSeconds / 60) + 15;
}

/** What the WAL uploader sidecar needs. */
export interface WalUploaderArgs {
  /** rclone image. */
  image: pulumi.Input<string>;
  /** The backup target, defaults filled in. */
  backup: ResolvedBackupArgs;
  /** The archiving settings, defaults filled in. */
  wal: ResolvedWalArchiveArgs;
  /** The uploader's S3 key pair. */
  s3: { accessKey: SecretKey; secretKey: SecretKey };
  /** The spool folder, on the data volume. */
  spool: string;
  /** Name and mount path of the data volume. */
  dataVolume: { name: string; mountPath: string };
  /** Name of the target's CA ConfigMap, when it has one (the pod mounts it as `ca`). */
  caConfigMap?: pulumi.Input<string>;
  /** Requests and limits. */
  resources: ResourceSpec;
}

/** The sidecar that uploads the spool to the backup target. */
export function walUploaderContainer(args: WalUploaderArgs): k8s.types.input.core.v1.Container {
  return container({
    name: "wal-upload",
    image: args.image,
    command: ["/bin/sh", "-c", walUploadScript()],
    env: [
      { name: "WAL_SPOOL", value: args.spool },
      { name: "WAL_UPLOAD_INTERVAL", value: String(args.wal.uploadIntervalSeconds) },
      ...targetEnvironment(args.backup, args.s3),
    ],
    resources: args.resources,
    probes: livenessOnly(
      check.exec(
        "/bin/sh",
        "-c",
        `test -n "$(find ${WAL_UPLOAD_HEARTBEAT} -mmin -${heartbeatMaxAgeMinutes(args.wal.uploadIntervalSeconds)})"`,
      ),
    ),
    volumeMounts: [
      { name: args.dataVolume.name, mountPath: args.dataVolume.mountPath },
      { name: "tmp", mountPath: "/tmp" },
      ...caMounts(args.caConfigMap),
    ],
  });
}
