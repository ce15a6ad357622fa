/**
 * Schema comparison for the migration tests: `pg_dump --schema-only` of a database, reduced to a
 * sorted list of statements, and the difference between two such lists.
 */
import type { PostgresServer } from "./postgres";

/** Atlas's revisions table (atlas.hcl sets revisions_schema = "public"). */
export const REVISIONS_TABLE = "public.atlas_schema_revisions";

/** The schema of one database, without owners, privileges or Atlas's revisions table. */
export async function dumpSchema(pg: PostgresServer, db: string): Promise<string> {
  const args = ["--schema-only", "--no-owner", "--no-privileges"];
  // Atlas leaves its own revisions table out of every schema it inspects; so do we.
  const { stdout } = await pg.exec("pg_dump", [...args, `--exclude-table=${REVISIONS_TABLE}`], db);
  return stdout;
}

/**
 * A dump reduced to its statements, sorted: comments, SET lines, psql meta-commands and blank
 * lines dropped, so two dumps compare equal when the schemas do, whatever order the objects were
 * created in.
 */
export function normalise(dump: string): string[] {
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
export function drift(
  expected: readonly string[],
  actual: readonly string[],
): { missing: string[]; unexpected: string[] } {
  return {
    missing: expected.filter((s) => !actual.includes(s)),
    unexpected: actual.filter((s) => !expected.includes(s)),
  };
}

/** The normalised schema of one database. */
export async function schemaOf(pg: PostgresServer, db: string): Promise<string[]> {
  return normalise(await dumpSchema(pg, db));
}
