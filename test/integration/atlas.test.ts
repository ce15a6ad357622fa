/**
 * Our migration tooling against Atlas's own engine (ariga.io/atlas `sql/migrate` and
 * `sql/postgres`, built from test/integration/atlas): Atlas's validator, its `atlas.sum` hashing,
 * its statement splitter and its Executor agree with what core/atlas-sum.ts and
 * `npm run migrate:new` produce; and Atlas's advisory lock, taken through our PgBouncer, shows
 * why the migration Job must connect to Postgres directly. The schema these migrations reach is
 * compared with the Drizzle schema in migrations.test.ts, applied by the same engine.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SUM_FILE,
  computeSum,
  parseSum,
  readMigrationDir,
  validateMigrationDir,
  writeSumFile,
} from "../../core/atlas-sum";
import { atlasLayout, newMigration } from "../../tools/migrate";
import { pgbouncerIni, userlistTxt } from "../../components/pgbouncer";
import { atlasEngine } from "./lib/atlas-engine";
import type { AtlasEngine } from "./lib/atlas-engine";
import { startPgBouncer } from "./lib/pgbouncer";
import type { PgBouncerServer } from "./lib/pgbouncer";
import { startPostgres } from "./lib/postgres";
import type { PostgresServer } from "./lib/postgres";
import { startRenderedPostgres } from "./lib/rendered-postgres";
import type { RenderedPostgres } from "./lib/rendered-postgres";
import { REVISIONS_TABLE } from "./lib/schema-dump";
import { atlasEngineTool } from "./lib/test-tools";
import { goEnvironment } from "./lib/go-tools";

const ROOT = resolve(__dirname, "../..");
const ATLAS = join(ROOT, "atlas");
const MIGRATIONS = join(ATLAS, "migrations");

/** Two later migrations, so "every file" covers a first, a middle and a last entry of the sum. */
const EXTRA_MIGRATIONS: Record<string, string> = {
  "29991231235958_add_nickname.sql": 'ALTER TABLE "users" ADD COLUMN "nickname" text;\n',
  "29991231235959_drop_nickname.sql": 'ALTER TABLE "users" DROP COLUMN "nickname";\n',
};

/** The statements drizzle-kit generated, as `migrate:new` wrote them: blocks after the header. */
function generatedStatements(sql: string): string[] {
  return sql
    .split("\n\n")
    .map((block) => block.trim())
    .filter((block) => block !== "" && !block.startsWith("--"));
}

/** ariga.io/atlas's own copy in the Go module cache (its testdata ships atlas.sum files). */
function atlasModuleDir(version: string): string {
  const r = spawnSync("go", ["mod", "download", "-json", `ariga.io/atlas@${version}`], {
    encoding: "utf8",
    env: goEnvironment(),
  });
  if (r.status !== 0) throw new Error(`go mod download ariga.io/atlas@${version}:\n${r.stderr}`);
  return (JSON.parse(r.stdout) as { Dir: string }).Dir;
}

describe("Atlas's engine agrees with our migration tooling", () => {
  let atlas: AtlasEngine;
  let pg: PostgresServer | undefined;
  const scratch: string[] = [];

  function tempDir(prefix: string, parent = tmpdir()): string {
    const dir = mkdtempSync(join(parent, prefix));
    scratch.push(dir);
    return dir;
  }

  /** A temp copy of atlas/migrations, with the extra files and a sum we wrote when asked. */
  function copyOfMigrations(extra: Record<string, string> = {}): string {
    const dir = tempDir("atlas-migrations-");
    cpSync(MIGRATIONS, dir, { recursive: true });
    for (const [name, sql] of Object.entries(extra)) writeFileSync(join(dir, name), sql);
    if (Object.keys(extra).length > 0) writeSumFile(dir);
    return dir;
  }

  beforeAll(async () => {
    // A cold build of the engine takes minutes; a cached one, none.
    atlas = await atlasEngine();
    pg = await startPostgres();
  }, 600_000);

  afterAll(async () => {
    await pg?.stop();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("migrate.Validate accepts the committed atlas/migrations", async () => {
    expect(await atlas.validate(MIGRATIONS)).toEqual({ ok: true, message: "valid" });
    expect(validateMigrationDir(MIGRATIONS)).toEqual({ ok: true, findings: [] });
  });

  it("a one-byte change to any migration fails Atlas's validation, and ours names the file", async () => {
    const files = readMigrationDir(copyOfMigrations(EXTRA_MIGRATIONS));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const { name, content } of files) {
      const dir = copyOfMigrations(EXTRA_MIGRATIONS);
      const bytes = Buffer.from(content);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at] === 0x20 ? 0x09 : 0x20; // one byte, whatever it was
      writeFileSync(join(dir, name), bytes);

      const verdict = await atlas.validate(dir);
      expect(verdict.ok).toBe(false);
      expect(verdict.message).toMatch(new RegExp(`^checksum mismatch: ${name} was edited`));
      expect(validateMigrationDir(dir).findings[0]).toMatch(new RegExp(`^${name}: was edited`));
    }
  });

  it("Atlas computes the same atlas.sum as ours, entry for entry", async () => {
    const committed = readFileSync(join(MIGRATIONS, SUM_FILE), "utf8");
    expect(await atlas.hash(MIGRATIONS)).toBe(committed);
    expect(computeSum(readMigrationDir(MIGRATIONS))).toBe(committed);

    // A longer directory, and a file whose first line opts out of hashing (atlas:sum ignore).
    const dir = copyOfMigrations({
      ...EXTRA_MIGRATIONS,
      "29991231235957_notes.sql": "-- atlas:sum ignore\nSELECT 1;\n",
    });
    const ours = computeSum(readMigrationDir(dir));
    expect(await atlas.hash(dir)).toBe(ours);
    expect(parseSum(ours).map((e) => e.name)).not.toContain("29991231235957_notes.sql");
  });

  it("Atlas validates a directory whose atlas.sum we wrote", async () => {
    const dir = copyOfMigrations(EXTRA_MIGRATIONS);
    expect(readFileSync(join(dir, SUM_FILE), "utf8")).toBe(computeSum(readMigrationDir(dir)));
    expect(await atlas.validate(dir)).toEqual({ ok: true, message: "valid" });
  });

  it("our atlas.sum reproduces every atlas.sum in Atlas's own testdata", async () => {
    const testdata = join(atlasModuleDir(atlasEngineTool().version), "sql", "migrate", "testdata");
    const dirs = readdirSync(testdata)
      .map((name) => join(testdata, name))
      .filter((dir) => existsSync(join(dir, SUM_FILE)));
    expect(dirs.length).toBeGreaterThanOrEqual(2);
    for (const dir of dirs) {
      const shipped = readFileSync(join(dir, SUM_FILE), "utf8");
      expect({ dir, sum: computeSum(readMigrationDir(dir)) }).toEqual({ dir, sum: shipped });
      expect(await atlas.hash(dir)).toBe(shipped);
    }
  });

  it("Atlas's Postgres splitter finds exactly the statements drizzle-kit generated", async () => {
    for (const { name, content } of readMigrationDir(MIGRATIONS)) {
      const statements = await atlas.split(join(MIGRATIONS, name));
      expect(statements).toEqual(generatedStatements(content.toString()));
    }
  });

  it("the splitter honours dollar quotes and Atlas's delimiter directive", async () => {
    const dir = tempDir("atlas-split-");
    const fn = join(dir, "1_fn.sql");
    writeFileSync(
      fn,
      "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\n" +
        "BEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$;\n\nSELECT 1;\n",
    );
    expect(await atlas.split(fn)).toEqual([
      expect.stringMatching(/^CREATE FUNCTION touch\(\)[\s\S]*END;\n\$\$;$/),
      "SELECT 1;",
    ]);
    const delimited = join(dir, "2_delimited.sql");
    writeFileSync(
      delimited,
      "-- atlas:delimiter -- end\nCREATE TABLE a (id int); CREATE TABLE b (id int);\n-- end\nSELECT 1;\n-- end\n",
    );
    expect(await atlas.split(delimited)).toEqual([
      "CREATE TABLE a (id int); CREATE TABLE b (id int);",
      "SELECT 1;",
    ]);
  });

  it("the Executor records each file in atlas_schema_revisions as `atlas migrate apply` does", async () => {
    if (!pg) throw new Error("no server");
    const dir = copyOfMigrations(EXTRA_MIGRATIONS);
    await pg.createDatabase("revisions");
    const files = readMigrationDir(dir);
    expect(await atlas.apply(dir, pg.url("revisions"))).toEqual(
      files.map((f) => f.name.slice(0, 14)),
    );

    const rows = await pg.psql(
      `SELECT version, description, type, applied, total, hash,
              coalesce(error, '-'), coalesce(partial_hashes::text, '-')
         FROM ${REVISIONS_TABLE} ORDER BY version;`,
      "revisions",
    );
    const sum = new Map(
      parseSum(readFileSync(join(dir, SUM_FILE), "utf8")).map((e) => [e.name, e.hash]),
    );
    const expected = await Promise.all(
      files.map(async (f) => {
        const [, version, description] = /^(\d{14})_(.+)\.sql$/.exec(f.name) ?? [];
        const n = (await atlas.split(join(dir, f.name))).length;
        // type 2 = RevisionTypeExecute; a finished file keeps no partial hashes.
        return [version, description, "2", n, n, sum.get(f.name), "-", "-"].join("|");
      }),
    );
    expect(rows.split("\n")).toEqual(expected);
  });

  it("a file that fails part-way is rolled back whole, and the files before it stay applied", async () => {
    if (!pg) throw new Error("no server");
    const dir = copyOfMigrations({
      "29991231235959_broken.sql": 'CREATE TABLE "half_done" (id int);\nSELECT 1 / 0;\n',
    });
    await pg.createDatabase("broken");

    await expect(atlas.apply(dir, pg.url("broken"))).rejects.toThrow(
      /executing statement "SELECT 1 \/ 0;" from version "29991231235959": pq: division by zero/,
    );
    const state = await pg.psql(
      `SELECT string_agg(version, ',' ORDER BY version) FROM ${REVISIONS_TABLE};
       SELECT to_regclass('public.half_done') IS NULL, to_regclass('public.users') IS NOT NULL;`,
      "broken",
    );
    expect(state.split("\n")).toEqual([readMigrationDir(MIGRATIONS)[0].name.slice(0, 14), "t|t"]);
  });

  it("`npm run migrate:new` writes a migration Atlas validates and applies", async () => {
    // Under the repository, so the copied schema.ts resolves drizzle-orm from node_modules.
    const out = join(ROOT, "out");
    mkdirSync(out, { recursive: true });
    const atlasDir = tempDir("atlas-new-", out);
    cpSync(ATLAS, atlasDir, { recursive: true });
    const schemaFile = join(atlasDir, "schema.ts");
    writeFileSync(
      schemaFile,
      `${readFileSync(schemaFile, "utf8")}
export const auditLog = pgTable("audit_log", {
  id: uuid("id").primaryKey().defaultRandom(),
  note: text("note").notNull(),
});
`,
    );
    const layout = atlasLayout(atlasDir);
    const result = await newMigration(layout, "add_audit_log", new Date("2999-01-01T00:00:00Z"));
    expect(result).toMatchObject({ kind: "written", statements: 1 });

    expect(await atlas.validate(layout.migrationsDir)).toEqual({ ok: true, message: "valid" });
    if (!pg) throw new Error("no server");
    await pg.createDatabase("generated");
    expect(await atlas.apply(layout.migrationsDir, pg.url("generated"))).toEqual([
      readMigrationDir(MIGRATIONS)[0].name.slice(0, 14),
      "29990101000000",
    ]);
    expect(await pg.psql("SELECT count(*) FROM audit_log;", "generated")).toBe("0");
  }, 120_000);
});

describe("why the migration Job connects to Postgres directly, never through PgBouncer", () => {
  let atlas: AtlasEngine;
  let db: RenderedPostgres | undefined;
  let bouncer: PgBouncerServer | undefined;

  beforeAll(async () => {
    atlas = await atlasEngine();
    db = await startRenderedPostgres("dev");
    const app = db.roles.app;
    // Our pgbouncer.ini (transaction mode) with a pool of one server connection.
    const pool = { ...db.config.pgbouncer, defaultPoolSize: 1, minPoolSize: 0, reservePoolSize: 0 };
    bouncer = await startPgBouncer({
      ini: pgbouncerIni({
        pool,
        databases: [{ name: "app", host: "postgres.platform.svc.cluster.local", port: 5432 }],
        authFile: "/etc/pgbouncer-auth/userlist.txt",
      }),
      userlist: userlistTxt([{ username: app.username, scramVerifier: app.scramVerifier }]),
      backend: { host: db.pg.host, port: db.pg.port },
    });
  }, 600_000);

  afterAll(async () => {
    await bouncer?.stop();
    await db?.stop();
  }, 30_000);

  function url(host: string, port: number): string {
    if (!db) throw new Error("no server");
    const { username, password } = db.roles.app;
    return `postgres://${username}:${password}@${host}:${port}/app?sslmode=disable`;
  }

  it("two direct connections exclude each other on Atlas's advisory lock", async () => {
    if (!db) throw new Error("no server");
    const direct = url(db.pg.host, db.pg.port);
    const first = await atlas.lock(direct);
    try {
      const second = await atlas.lock(direct);
      await second.release();
      console.log(`direct: first ${first.verdict}, second ${second.verdict}`);
      expect([first.verdict, second.verdict]).toEqual(["acquired", "refused"]);
    } finally {
      await first.release();
    }
  });

  it("through PgBouncer in transaction mode, a second client gets the lock too", async () => {
    if (!bouncer) throw new Error("no pgbouncer");
    const pooled = url(bouncer.host, bouncer.port);
    const first = await atlas.lock(pooled);
    try {
      // The lock belongs to the one server connection, which serves the next client as well.
      const second = await atlas.lock(pooled);
      await second.release();
      console.log(`via PgBouncer (pool of 1): first ${first.verdict}, second ${second.verdict}`);
      expect([first.verdict, second.verdict]).toEqual(["acquired", "acquired"]);
    } finally {
      await first.release();
    }
  });
});
