import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import { container } from "../lib/workload";
import type { ResolvedBackupArgs, ResolvedRestoreArgs } from "./args";
import { caMounts, targetEnvironment } from "./backup";
import { BASE_FOLDER, WAL_FOLDER } from "./wal-archive";

/**
 * `postgres.restoreFrom`: two init containers of the database pod that build the database from
 * the backup target before the server's first start. So nothing that waits for the database
 * (the role reconcile, migrations, the app) can start before the restore is done, and a failed
 * restore keeps the pod from ever serving an empty database.
 *
 * 1. `restore-fetch` (rclone) chooses the base backup (the newest, a named one, or the newest
 *    consistent before the point in time) and downloads it with every WAL file from its
 *    `start-wal` on, into a staging folder on the data volume.
 * 2. `restore-apply` (the Postgres image) unpacks it into a staged data directory, replays the
 *    WAL to the point (or to the archive's end) with a socket-only server, promotes it, sets the
 *    superuser's password to this stack's, stops it, and only then moves it into place.
 *
 * A volume that holds a database is never touched: both steps stop with an error unless it was
 * restored from this very `restoreFrom` before (a marker file says so), when they step aside.
 */

/** The staging folder of a restore, on the data volume; removed once the restore is in place. */
export const RESTORE_DIR_NAME = "restore";
/** The marker of a finished restore (its `restoreFrom`), on the data volume beside PGDATA. */
export const RESTORE_MARKER_NAME = "restored-from";

/**
 * The guard both steps start with: nothing to do on a volume restored from this point before,
 * an error on any other volume that holds a database.
 */
function existingDataGuard(): string {
  return `if [ -f "\${PGDATA}/PG_VERSION" ]; then
  if [ -f "\${RESTORE_MARKER}" ] && [ "$(cat "\${RESTORE_MARKER}")" = "\${RESTORE_FROM}" ]; then
    echo "the database was restored from \${RESTORE_FROM} before; it starts as it is"
    exit 0
  fi
  echo "postgres.restoreFrom is \${RESTORE_FROM}, but the data volume already holds a database" \\
    "(\${PGDATA}); a restore never overwrites one: remove postgres.restoreFrom to start it," \\
    "or restore into a stack with an empty volume" >&2
  exit 1
fi
`;
}

/** The fetch step (POSIX sh, rclone): choose the base backup, download it and its WAL. */
export function restoreFetchScript(): string {
  return `set -eu
${existingDataGuard()}fail() { echo "postgres.restoreFrom \${RESTORE_FROM}: $*" >&2; exit 1; }
at_or_after() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(("" a) >= ("" b)) }'; }
base="target:\${S3_BUCKET}/\${RESTORE_PREFIX}/${BASE_FOLDER}"
wal="target:\${S3_BUCKET}/\${RESTORE_PREFIX}/${WAL_FOLDER}"
rm -rf "\${RESTORE_DIR}"
mkdir -p "\${RESTORE_DIR}/wal"
names="$(rclone lsf --dirs-only "$base/" | sed -n 's#^\\([0-9]\\{8\\}T[0-9]\\{6\\}Z\\)/$#\\1#p' | sort -r)"
[ -n "$names" ] || fail "no base backup under $base"
chosen=""
earliest=""
for name in $names; do
  # A backup without its stop-time never finished uploading.
  stop="$(rclone cat "$base/$name/stop-time" 2>/dev/null || true)"
  [ -n "$stop" ] || continue
  if [ -n "\${RESTORE_TIME}" ]; then
    if at_or_after "\${RESTORE_TIME}" "$stop"; then chosen="$name"; break; fi
    earliest="$stop"
  elif [ "\${RESTORE_BACKUP}" = latest ] || [ "\${RESTORE_BACKUP}" = "$name" ]; then
    chosen="$name"; break
  fi
done
if [ -z "$chosen" ]; then
  if [ -n "\${RESTORE_TIME}" ]; then
    fail "is before the oldest base backup, which is consistent from $earliest"
  fi
  fail "no complete base backup of that name under $base; there are:" $names
fi
rclone copy "$base/$chosen" "\${RESTORE_DIR}/base"
start="$(cat "\${RESTORE_DIR}/base/start-wal")"
rclone lsf --files-only "$wal/" \\
  | awk -v start="$start" '(("" $0) >= ("" start)) || $0 ~ /[.]history$/' > "\${RESTORE_DIR}/wal-files"
rclone copy "$wal" "\${RESTORE_DIR}/wal" --files-from-raw "\${RESTORE_DIR}/wal-files" --no-traverse
echo "$chosen" > "\${RESTORE_DIR}/chosen"
echo "fetched base backup $chosen and $(wc -l < "\${RESTORE_DIR}/wal-files" | tr -d ' ') WAL files from $start"
`;
}

/**
 * The apply step (bash, the Postgres image, as its `postgres` user): replay into a staged data
 * directory with a server that listens on its socket only, promote, set the superuser password
 * from this stack's Secret, stop, then move the data directory into place.
 */
export function restoreApplyScript(): string {
  return `set -euo pipefail
${existingDataGuard()}chosen="$(cat "\${RESTORE_DIR}/chosen")"
staged="\${RESTORE_DIR}/pgdata"
rm -rf "$staged"
mkdir -m 0700 "$staged"
tar -xzf "\${RESTORE_DIR}/base/data/base.tar.gz" -C "$staged"
touch "$staged/recovery.signal"
settings=(-c "config_file=\${CONFIG_FILE}" -c "listen_addresses=" -c "port=\${PGPORT}"
  -c "restore_command=cp \${RESTORE_DIR}/wal/%f %p" -c "recovery_target_action=promote")
# The server refuses zone abbreviations there, the Z among them: the same instant as +00.
if [ -n "\${RESTORE_TIME}" ]; then
  target="\${RESTORE_TIME/T/ }"
  settings+=(-c "recovery_target_time=\${target%Z}+00")
fi
postgres -D "$staged" "\${settings[@]}" &
server=$!
sql() { psql --no-psqlrc --no-align --tuples-only --host="\${SOCKET_DIR}" --username=postgres --dbname=postgres "$@"; }
until [ "$(sql --command='SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
  if ! kill -0 "$server" 2>/dev/null; then
    wait "$server" || true
    rm -rf "$staged"
    echo "postgres.restoreFrom \${RESTORE_FROM}: the server stopped before it reached the point" \\
      "and was promoted (its log is above); the volume holds no database and the next start" \\
      "tries again" >&2
    exit 1
  fi
  sleep 1
done
# The restored cluster has the source's superuser password; this stack's Secret holds another.
sql --set=ON_ERROR_STOP=1 <<'SQL'
\\set password \`cat "$SUPERUSER_PASSWORD_FILE"\`
ALTER ROLE postgres PASSWORD :'password';
SQL
kill -INT "$server"
wait "$server"
if [ -e "\${PGDATA}" ] && ! rmdir "\${PGDATA}"; then
  echo "\${PGDATA} exists and is not empty, without a database in it; it is left as it is" >&2
  exit 1
fi
printf '%s\\n' "\${RESTORE_FROM}" > "\${RESTORE_MARKER}"
mv "$staged" "\${PGDATA}"
rm -rf "\${RESTORE_DIR}"
echo "restored base backup $chosen\${RESTORE_TIME:+ to \${RESTORE_TIME}}; the server starts on it"
`;
}

/** The variables both steps read: what to restore, and where on the volume. */
export function restorePointEnvironment(
  restore: ResolvedRestoreArgs,
  paths: { dataMount: string; pgdata: string },
): k8s.types.input.core.v1.EnvVar[] {
  const { point } = restore;
  const isTime = point !== "latest" && !/^\d{8}T\d{6}Z$/.test(point);
  return [
    { name: "RESTORE_FROM", value: point },
    { name: "RESTORE_BACKUP", value: isTime ? "" : point },
    { name: "RESTORE_TIME", value: isTime ? point : "" },
    { name: "PGDATA", value: paths.pgdata },
    { name: "RESTORE_DIR", value: `${paths.dataMount}/${RESTORE_DIR_NAME}` },
    { name: "RESTORE_MARKER", value: `${paths.dataMount}/${RESTORE_MARKER_NAME}` },
  ];
}

/** What the two init containers are built from. */
export interface RestoreContainersArgs {
  /** What to restore, defaults filled in. */
  restore: ResolvedRestoreArgs;
  /** The backup target it reads, defaults filled in. */
  backup: ResolvedBackupArgs;
  /** The target's key pair. */
  s3: { accessKey: SecretKey; secretKey: SecretKey };
  /** Name of the target's CA ConfigMap, when it has one (the pod mounts it as `ca`). */
  caConfigMap?: pulumi.Input<string>;
  /** The Postgres image (replay) and the rclone image (download). */
  images: { postgres: pulumi.Input<string>; uploader: pulumi.Input<string> };
  /** Paths in the pod: the data volume, PGDATA, the config, the socket, the superuser password. */
  paths: {
    dataMount: string;
    pgdata: string;
    configFile: string;
    socketDir: string;
    superuserPasswordFile: string;
  };
  /** The server's port (its socket's name). */
  port: number;
  /** The database container's mounts the apply step needs: data, config, superuser, socket, tmp. */
  applyMounts: k8s.types.input.core.v1.VolumeMount[];
  /** Resources of the download, and of the replay (the database's: it runs the same server). */
  resources: { fetch: ResourceSpec; apply: ResourceSpec };
}

/** The fetch and apply init containers, in order. */
export function restoreInitContainers(
  args: RestoreContainersArgs,
): k8s.types.input.core.v1.Container[] {
  const point = restorePointEnvironment(args.restore, args.paths);
  const fetch = container({
    name: "restore-fetch",
    image: args.images.uploader,
    command: ["/bin/sh", "-c", restoreFetchScript()],
    env: [
      ...point,
      { name: "RESTORE_PREFIX", value: args.restore.prefix },
      ...targetEnvironment(args.backup, args.s3),
    ],
    resources: args.resources.fetch,
    volumeMounts: [
      { name: "data", mountPath: args.paths.dataMount },
      { name: "tmp", mountPath: "/tmp" },
      ...caMounts(args.caConfigMap),
    ],
  });
  const apply = container({
    name: "restore-apply",
    image: args.images.postgres,
    command: ["bash", "-c", restoreApplyScript()],
    env: [
      ...point,
      { name: "CONFIG_FILE", value: args.paths.configFile },
      { name: "SOCKET_DIR", value: args.paths.socketDir },
      { name: "PGPORT", value: String(args.port) },
      { name: "SUPERUSER_PASSWORD_FILE", value: args.paths.superuserPasswordFile },
    ],
    resources: args.resources.apply,
    volumeMounts: args.applyMounts,
  });
  return [fetch, apply];
}
