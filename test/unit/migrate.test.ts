import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeSum, readMigrationDir, validateMigrationDir } from "../../core/atlas-sum";
import { nextVersion, toAtlasSql } from "../../tools/migrate";

const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");

/** Runs the real CLI the npm scripts run, on a given atlas folder. */
function migrate(atlasDir: string, ...args: string[]) {
  const r = spawnSync(TSX, [join(ROOT, "tools", "migrate.ts"), ...args, "--dir", atlasDir], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Everything under a folder, path → content, to prove a command wrote nothing. */
function snapshotTree(dir: string): Record<string, string> {
  const tree: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    tree[path.slice(dir.length)] = readFileSync(path, "utf8");
  }
  return tree;
}

/** A migration file's statements, without the comment header. */
function statements(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n\n")
    .map((block) => block.trim())
    .filter((block) => block !== "" && !block.startsWith("--"));
}

describe("npm run migrate:new on a copy of atlas/", () => {
  let work: string;
  let atlasDir: string;
  let migrations: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "migrate-new-test-"));
    atlasDir = join(work, "atlas");
    migrations = join(atlasDir, "migrations");
    cpSync(join(ROOT, "atlas"), atlasDir, { recursive: true });
    // schema.ts imports drizzle-orm, resolved from the folders above it.
    symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"), "dir");
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("writes only the ALTER for an added column, in Atlas's layout, and rehashes", () => {
    const before = readMigrationDir(migrations).map((f) => f.name);
    const schema = join(atlasDir, "schema.ts");
    const source = readFileSync(schema, "utf8");
    const anchor = '    image: text("image").notNull(),\n';
    expect(source).toContain(anchor);
    writeFileSync(
      schema,
      source.replace(anchor, `${anchor}    imageDigest: text("image_digest"),\n`),
    );

    const run = migrate(atlasDir, "new", "add_image_digest");
    expect(run.output).toContain("Wrote");
    expect(run.status).toBe(0);

    const added = readMigrationDir(migrations).filter((f) => !before.includes(f.name));
    expect(added.map((f) => f.name)).toEqual([
      expect.stringMatching(/^\d{14}_add_image_digest\.sql$/),
    ]);
    const file = join(migrations, added[0].name);
    expect(statements(file)).toEqual(['ALTER TABLE "deployments" ADD COLUMN "image_digest" text;']);
    expect(readFileSync(file, "utf8")).not.toContain("statement-breakpoint");
    expect(readFileSync(join(migrations, "atlas.sum"), "utf8")).toBe(
      computeSum(readMigrationDir(migrations)),
    );
    expect(validateMigrationDir(migrations)).toEqual({ ok: true, findings: [] });
    expect(readdirSync(join(atlasDir, ".drizzle", "meta"))).toContain("0001_snapshot.json");
  }, 60_000);

  it("says so and writes nothing when the schema has not changed since", () => {
    const before = snapshotTree(atlasDir);
    const run = migrate(atlasDir, "new", "nothing_to_do");
    expect(run.status).toBe(0);
    expect(run.output).toContain("No schema changes");
    expect(snapshotTree(atlasDir)).toEqual(before);
  }, 60_000);

  it("refuses a name outside [a-z0-9_]+ and writes nothing", () => {
    const before = snapshotTree(atlasDir);
    const run = migrate(atlasDir, "new", "Add-Column");
    expect(run.status).not.toBe(0);
    expect(run.output).toContain("[a-z0-9_]+");
    expect(snapshotTree(atlasDir)).toEqual(before);
  }, 60_000);

  it("migrate:validate exits non-zero naming an edited file; migrate:hash accepts it", () => {
    const [first] = readMigrationDir(migrations);
    writeFileSync(join(migrations, first.name), `${first.content.toString()}-- edited\n`);
    const failed = migrate(atlasDir, "validate");
    expect(failed.status).toBe(1);
    expect(failed.output).toContain(`${first.name}: was edited`);
    expect(migrate(atlasDir, "new", "blocked").status).toBe(1);

    expect(migrate(atlasDir, "hash").status).toBe(0);
    expect(migrate(atlasDir, "validate").status).toBe(0);
  }, 60_000);
});

describe("migration file layout", () => {
  it("strips drizzle's statement breakpoints and separates statements by a blank line", () => {
    const drizzle =
      'CREATE TYPE "a" AS ENUM(\'x\');--> statement-breakpoint\nCREATE TABLE "t" (\n\t"id" int\n);';
    expect(toAtlasSql(drizzle, ["header"])).toBe(
      '-- header\n\nCREATE TYPE "a" AS ENUM(\'x\');\n\nCREATE TABLE "t" (\n\t"id" int\n);\n',
    );
  });

  it("versions by UTC time, never sorting before an existing migration", () => {
    const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(nextVersion([], now)).toBe("20260102030405");
    expect(nextVersion(["20260102030405"], now)).toBe("20260102030406");
    expect(nextVersion(["20261231235959"], now)).toBe("20270101000000");
  });
});
