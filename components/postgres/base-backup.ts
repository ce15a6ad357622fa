import type { SecretKey } from "../lib/secrets";
import type { ResolvedBackupArgs, ResolvedWalArchiveArgs } from "./args";
import { BACKUP_DIR, ONE_BACKUP_FOLDER, targetEnvironment, type BackupJobScripts } from "./backup";
import { BASE_FOLDER, WAL_FOLDER } from "./wal-archive";

/**
 * Base backups, the starting points of a point-in-time restore: `pg_basebackup` of the whole
 * cluster as a compressed tar, without WAL (the archive has it), uploaded to
 * `<prefix>/base/<UTC stamp>/` with two small files a restore chooses by:
 *
 * - `start-wal`: the WAL file in use before the backup began; replay starts at or after it, so
 *   the archive is needed from this file on;
 * - `stop-time`: when `pg_basebackup` returned, which it does only once the backup's last WAL is
 *   archived; any later point in time is reachable from this backup.
 *
 * Retention keeps a backup when it is one of the newest `keepBaseBackups`, or younger than
 * `keepDays`, or the newest one older than that (the window's first moments replay from it).
 * WAL older than the oldest kept backup's `start-wal` replays into nothing kept and is deleted.
 */

/** The backup, into `$BACKUP_DIR/<stamp>/`, with its `start-wal` and `stop-time`. */
export function baseBackupScript(): string {
  return `set -euo pipefail
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
dir="\${BACKUP_DIR}/\${stamp}"
mkdir -p "$dir"
psql --no-psqlrc --no-align --tuples-only --dbname=postgres \\
  --command="SELECT pg_walfile_name(pg_current_wal_lsn())" > "$dir/start-wal"
# Returns once the server has archived the backup's last WAL file (its default WAIT).
pg_basebackup --pgdata="$dir/data" --format=tar --gzip --wal-method=none --checkpoint=fast \\
  --label="$stamp" --no-password
date -u +%Y-%m-%dT%H:%M:%SZ > "$dir/stop-time"
tar -tzf "$dir/data/base.tar.gz" > /dev/null
echo "base backup $stamp from WAL $(cat "$dir/start-wal"), consistent at $(cat "$dir/stop-time")"
`;
}

/** Uploads the one folder under `$BACKUP_DIR`, then applies the retention to backups and WAL. */
export function baseBackupUploadScript(): string {
  return `set -eu
${ONE_BACKUP_FOLDER}base="target:\${S3_BUCKET}/\${S3_PREFIX}/${BASE_FOLDER}"
wal="target:\${S3_BUCKET}/\${S3_PREFIX}/${WAL_FOLDER}"
# The markers go last: a folder with a stop-time is a whole backup.
rclone copy "$dir/data" "$base/$stamp/data"
rclone copy "$dir" "$base/$stamp" --max-depth 1 --include start-wal --include stop-time
echo "uploaded base backup $stamp"
# Stamps and WAL file names compare as strings; the "" forces that in every awk.
at_or_after() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(("" a) >= ("" b)) }'; }
cutoff="$(date -u -d "@$(( $(date -u +%s) - KEEP_DAYS * 86400 ))" +%Y%m%dT%H%M%SZ)"
names="$(rclone lsf --dirs-only "$base/" | sed -n 's#^\\([0-9]\\{8\\}T[0-9]\\{6\\}Z\\)/$#\\1#p' | sort -r)"
kept=0
covered=no
oldest=""
for name in $names; do
  keep=no
  if [ "$kept" -lt "$KEEP_BASE_BACKUPS" ] || at_or_after "$name" "$cutoff"; then keep=yes
  elif [ "$covered" = no ]; then keep=yes; fi
  if ! at_or_after "$name" "$cutoff" && [ "$keep" = yes ]; then covered=yes; fi
  if [ "$keep" = yes ]; then
    kept=$((kept + 1))
    oldest="$name"
  else
    echo "deleting old base backup $name"
    rclone purge "$base/$name"
  fi
done
start="$(rclone cat "$base/$oldest/start-wal")"
rclone lsf --files-only "$wal/" \\
  | awk -v start="$start" '(("" $0) < ("" start)) && $0 !~ /[.]history$/' > /tmp/expired-wal
expired="$(wc -l < /tmp/expired-wal | tr -d ' ')"
if [ "$expired" -gt 0 ]; then rclone delete "$wal" --files-from-raw /tmp/expired-wal; fi
echo "kept $kept base backups, the oldest $oldest; deleted $expired WAL files before $start"
`;
}

/** The base backup job: its schedule, scripts and the upload's environment. */
export function baseBackupJobScripts(
  backup: ResolvedBackupArgs,
  wal: ResolvedWalArchiveArgs,
  s3: { accessKey: SecretKey; secretKey: SecretKey },
): BackupJobScripts {
  return {
    schedule: wal.baseBackupSchedule,
    producer: "basebackup",
    produce: baseBackupScript(),
    upload: baseBackupUploadScript(),
    uploadEnv: [
      { name: "BACKUP_DIR", value: BACKUP_DIR },
      { name: "KEEP_BASE_BACKUPS", value: String(wal.keepBaseBackups) },
      { name: "KEEP_DAYS", value: String(wal.keepDays) },
      ...targetEnvironment(backup, s3),
    ],
  };
}
