/**
 * The committed Atlas migrations, applied in order to a real PostgreSQL 15 by Atlas's own engine
 * (`migrate.Executor` with its Postgres statement scanner, one transaction per file, revisions in
 * `atlas_schema_revisions`; see lib/atlas-engine.ts), must produce exactly the schema drizzle-kit
 * exports from atlas/schema.ts (applied to a second server).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readMigrationDir, writeSumFile } from "../../core/atlas-sum";
import { exportSchemaSql } from "../../tools/migrate";
import { atlasEngine } from "./lib/atlas-engine";
import type { AtlasEngine } from "./lib/atlas-engine";
import { startPostgres } from "./lib/postgres";
import type { PostgresServer } from "./lib/postgres";
import { REVISIONS_TABLE, drift, schemaOf } from "./lib/schema-dump";

const ROOT = resolve(__dirname, "../..");
const MIGRATIONS = join(ROOT, "atlas", "migrations");
const SCHEMA = join(ROOT, "atlas", "schema.ts");

// The reference (drizzle-kit's export) in one transaction, stopping at the first error.
const PSQL_TX = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"];

describe("Atlas migrations against the Drizzle schema, on PostgreSQL 15", () => {
  let atlas: AtlasEngine;
  let migrated: PostgresServer;
  let exported: PostgresServer;
  let reference: string[];
  const scratch: string[] = [];

  /** A temp copy of atlas/migrations, removed in afterAll. */
  function copyOfMigrations(): string {
    const dir = mkdtempSync(join(tmpdir(), "migrations-"));
    scratch.push(dir);
    cpSync(MIGRATIONS, dir, { recursive: true });
    return dir;
  }

  /** `atlas migrate apply` of `dir` to a database of the migrated server. */
  const apply = (db: string, dir = MIGRATIONS) => atlas.apply(dir, migrated.url(db));

  beforeAll(async () => {
    // Start both before failing on either, so afterAll can stop whichever did start.
    const [a, b] = await Promise.allSettled([startPostgres(), startPostgres()]);
    if (a.status === "fulfilled") migrated = a.value;
    if (b.status === "fulfilled") exported = b.value;
    for (const r of [a, b]) if (r.status === "rejected") throw r.reason;
    // A cold build of the engine takes minutes; a cached one, none.
    atlas = await atlasEngine();

    await exported.createDatabase("app");
    const exportFile = join(mkdtempSync(join(tmpdir(), "drizzle-export-")), "schema.sql");
    scratch.push(resolve(exportFile, ".."));
    writeFileSync(exportFile, exportSchemaSql(SCHEMA));
    await exported.exec("psql", [...PSQL_TX, "-f", exportFile], "app");
    reference = await schemaOf(exported, "app");
  }, 600_000);

  afterAll(async () => {
    await Promise.allSettled([migrated?.stop(), exported?.stop()]);
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("applying every migration in order yields the schema drizzle-kit exports", async () => {
    await migrated.createDatabase("app");
    const applied = await apply("app");
    expect(applied).toEqual(readMigrationDir(MIGRATIONS).map((f) => f.name.slice(0, 14)));

    expect(reference.some((s) => s.startsWith("CREATE TABLE public.deployments ("))).toBe(true);
    expect(drift(reference, await schemaOf(migrated, "app"))).toEqual({
      missing: [],
      unexpected: [],
    });
  }, 60_000);

  it("a second apply finds nothing pending and changes nothing", async () => {
    const revisionsQuery = `SELECT version, hash, applied, total, executed_at FROM ${REVISIONS_TABLE};`;
    const before = await schemaOf(migrated, "app");
    const revisions = await migrated.psql(revisionsQuery, "app");

    expect(await apply("app")).toEqual([]);
    expect(await schemaOf(migrated, "app")).toEqual(before);
    expect(await migrated.psql(revisionsQuery, "app")).toBe(revisions);
  }, 60_000);

  it("the comparison catches a migration that drifts from the Drizzle schema", async () => {
    const dir = copyOfMigrations();
    writeFileSync(
      join(dir, "29991231235959_drift.sql"),
      'ALTER TABLE "users" ADD COLUMN "nickname" text;\n',
    );
    writeSumFile(dir);
    await migrated.createDatabase("drift");
    expect(await apply("drift", dir)).toContain("29991231235959");

    const { missing, unexpected } = drift(reference, await schemaOf(migrated, "drift"));
    expect(missing).toEqual([expect.stringMatching(/^CREATE TABLE public\.users \(/)]);
    expect(unexpected).toEqual([expect.stringContaining("nickname text")]);
  }, 60_000);

  it("refuses an edited migration directory before touching the database", async () => {
    const dir = copyOfMigrations();
    const [first] = readMigrationDir(dir);
    writeFileSync(join(dir, first.name), `${readFileSync(join(dir, first.name), "utf8")} `);
    await migrated.createDatabase("edited");

    await expect(apply("edited", dir)).rejects.toThrow(
      `checksum mismatch: ${first.name} was edited`,
    );
    expect(
      await migrated.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public';", "edited"),
    ).toBe("0");
  }, 60_000);

  it("the migrated schema keeps the rules the app relies on", async () => {
    const sha = "a".repeat(40);
    const rules = `
      INSERT INTO users (id, email, name) VALUES ('00000000-0000-0000-0000-000000000001', 'a@x', 'A');
      INSERT INTO users (id, email, name) VALUES ('00000000-0000-0000-0000-000000000002', 'b@x', 'B');
      INSERT INTO pipelines (id, owner_id, name, repo_url)
        VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001', 'p', 'https://git/x');
      INSERT INTO pipeline_runs (pipeline_id, commit_sha, triggered_by)
        VALUES ('00000000-0000-0000-0000-00000000000a', '${sha}', '00000000-0000-0000-0000-000000000002');
      DELETE FROM users WHERE email = 'b@x';
      SELECT status || ',' || coalesce(triggered_by::text, 'null') FROM pipeline_runs;
      DELETE FROM users WHERE email = 'a@x';
      SELECT count(*) FROM pipeline_runs;`;
    expect((await migrated.psql(rules, "app")).split("\n")).toEqual(["queued,null", "0"]);

    const badSha = `INSERT INTO pipeline_runs (pipeline_id, commit_sha) VALUES (gen_random_uuid(), 'HEAD');`;
    await expect(migrated.psql(badSha, "app")).rejects.toThrow(/pipeline_runs_commit_sha_check/);
  }, 60_000);
});
