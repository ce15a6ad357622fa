/**
 * Our Postgres configuration on a real PostgreSQL 15: the rendered postgresql.conf is what the
 * server runs with, the init SQL creates the databases and roles with least privilege, and the
 * backup CronJob's scripts produce dumps that rclone uploads to a real S3 server (gofakes3 on
 * loopback), which restore from the bucket to identical data, and keep only the newest.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backupDumpScript,
  backupUploadScript,
  uploaderEnvironment,
} from "../../components/postgres";
import { IMAGES, imageRef, postgresRelease } from "../../core/images";
import { ensureGoTool } from "./lib/go-tools";
import {
  runProgram,
  runShell,
  startRenderedPostgres,
  type RenderedPostgres,
} from "./lib/rendered-postgres";
import { loopbackBackup, plainEnvironment, S3_SECRET_KEYS } from "./lib/backup-target";
import { startS3Server, type S3Server } from "./lib/s3-server";
import { rcloneTool } from "./lib/test-tools";

let db: RenderedPostgres;
const scratch = mkdtempSync(join(tmpdir(), "pg-backup-test-"));
/** Where the rclone of the uploader image's release is built. */
let rcloneDir = "";

beforeAll(async () => {
  db = await startRenderedPostgres("dev");
});

afterAll(async () => {
  await db?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** psql as a role, never throwing. */
function psqlAs(role: string, database: string, sql: string) {
  return runProgram(
    "psql",
    ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
    db.envFor(role, database),
  );
}

describe("the server this tier runs", () => {
  it("is the PostgreSQL release the catalogue's image pins, major and minor", async () => {
    const version = (await db.pg.psql("SELECT version()")).trim();
    const serverVersion = (await db.pg.psql("SHOW server_version")).trim();
    console.log(`server: ${version}\nimage:  ${imageRef("postgres")}`);
    const server = postgresRelease(serverVersion);
    const image = postgresRelease(IMAGES.postgres.tag);
    expect(server, `server_version "${serverVersion}"`).toBeDefined();
    const fix =
      `core/images.ts pins postgres ${IMAGES.postgres.tag}, the tests run ${serverVersion}: ` +
      `move the tag to ${server?.major}.${server?.minor}-bookworm, or run the server it pins`;
    expect(server?.major, fix).toBe(image?.major);
    expect(server?.minor, fix).toBe(image?.minor);
  });
});

describe("the rendered postgresql.conf", () => {
  it("runs with max_connections as the dev config renders it", async () => {
    expect(db.maxConnections).toBe(db.config.postgres.maxConnections);
    expect(await db.pg.psql("SHOW max_connections")).toBe(
      String(db.config.postgres.maxConnections),
    );
  });

  it("is the file the server reads, with shared_buffers a quarter of the 1Gi limit and SCRAM passwords", async () => {
    expect(await db.pg.psql("SHOW config_file")).toMatch(/postgresql\.conf$/);
    expect(await db.pg.psql("SHOW shared_buffers")).toBe("256MB");
    expect(await db.pg.psql("SHOW password_encryption")).toBe("scram-sha-256");
    // Every line applies, except the three the test itself overrides for loopback.
    const notApplied = await db.pg.psql(
      "SELECT name FROM pg_file_settings WHERE error IS NOT NULL ORDER BY name",
    );
    expect(notApplied.split("\n")).toEqual(["listen_addresses", "port", "unix_socket_directories"]);
  });
});

describe("the init SQL", () => {
  it("creates the app, temporal and temporal_visibility databases owned by their roles", async () => {
    const owners = await db.pg.psql(
      "SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database WHERE datname IN ('app', 'temporal', 'temporal_visibility') ORDER BY 1",
    );
    expect(owners.split("\n")).toEqual([
      "app:app",
      "temporal:temporal",
      "temporal_visibility:temporal",
    ]);
  });

  it("stores each role's password as the SCRAM verifier from its Secret", async () => {
    const stored = await db.pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'");
    expect(stored).toBe(db.roles.app.scramVerifier);
  });

  it("each role logs in with its generated password", async () => {
    for (const [role, database] of [
      ["app", "app"],
      ["temporal", "temporal"],
      ["temporal", "temporal_visibility"],
      ["exporter", "postgres"],
      ["backup", "app"],
    ]) {
      const result = await psqlAs(role, database, "SELECT current_user");
      expect(result.stderr, `${role}@${database}`).toBe("");
      expect(result.stdout.trim()).toBe(role);
    }
  });

  it("a wrong password is refused", async () => {
    const result = await runProgram("psql", ["-X", "-c", "SELECT 1"], {
      ...db.envFor("app", "app"),
      PGPASSWORD: "not-the-password",
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/password authentication failed for user "app"/);
  });

  it("the app role cannot connect to the temporal databases", async () => {
    for (const database of ["temporal", "temporal_visibility", "postgres"]) {
      const result = await psqlAs("app", database, "SELECT 1");
      expect(result.code, database).not.toBe(0);
      expect(result.stderr).toMatch(new RegExp(`permission denied for database "?${database}"?`));
    }
  });

  it("the temporal role cannot connect to the app database", async () => {
    const result = await psqlAs("temporal", "app", "SELECT 1");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/permission denied for database "?app"?/);
  });

  it("no platform role can create roles or databases or bypass its grants", async () => {
    const flags = await db.pg.psql(
      "SELECT rolname || ':' || (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication) FROM pg_roles WHERE rolname IN ('app', 'temporal', 'exporter', 'backup') ORDER BY 1",
    );
    expect(flags.split("\n")).toEqual([
      "app:false",
      "backup:false",
      "exporter:false",
      "temporal:false",
    ]);
  });

  it("the exporter reads server statistics (pg_monitor) but no table data", async () => {
    const stats = await psqlAs(
      "exporter",
      "postgres",
      "SELECT count(*) > 0 FROM pg_stat_activity WHERE query <> '<insufficient privilege>'",
    );
    expect(stats.stdout.trim()).toBe("t");
    const data = await psqlAs("exporter", "app", "SELECT 1");
    expect(data.stderr).toMatch(/permission denied for database "?app"?/);
  });

  it("the backup role reads every database but cannot write", async () => {
    await psqlAs("app", "app", "CREATE TABLE IF NOT EXISTS guarded (id int)");
    const write = await psqlAs("backup", "app", "INSERT INTO guarded VALUES (1)");
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/permission denied for table guarded/);
  });

  it("can run again on an initialised server without error (every CREATE is guarded)", async () => {
    await expect(db.pg.psql(db.initSql)).resolves.toBeDefined();
  });
});

/**
 * The upload container's environment as the CronJob renders it ({@link uploaderEnvironment}), its
 * `secretKeyRef` values filled in as the kubelet would, and its pod paths (HOME, rclone's cache)
 * moved into the test's scratch folder; rclone on PATH.
 */
function uploaderEnv(s3: S3Server, retain: number, backupDir: string): Record<string, string> {
  const env = plainEnvironment(uploaderEnvironment(loopbackBackup(s3, { retain }), S3_SECRET_KEYS));
  return {
    ...env,
    BACKUP_DIR: backupDir,
    HOME: scratch,
    RCLONE_CACHE_DIR: join(scratch, "rclone-cache"),
    PATH: `${rcloneDir}:${process.env.PATH ?? ""}`,
  };
}

/** rclone, with the uploader's remote, outside the script: to read back what it stored. */
function rclone(env: Record<string, string>, ...args: string[]) {
  return runProgram(join(rcloneDir, "rclone"), args, env);
}

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(2);

describe("the backup CronJob's scripts, with rclone against a real S3 server", () => {
  let s3: S3Server;

  beforeAll(async () => {
    rcloneDir = await ensureGoTool(rcloneTool());
    s3 = await startS3Server("backups");
  }, 600_000);

  afterAll(async () => {
    await s3?.stop();
  });

  const checksum = (table: string) =>
    `SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ${table} t`;

  it("every database is dumped, uploaded, and restores from the bucket with identical rows", async () => {
    const seed = await psqlAs(
      "app",
      "app",
      `CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags jsonb, created timestamptz DEFAULT now());
       INSERT INTO items (name, price, tags) SELECT 'item ' || g, g * 1.25, jsonb_build_object('n', g) FROM generate_series(1, 20000) g;
       CREATE TABLE orders (id serial PRIMARY KEY, item_id bigint REFERENCES items, qty int);
       INSERT INTO orders (item_id, qty) SELECT g, g % 7 FROM generate_series(1, 5000) g;`,
    );
    expect(seed.stderr).toBe("");
    const temporalSeed = await psqlAs(
      "temporal",
      "temporal",
      "CREATE TABLE shards (id int PRIMARY KEY, data bytea); INSERT INTO shards SELECT g, sha256(g::text::bytea) FROM generate_series(1, 512) g;",
    );
    expect(temporalSeed.stderr).toBe("");

    // The CronJob's two containers, in order, sharing one scratch folder.
    const backupDir = join(scratch, "dumps");
    mkdirSync(backupDir);
    const env = uploaderEnv(s3, 7, backupDir);
    const backupStarted = performance.now();
    const dump = await runShell("/bin/bash", backupDumpScript(), {
      ...db.envFor("backup", "postgres"),
      BACKUP_DIR: backupDir,
    });
    expect(dump.code, dump.stderr).toBe(0);
    const dumpSeconds = seconds(backupStarted);
    const uploadStarted = performance.now();
    const upload = await runShell("/bin/sh", backupUploadScript(), env);
    expect(upload.code, upload.stderr).toBe(0);
    const uploadSeconds = seconds(uploadStarted);

    const [stamp] = readdirSync(backupDir);
    expect(stamp).toMatch(/^\d{8}T\d{6}Z$/);
    const listing = await rclone(env, "lsf", "-R", "target:backups/postgres/");
    expect(listing.stdout.trim().split("\n").sort()).toEqual([
      `${stamp}/`,
      `${stamp}/app.dump`,
      `${stamp}/postgres.dump`,
      `${stamp}/temporal.dump`,
      `${stamp}/temporal_visibility.dump`,
    ]);

    // The restore starts from the bucket alone: the scratch folder is gone with its pod.
    rmSync(backupDir, { recursive: true, force: true });
    const restoreStarted = performance.now();
    const fetched = join(scratch, "restore");
    const download = await rclone(env, "copy", `target:backups/postgres/${stamp}`, fetched);
    expect(download.code, download.stderr).toBe(0);
    for (const [database, tables] of [
      ["app", ["items", "orders", "guarded"]],
      ["temporal", ["shards"]],
    ] as const) {
      const restored = `${database}_restored`;
      await db.pg.createDatabase(restored);
      const restore = await runProgram(
        "pg_restore",
        [
          "--no-owner",
          "--exit-on-error",
          `--dbname=${restored}`,
          join(fetched, `${database}.dump`),
        ],
        db.pg.env(restored),
      );
      expect(restore.code, restore.stderr).toBe(0);
      for (const table of tables) {
        const original = await db.pg.psql(checksum(table), database);
        const copy = await db.pg.psql(checksum(table), restored);
        expect(copy, `${database}.${table}`).toBe(original);
      }
      if (database === "app") {
        expect(await db.pg.psql(checksum("items"), restored)).toMatch(/^20000:/);
        // The sequence comes back too: the next id continues after the restored rows.
        expect(await db.pg.psql("SELECT nextval('items_id_seq')", restored)).toBe("20001");
      }
    }
    const bytes = readdirSync(fetched).reduce(
      (sum, file) => sum + statSync(join(fetched, file)).size,
      0,
    );
    console.log(
      `backup: pg_dump of 4 databases ${dumpSeconds} s, rclone upload of ${bytes} bytes ` +
        `${uploadSeconds} s; restore: download and pg_restore of 2 databases ` +
        `${seconds(restoreStarted)} s`,
    );
  });

  it("the upload keeps only the newest `retain` backups in the bucket (POSIX sh)", async () => {
    const prefix = "target:backups/retention";
    const envFor = (dir: string) => ({ ...uploaderEnv(s3, 2, dir), S3_PREFIX: "retention" });
    // An unrelated object under the prefix is never deleted.
    const other = join(scratch, "other");
    mkdirSync(other);
    writeFileSync(join(other, "notes.txt"), "not a backup");
    const copied = await rclone(envFor(other), "copy", other, `${prefix}/keep-me`);
    expect(copied.code, copied.stderr).toBe(0);
    for (const stamp of [
      "20250101T030000Z",
      "20250102T030000Z",
      "20250103T030000Z",
      "20250104T030000Z",
    ]) {
      const dir = join(scratch, `upload-${stamp}`);
      mkdirSync(join(dir, stamp), { recursive: true });
      writeFileSync(join(dir, stamp, "app.dump"), stamp);
      const run = await runShell("/bin/sh", backupUploadScript(), envFor(dir));
      expect(run.code, run.stderr).toBe(0);
    }
    const left = await rclone(envFor(other), "lsf", "-R", `${prefix}/`);
    expect(left.stdout.trim().split("\n").sort()).toEqual([
      "20250103T030000Z/",
      "20250103T030000Z/app.dump",
      "20250104T030000Z/",
      "20250104T030000Z/app.dump",
      "keep-me/",
      "keep-me/notes.txt",
    ]);
  });
});
