/**
 * Point-in-time recovery on a real PostgreSQL 15, with the scripts the pod and CronJobs run:
 * the server archives WAL by the rendered `archive_command` into a spool, the rendered uploader
 * loop moves it to a real S3 server (gofakes3) with rclone at the catalogue's release, the base
 * backup CronJob's scripts take and upload a base backup, and the restore's two init-container
 * scripts rebuild the database in a fresh volume: to a point in time (exactly the rows committed
 * before it), and to the archive's end (every row, the same schema). A volume that holds a
 * database, and a point before every base backup, are refused and left untouched.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  baseBackupScript,
  baseBackupUploadScript,
  restoreApplyScript,
  restoreFetchScript,
  restorePointEnvironment,
  targetEnvironment,
  walUploadScript,
} from "../../components/postgres";
import { loopbackBackup, plainEnvironment, S3_SECRET_KEYS } from "./lib/backup-target";
import { ensureGoTool } from "./lib/go-tools";
import { PG_BIN, serverUser } from "./lib/postgres";
import { freePort, stopServer } from "./lib/process";
import {
  runProgram,
  runShell,
  startRenderedPostgres,
  type ProgramResult,
  type RenderedPostgres,
} from "./lib/rendered-postgres";
import { startS3Server, type S3Server } from "./lib/s3-server";
import { normalise } from "./lib/schema-dump";
import { rcloneTool } from "./lib/test-tools";

const scratch = mkdtempSync(join(tmpdir(), "pg-pitr-"));
chmodSync(scratch, 0o755);
/** The account the server, the archiver and the restore steps run as (the image's `postgres`). */
const user = serverUser();
const PREFIX = "postgres";
/** The spool the source server archives into, as on the pod's data volume. */
const spool = ownedDir("source-spool");
const binDir = join(scratch, "bin");

let s3: S3Server;
let db: RenderedPostgres;
let uploader: ChildProcess | undefined;

/** A folder in the scratch space, owned by the server's account. */
function ownedDir(name: string, mode = 0o700): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true, mode });
  if (user) chownSync(dir, user.uid, user.gid);
  return dir;
}

/** The backup target's environment of every container, with the pod's paths moved to scratch. */
function targetEnv(): Record<string, string> {
  const home = ownedDir("home", 0o755);
  return {
    ...plainEnvironment(targetEnvironment(loopbackBackup(s3, { wal: {} }), S3_SECRET_KEYS)),
    HOME: home,
    RCLONE_CACHE_DIR: join(home, "rclone-cache"),
    PATH: `${binDir}:${PG_BIN}:${process.env.PATH ?? ""}`,
  };
}

/** rclone against the target, to read back what the scripts stored. */
async function rclone(...args: string[]): Promise<string> {
  const result = await runProgram(join(binDir, "rclone"), args, targetEnv());
  if (result.code !== 0) throw new Error(`rclone ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** The base backup CronJob's two containers, in order, sharing one scratch folder. */
async function takeBaseBackup(keep = { count: 2, days: 7 }): Promise<ProgramResult> {
  const backupDir = ownedDir(`base-${Date.now()}`);
  const produce = await runShell(
    "/bin/bash",
    baseBackupScript(),
    { ...db.envFor("backup", "postgres"), BACKUP_DIR: backupDir },
    user,
  );
  expect(produce.code, produce.stderr).toBe(0);
  const upload = await runShell("/bin/sh", baseBackupUploadScript(), {
    ...targetEnv(),
    BACKUP_DIR: backupDir,
    KEEP_BASE_BACKUPS: String(keep.count),
    KEEP_DAYS: String(keep.days),
  });
  expect(upload.code, upload.stderr).toBe(0);
  rmSync(backupDir, { recursive: true, force: true });
  return upload;
}

/** Files archived under the prefix's `wal/`. */
async function archivedWal(): Promise<string[]> {
  return (await rclone("lsf", "--files-only", `target:${s3.bucket}/${PREFIX}/wal/`))
    .split("\n")
    .filter(Boolean);
}

/** Finishes the current WAL segment and waits until the uploader has it in the target. */
async function archiveNow(): Promise<{ segment: string; lagSeconds: number }> {
  // A commit first, so the switch always finishes a segment with something in it.
  await db.pg.psql("SELECT txid_current()");
  const started = performance.now();
  const segment = await db.pg.psql("SELECT pg_walfile_name(pg_switch_wal())");
  const deadline = Date.now() + 60_000;
  while (!(await archivedWal()).includes(segment)) {
    if (Date.now() > deadline) throw new Error(`WAL ${segment} was not archived within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { segment, lagSeconds: (performance.now() - started) / 1000 };
}

/** The WAL uploader sidecar's loop, moving the spool every second. */
function startUploader(): ChildProcess {
  return spawn("/bin/sh", ["-c", walUploadScript()], {
    env: { ...process.env, ...targetEnv(), WAL_SPOOL: spool, WAL_UPLOAD_INTERVAL: "1" },
    stdio: "ignore",
  });
}

/** A fresh data volume and socket folder for one restore, and the config the pod would mount. */
interface RestoreVolume {
  dataMount: string;
  pgdata: string;
  socketDir: string;
  configFile: string;
  passwordFile: string;
  password: string;
}

function restoreVolume(name: string): RestoreVolume {
  const dataMount = ownedDir(`${name}-data`);
  const socketDir = ownedDir(`${name}-socket`, 0o755);
  // The rendered postgresql.conf, with the pod's spool and socket paths moved to this volume.
  const conf = db.conf
    .replaceAll(spool, join(dataMount, "wal-spool"))
    .replace(/^unix_socket_directories = .*$/m, `unix_socket_directories = '${socketDir}'`);
  const configFile = join(scratch, `${name}-postgresql.conf`);
  writeFileSync(configFile, conf, { mode: 0o644 });
  const password = `new-stack-superuser-${name}`;
  const passwordFile = join(scratch, `${name}-superuser-password`);
  writeFileSync(passwordFile, password, { mode: 0o400 });
  if (user) chownSync(passwordFile, user.uid, user.gid);
  return {
    dataMount,
    pgdata: join(dataMount, "pgdata"),
    socketDir,
    configFile,
    passwordFile,
    password,
  };
}

/** The restore's init containers, fetch then apply, as the pod runs them. */
async function restore(volume: RestoreVolume, point: string): Promise<ProgramResult[]> {
  const pointEnv = plainEnvironment(
    restorePointEnvironment(
      { point, prefix: PREFIX },
      { dataMount: volume.dataMount, pgdata: volume.pgdata },
    ),
  );
  const fetch = await runShell(
    "/bin/sh",
    restoreFetchScript(),
    { ...targetEnv(), ...pointEnv, RESTORE_PREFIX: PREFIX },
    user,
  );
  if (fetch.code !== 0) return [fetch];
  const apply = await runShell(
    "/bin/bash",
    restoreApplyScript(),
    {
      ...pointEnv,
      CONFIG_FILE: volume.configFile,
      SOCKET_DIR: volume.socketDir,
      PGPORT: String(await freePort()),
      SUPERUSER_PASSWORD_FILE: volume.passwordFile,
      PATH: `${PG_BIN}:${process.env.PATH ?? ""}`,
    },
    user,
  );
  return [fetch, apply];
}

/** The restored server, as the database container starts it, on loopback TCP. */
async function startRestored(volume: RestoreVolume) {
  const port = await freePort();
  const child = spawn(
    join(PG_BIN, "postgres"),
    [
      "-D",
      volume.pgdata,
      "-c",
      `config_file=${volume.configFile}`,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `port=${port}`,
    ],
    { stdio: "ignore", ...(user ?? {}) },
  );
  const env = (password: string, database = "app") => ({
    PGHOST: "127.0.0.1",
    PGPORT: String(port),
    PGUSER: "postgres",
    PGPASSWORD: password,
    PGDATABASE: database,
  });
  const deadline = Date.now() + 30_000;
  while ((await runProgram("pg_isready", ["-q"], env(volume.password))).code !== 0) {
    if (Date.now() > deadline) throw new Error("the restored server did not start within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const psql = async (sql: string, password = volume.password) =>
    runProgram("psql", ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], env(password));
  return { env, psql, stop: () => stopServer(child, "SIGINT", 10_000) };
}

/** Rows of the test table, by batch: `A:100,B:100`. */
const BATCHES =
  "SELECT string_agg(batch || ':' || n, ',' ORDER BY batch) FROM (SELECT batch, count(*) AS n FROM ledger GROUP BY batch) b";

async function insertBatch(batch: string): Promise<void> {
  const result = await runProgram(
    "psql",
    [
      "-X",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      `INSERT INTO ledger (batch, amount) SELECT '${batch}', g FROM generate_series(1, 100) g`,
    ],
    db.envFor("app", "app"),
  );
  expect(result.code, result.stderr).toBe(0);
}

/** Seconds since the epoch on the server's clock, which stamps the commit records. */
async function serverEpoch(): Promise<number> {
  return Number(await db.pg.psql("SELECT extract(epoch FROM clock_timestamp())"));
}

describe("point-in-time recovery from the archive, with the rendered scripts", () => {
  let pointInTime = "";
  const lags: number[] = [];

  beforeAll(async () => {
    const rcloneDir = await ensureGoTool(rcloneTool());
    // The restore steps run as the server's account, which may not read root's cache.
    mkdirSync(binDir, { mode: 0o755 });
    copyFileSync(join(rcloneDir, "rclone"), join(binDir, "rclone"));
    chmodSync(join(binDir, "rclone"), 0o755);
    s3 = await startS3Server("backups");
    db = await startRenderedPostgres("prod", { walSpool: spool });
    uploader = startUploader();
  }, 900_000);

  afterAll(async () => {
    if (uploader) await stopServer(uploader, "SIGTERM", 5_000);
    await db?.stop();
    await s3?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("archives every finished segment to the target within seconds, through the spool", async () => {
    const created = await runProgram(
      "psql",
      [
        "-X",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "CREATE TABLE ledger (id bigserial PRIMARY KEY, batch text NOT NULL, amount int NOT NULL)",
      ],
      db.envFor("app", "app"),
    );
    expect(created.code, created.stderr).toBe(0);
    await insertBatch("A");
    for (let i = 0; i < 3; i++) lags.push((await archiveNow()).lagSeconds);
    expect(readdirSync(spool).filter((file) => !file.endsWith(".tmp"))).toEqual([]);
    const stats = await db.pg.psql(
      "SELECT archived_count || ':' || failed_count FROM pg_stat_archiver",
    );
    expect(stats).toMatch(/^\d+:0$/);
  });

  it("takes a base backup that names its first WAL file and when it became consistent", async () => {
    const upload = await takeBaseBackup();
    expect(upload.stdout).toMatch(/kept 1 base backups/);
    const [name] = (await rclone("lsf", "--dirs-only", `target:${s3.bucket}/${PREFIX}/base/`))
      .split("\n")
      .filter(Boolean);
    expect(name).toMatch(/^\d{8}T\d{6}Z\/$/);
    const files = await rclone("lsf", "-R", `target:${s3.bucket}/${PREFIX}/base/${name}`);
    expect(files.split("\n").filter(Boolean).sort()).toEqual([
      "data/",
      "data/backup_manifest",
      "data/base.tar.gz",
      "start-wal",
      "stop-time",
    ]);
    const startWal = (
      await rclone("cat", `target:${s3.bucket}/${PREFIX}/base/${name}start-wal`)
    ).trim();
    expect(startWal).toMatch(/^[0-9A-F]{24}$/);
  });

  it("a restore to a point in time has exactly the rows committed before it", async () => {
    await insertBatch("B");
    // The point: the next whole second after batch B committed; batch C commits after it.
    const point = Math.floor(await serverEpoch()) + 1;
    pointInTime = new Date(point * 1000).toISOString().replace(/\.000Z$/, "Z");
    while ((await serverEpoch()) < point + 0.3) await new Promise((r) => setTimeout(r, 100));
    await insertBatch("C");
    lags.push((await archiveNow()).lagSeconds);

    const volume = restoreVolume("to-point");
    const started = performance.now();
    const steps = await restore(volume, pointInTime);
    for (const step of steps) expect(step.code, step.stderr + step.stdout).toBe(0);
    expect(steps[1].stdout).toContain(`to ${pointInTime}`);
    const restoreSeconds = (performance.now() - started) / 1000;

    const server = await startRestored(volume);
    try {
      const rows = await server.psql(BATCHES);
      expect(rows.stdout.trim()).toBe("A:100,B:100");
      // The stack's own superuser password opens it; the source's does not.
      expect((await server.psql("SELECT 1", db.pg.password ?? "")).code).not.toBe(0);
    } finally {
      await server.stop();
    }
    expect(readdirSync(volume.dataMount).sort()).toEqual(["pgdata", "restored-from", "wal-spool"]);
    const median = [...lags].sort((a, b) => a - b)[Math.floor(lags.length / 2)];
    console.log(
      `PITR: restored to ${pointInTime} in ${restoreSeconds.toFixed(1)} s (fetch, replay, ` +
        `promote); archive lag from segment switch to object in the target: median ` +
        `${median.toFixed(2)} s, max ${Math.max(...lags).toFixed(2)} s over ${lags.length} ` +
        `segments (uploader interval 1 s here, 30 s in prod)`,
    );
  });

  it("a restore of the latest backup replays the whole archive: every row, the same schema", async () => {
    const volume = restoreVolume("latest");
    const steps = await restore(volume, "latest");
    for (const step of steps) expect(step.code, step.stderr + step.stdout).toBe(0);
    const server = await startRestored(volume);
    try {
      expect((await server.psql(BATCHES)).stdout.trim()).toBe("A:100,B:100,C:100");
      for (const database of ["app", "temporal"]) {
        const args = ["--schema-only", "--no-owner", "--no-privileges", database];
        const source = await runProgram("pg_dump", args, db.pg.env(database));
        const copy = await runProgram("pg_dump", args, server.env(volume.password, database));
        expect(copy.code, copy.stderr).toBe(0);
        expect(normalise(copy.stdout), database).toEqual(normalise(source.stdout));
      }
    } finally {
      await server.stop();
    }

    // The next start of the same pod steps aside: restored from this point before.
    const again = await restore(volume, "latest");
    expect(again.map((step) => step.code)).toEqual([0, 0]);
    expect(again[0].stdout).toContain("was restored from latest before");
  });

  it("never touches a volume that holds a database, and refuses a point before every backup", async () => {
    const volume = restoreVolume("occupied");
    mkdirSync(volume.pgdata, { mode: 0o700 });
    writeFileSync(join(volume.pgdata, "PG_VERSION"), "15\n");
    writeFileSync(join(volume.pgdata, "precious"), "data\n");
    for (const path of [
      volume.pgdata,
      ...["PG_VERSION", "precious"].map((f) => join(volume.pgdata, f)),
    ]) {
      if (user) chownSync(path, user.uid, user.gid);
    }
    const refused = await restore(volume, "latest");
    expect(refused).toHaveLength(1);
    expect(refused[0].code).toBe(1);
    expect(refused[0].stderr).toMatch(
      /postgres.restoreFrom is latest, but the data volume already holds a database/,
    );
    expect(readdirSync(volume.pgdata).sort()).toEqual(["PG_VERSION", "precious"]);

    const early = restoreVolume("too-early");
    const before = await restore(early, "2020-01-01T00:00:00Z");
    expect(before[0].code).toBe(1);
    expect(before[0].stderr).toMatch(
      /postgres.restoreFrom 2020-01-01T00:00:00Z: is before the oldest base backup, which is consistent from \d{4}-/,
    );
    expect(readdirSync(early.dataMount)).not.toContain("pgdata");
  });

  it("retention keeps the newest backups and the window's first, and the WAL they need", async () => {
    // Two backups from long ago, as if the stack had run for years, with WAL older than any
    // real segment (timeline 0 sorts first).
    const base = `target:${s3.bucket}/${PREFIX}/base`;
    const real = await archivedWal();
    const seeds = join(scratch, "seeds");
    const oldWal = ["000000000000000000000001", "000000000000000000000002"];
    for (const [stamp, startWal, stopTime] of [
      ["20200101T000000Z", oldWal[0], "2020-01-01T00:10:00Z"],
      ["20200201T000000Z", oldWal[1], "2020-02-01T00:10:00Z"],
    ]) {
      mkdirSync(join(seeds, stamp), { recursive: true });
      writeFileSync(join(seeds, stamp, "start-wal"), `${startWal}\n`);
      writeFileSync(join(seeds, stamp, "stop-time"), `${stopTime}\n`);
      await rclone("copy", join(seeds, stamp), `${base}/${stamp}`);
    }
    mkdirSync(join(seeds, "wal"));
    for (const name of oldWal) writeFileSync(join(seeds, "wal", name), "old segment\n");
    await rclone("copy", join(seeds, "wal"), `target:${s3.bucket}/${PREFIX}/wal`);

    const upload = await takeBaseBackup({ count: 2, days: 7 });
    // Newest first: two fresh ones kept by count, 2020-02 kept as the window's first, 2020-01 gone.
    expect(upload.stdout).toContain("deleting old base backup 20200101T000000Z");
    expect(upload.stdout).toMatch(/kept 3 base backups, the oldest 20200201T000000Z/);
    const remaining = await archivedWal();
    expect(remaining).not.toContain(oldWal[0]);
    expect(remaining).toContain(oldWal[1]);
    expect(remaining).toEqual(expect.arrayContaining(real));
    // The archive still restores the newest state.
    const volume = restoreVolume("after-retention");
    const steps = await restore(volume, "latest");
    for (const step of steps) expect(step.code, step.stderr).toBe(0);
    const server = await startRestored(volume);
    try {
      expect((await server.psql(BATCHES)).stdout.trim()).toBe("A:100,B:100,C:100");
    } finally {
      await server.stop();
    }
  });

  it("a stalled upload makes archiving fail where the exporter sees it, and it resumes after", async () => {
    // SIGTERM ends the loop after the round under way, by its own exit 0: the pod need not wait
    // out its grace period, and no upload is still in flight when the probe is written.
    await stopServer(uploader as ChildProcess, "SIGTERM", 5_000);
    expect({ code: uploader?.exitCode, signal: uploader?.signalCode }).toEqual({
      code: 0,
      signal: null,
    });
    const probe = join(spool, "stalled-probe");
    writeFileSync(probe, "not uploaded\n");
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(probe, tenMinutesAgo, tenMinutesAgo);
    const failures = async () =>
      Number(await db.pg.psql("SELECT failed_count FROM pg_stat_archiver"));
    const before = await failures();
    await db.pg.psql("SELECT txid_current()");
    const stalled = await db.pg.psql("SELECT pg_walfile_name(pg_switch_wal())");
    const deadline = Date.now() + 60_000;
    while ((await failures()) === before) {
      if (Date.now() > deadline)
        throw new Error("archiving did not fail on a stalled spool in 60 s");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await archivedWal()).not.toContain(stalled);

    rmSync(probe);
    uploader = startUploader();
    const { segment } = await archiveNow();
    const archived = await archivedWal();
    expect(archived).toContain(stalled);
    expect(archived).toContain(segment);
  });
});
