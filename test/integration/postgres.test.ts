/**
 * Our Postgres configuration on a real PostgreSQL 15: the rendered postgresql.conf is what the
 * server runs with, the init SQL creates the databases and roles with least privilege, and the
 * backup CronJob's scripts produce dumps that restore to identical data and keep only the newest.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupDumpScript, backupUploadScript } from "../../components/postgres";
import { IMAGES, imageRef, postgresRelease } from "../../core/images";
import {
  runProgram,
  runShell,
  startRenderedPostgres,
  type RenderedPostgres,
} from "./lib/rendered-postgres";

let db: RenderedPostgres;
const scratch = mkdtempSync(join(tmpdir(), "pg-backup-test-"));

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

describe("the backup CronJob's scripts", () => {
  const checksum = (table: string) =>
    `SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ${table} t`;

  it("pg_dump of every database restores into a fresh database with identical data", async () => {
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

    const backupDir = join(scratch, "dumps");
    mkdirSync(backupDir);
    const run = await runShell("/bin/bash", backupDumpScript(), {
      ...db.envFor("backup", "postgres"),
      BACKUP_DIR: backupDir,
    });
    expect(run.code, run.stderr).toBe(0);

    const [stamp] = readdirSync(backupDir);
    expect(stamp).toMatch(/^\d{8}T\d{6}Z$/);
    const files = readdirSync(join(backupDir, stamp)).sort();
    expect(files).toEqual([
      "app.dump",
      "postgres.dump",
      "temporal.dump",
      "temporal_visibility.dump",
    ]);

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
          join(backupDir, stamp, `${database}.dump`),
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
  });

  it("the upload keeps only the newest `retain` backups in the bucket (POSIX sh, a stand-in mc)", async () => {
    const bucketRoot = join(scratch, "s3");
    const bin = join(scratch, "bin");
    mkdirSync(bin, { recursive: true });
    // A stand-in for the few mc commands the script uses, over a local folder as the "bucket".
    writeFileSync(
      join(bin, "mc"),
      `#!/bin/sh
set -eu
while [ "$#" -gt 0 ]; do case "$1" in --config-dir) shift 2 ;; --no-color) shift ;; *) break ;; esac; done
path() { echo "${bucketRoot}/\${1#s3/}"; }
case "$1" in
  alias) [ "$2" = set ] && [ -n "$6" ] ;;
  cp) mkdir -p "$(path "$4")"; cp -R "$3". "$(path "$4")" ;;
  ls) for d in "$(path "$2")"*/; do [ -d "$d" ] && echo "[2025-01-01 00:00:00 UTC]     0B $(basename "$d")/"; done ;;
  rm) rm -rf "$(path "$4")" ;;
  *) echo "unexpected mc $*" >&2; exit 2 ;;
esac
`,
    );
    chmodSync(join(bin, "mc"), 0o755);
    const env = {
      PATH: `${bin}:${process.env.PATH ?? ""}`,
      BACKUP_RETAIN: "2",
      S3_ENDPOINT: "http://127.0.0.1:9",
      S3_BUCKET: "backups",
      S3_PREFIX: "postgres",
      AWS_ACCESS_KEY_ID: "test-access",
      AWS_SECRET_ACCESS_KEY: "test-secret",
    };
    // An unrelated object under the prefix is never deleted.
    mkdirSync(join(bucketRoot, "backups", "postgres", "keep-me"), { recursive: true });
    for (const stamp of [
      "20250101T030000Z",
      "20250102T030000Z",
      "20250103T030000Z",
      "20250104T030000Z",
    ]) {
      const dir = join(scratch, `upload-${stamp}`);
      mkdirSync(join(dir, stamp), { recursive: true });
      writeFileSync(join(dir, stamp, "app.dump"), stamp);
      const run = await runShell("/bin/sh", backupUploadScript(), { ...env, BACKUP_DIR: dir });
      expect(run.code, run.stderr).toBe(0);
    }
    expect(readdirSync(join(bucketRoot, "backups", "postgres")).sort()).toEqual([
      "20250103T030000Z",
      "20250104T030000Z",
      "keep-me",
    ]);
  });
});
