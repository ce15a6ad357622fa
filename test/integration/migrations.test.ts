/**
 * The committed Atlas migrations, applied in order to a real PostgreSQL 15, must produce exactly
 * the schema drizzle-kit exports from atlas/schema.ts (applied to a second server).
 *
 * The applier below follows `atlas migrate apply`'s rules: it refuses a directory that fails
 * validation, runs each file in its own transaction (psql --single-transaction, stop on the
 * first error), records each applied version in a revisions table inside that transaction, and
 * applies only files past the last recorded version, refusing gaps (Atlas's linear order).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MIGRATION_FILE_PATTERN,
  hashEntries,
  readMigrationDir,
  validateMigrationDir,
  writeSumFile,
} from "../../tools/lib/atlas-sum";
import { exportSchemaSql } from "../../tools/migrate";
import { startPostgres } from "./lib/postgres";
import type { PostgresServer } from "./lib/postgres";

const ROOT = resolve(__dirname, "../..");
const MIGRATIONS = join(ROOT, "atlas", "migrations");
const SCHEMA = join(ROOT, "atlas", "schema.ts");
// atlas.hcl sets revisions_schema = "public"; the table name is Atlas's.
const REVISIONS = "public.atlas_schema_revisions";

// How `atlas migrate apply` runs a file by default: one transaction, stop at the first error.
const PSQL_TX = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"];

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function ensureRevisionsTable(pg: PostgresServer, db: string): Promise<void> {
  // The columns of Atlas's table that this applier needs; Atlas's own has a few more.
  await pg.psql(
    `CREATE TABLE IF NOT EXISTS ${REVISIONS} (
       version varchar PRIMARY KEY,
       description varchar NOT NULL,
       hash varchar NOT NULL,
       executed_at timestamptz NOT NULL DEFAULT now()
     );`,
    db,
  );
}

/** Applies the pending migrations of `dir` to `db`; returns the versions it applied. */
async function applyMigrations(pg: PostgresServer, db: string, dir: string): Promise<string[]> {
  const check = validateMigrationDir(dir);
  if (!check.ok) throw new Error(`migration directory is not valid:\n${check.findings.join("\n")}`);
  await ensureRevisionsTable(pg, db);
  const applied = (await pg.psql(`SELECT version FROM ${REVISIONS} ORDER BY version;`, db))
    .split("\n")
    .filter((v) => v !== "");
  const last = applied.at(-1) ?? "";
  const hashes = new Map(hashEntries(readMigrationDir(dir)).map((e) => [e.name, e.hash]));
  const files = readMigrationDir(dir).map((f) => {
    const [, version, description] = MIGRATION_FILE_PATTERN.exec(f.name) ?? [];
    return { name: f.name, version, description, hash: hashes.get(f.name) ?? "" };
  });
  const gaps = files.filter((f) => f.version <= last && !applied.includes(f.version));
  if (gaps.length > 0) {
    throw new Error(`out of order (Atlas's linear mode): ${gaps.map((f) => f.name).join(", ")}`);
  }
  const pending = files.filter((f) => f.version > last);
  for (const f of pending) {
    const record =
      `INSERT INTO ${REVISIONS} (version, description, hash) ` +
      `VALUES (${quote(f.version)}, ${quote(f.description)}, ${quote(f.hash)});`;
    await pg.exec("psql", [...PSQL_TX, "-f", join(dir, f.name), "-c", record], db);
  }
  return pending.map((f) => f.version);
}

async function dumpSchema(pg: PostgresServer, db: string): Promise<string> {
  const args = ["--schema-only", "--no-owner", "--no-privileges"];
  // Atlas leaves its own revisions table out of every schema it inspects; so do we.
  const { stdout } = await pg.exec("pg_dump", [...args, `--exclude-table=${REVISIONS}`], db);
  return stdout;
}

/**
 * A dump reduced to its statements, sorted: comments, SET lines, psql meta-commands and blank
 * lines dropped, so
 * two dumps compare equal when the schemas do, whatever order the objects were created in.
 */
function normalise(dump: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  for (const line of dump.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("--") || /^SET /.test(trimmed)) continue;
    // pg_dump 15.14+ fences its output with \restrict <random key>: a psql command, not schema.
    if (/^\\(un)?restrict\b/.test(trimmed)) continue;
    if (trimmed.startsWith("SELECT pg_catalog.set_config(")) continue;
    current.push(line.trimEnd());
    if (trimmed.endsWith(";")) {
      statements.push(current.join("\n"));
      current = [];
    }
  }
  if (current.length > 0) statements.push(current.join("\n"));
  return statements.sort();
}

/** Statements present on one side only: what a schema comparison failure would print. */
function drift(expected: string[], actual: string[]): { missing: string[]; unexpected: string[] } {
  return {
    missing: expected.filter((s) => !actual.includes(s)),
    unexpected: actual.filter((s) => !expected.includes(s)),
  };
}

describe("Atlas migrations against the Drizzle schema, on PostgreSQL 15", () => {
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

  beforeAll(async () => {
    // Start both before failing on either, so afterAll can stop whichever did start.
    const [a, b] = await Promise.allSettled([startPostgres(), startPostgres()]);
    if (a.status === "fulfilled") migrated = a.value;
    if (b.status === "fulfilled") exported = b.value;
    for (const r of [a, b]) if (r.status === "rejected") throw r.reason;

    await exported.createDatabase("app");
    const exportFile = join(mkdtempSync(join(tmpdir(), "drizzle-export-")), "schema.sql");
    scratch.push(resolve(exportFile, ".."));
    writeFileSync(exportFile, exportSchemaSql(SCHEMA));
    await exported.exec("psql", [...PSQL_TX, "-f", exportFile], "app");
    reference = normalise(await dumpSchema(exported, "app"));
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([migrated?.stop(), exported?.stop()]);
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("applying every migration in order yields the schema drizzle-kit exports", async () => {
    await migrated.createDatabase("app");
    const applied = await applyMigrations(migrated, "app", MIGRATIONS);
    expect(applied).toHaveLength(readMigrationDir(MIGRATIONS).length);

    expect(reference.some((s) => s.startsWith("CREATE TABLE public.deployments ("))).toBe(true);
    expect(drift(reference, normalise(await dumpSchema(migrated, "app")))).toEqual({
      missing: [],
      unexpected: [],
    });
  }, 60_000);

  it("a second apply finds nothing pending and changes nothing", async () => {
    const before = normalise(await dumpSchema(migrated, "app"));
    const revisions = await migrated.psql(`SELECT version, hash FROM ${REVISIONS};`, "app");

    expect(await applyMigrations(migrated, "app", MIGRATIONS)).toEqual([]);
    expect(normalise(await dumpSchema(migrated, "app"))).toEqual(before);
    expect(await migrated.psql(`SELECT version, hash FROM ${REVISIONS};`, "app")).toBe(revisions);
  }, 60_000);

  it("the comparison catches a migration that drifts from the Drizzle schema", async () => {
    const dir = copyOfMigrations();
    writeFileSync(
      join(dir, "29991231235959_drift.sql"),
      'ALTER TABLE "users" ADD COLUMN "nickname" text;\n',
    );
    writeSumFile(dir);
    await migrated.createDatabase("drift");
    await applyMigrations(migrated, "drift", dir);

    const { missing, unexpected } = drift(
      reference,
      normalise(await dumpSchema(migrated, "drift")),
    );
    expect(missing).toEqual([expect.stringMatching(/^CREATE TABLE public\.users \(/)]);
    expect(unexpected).toEqual([expect.stringContaining("nickname text")]);
  }, 60_000);

  it("refuses an edited migration directory before touching the database", async () => {
    const dir = copyOfMigrations();
    const [first] = readMigrationDir(dir);
    writeFileSync(join(dir, first.name), `${readFileSync(join(dir, first.name), "utf8")} `);
    await migrated.createDatabase("edited");

    await expect(applyMigrations(migrated, "edited", dir)).rejects.toThrow(
      `${first.name}: was edited`,
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
