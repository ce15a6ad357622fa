/**
 * Atlas versioned migrations derived from the Drizzle schema, without the Atlas CLI.
 *
 *   npm run migrate:new -- <name>   next migration from atlas/schema.ts, then rehash atlas.sum
 *   npm run migrate:hash            rewrite atlas/migrations/atlas.sum (`atlas migrate hash`)
 *   npm run migrate:validate        check atlas.sum and file names (`atlas migrate validate`)
 *
 * Every command takes `--dir <atlas folder>` (default: this repository's `atlas/`).
 *
 * `new` runs `drizzle-kit generate` against the snapshots kept in `atlas/.drizzle/meta`, so it
 * emits only the delta since the last migration, and writes the SQL in Atlas's layout
 * (`migrations/<yyyymmddhhmmss>_<name>.sql`). Drizzle's own SQL files are never kept: Atlas's
 * directory is the one the cluster applies.
 *
 * Atlas runs each file in one transaction: a migration that adds an enum value cannot also use
 * it (PostgreSQL refuses an enum value added in the same transaction); split such a change in two.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import {
  MIGRATION_FILE_PATTERN,
  readMigrationDir,
  validateMigrationDir,
  writeSumFile,
} from "../core/atlas-sum";

/** Where the pieces of an atlas folder live. */
export interface AtlasLayout {
  atlasDir: string;
  schemaFile: string;
  migrationsDir: string;
  /** drizzle-kit's journal and snapshots: git-tracked, the base the next delta is taken from. */
  snapshotsDir: string;
}

export type NewMigrationResult =
  { kind: "written"; file: string; statements: number } | { kind: "unchanged" };

const NAME_PATTERN = /^[a-z0-9_]+$/;
const BREAKPOINT = "--> statement-breakpoint";
const DEFAULT_ATLAS_DIR = resolve(__dirname, "..", "atlas");

export function atlasLayout(atlasDir: string = DEFAULT_ATLAS_DIR): AtlasLayout {
  return {
    atlasDir,
    schemaFile: join(atlasDir, "schema.ts"),
    migrationsDir: join(atlasDir, "migrations"),
    snapshotsDir: join(atlasDir, ".drizzle", "meta"),
  };
}

/** Atlas's version format (Go layout `20060102150405`) for an instant, in UTC. */
export function formatVersion(at: Date): string {
  return at.toISOString().replace(/\D/g, "").slice(0, 14);
}

function parseVersion(version: string): Date {
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((i, n) =>
    Number(version.slice(i, n === 0 ? 4 : i + 2)),
  );
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/**
 * The version for a migration created at `now`: its UTC timestamp, or one second past the
 * newest existing version when the clock is behind it, because Atlas applies files in name
 * order and a new file sorting before an applied one would be refused as out of order.
 */
export function nextVersion(existing: readonly string[], now: Date): string {
  const latest = [...existing].sort().at(-1);
  const candidate = formatVersion(now);
  if (latest === undefined || candidate > latest) return candidate;
  return formatVersion(new Date(parseVersion(latest).getTime() + 1000));
}

/** Drizzle's statement list as an Atlas migration file: no breakpoint markers, one per block. */
export function toAtlasSql(drizzleSql: string, header: readonly string[] = []): string {
  const statements = splitStatements(drizzleSql);
  const comments = header.map((line) => `-- ${line}\n`).join("");
  return `${comments}${comments ? "\n" : ""}${statements.join("\n\n")}\n`;
}

export function splitStatements(drizzleSql: string): string[] {
  return drizzleSql
    .split(BREAKPOINT)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function drizzleKitBin(): string {
  // drizzle-kit's package exports do not expose bin.cjs; it sits beside the main entry.
  return join(dirname(require.resolve("drizzle-kit")), "bin.cjs");
}

/** `drizzle-kit export`: the whole schema as SQL, the reference the migrations must reach. */
export function exportSchemaSql(schemaFile: string): string {
  const run = spawnSync(
    process.execPath,
    [drizzleKitBin(), "export", "--dialect", "postgresql", "--schema", schemaFile],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  // drizzle-kit reports some failures on stderr and still exits 0.
  if (run.status !== 0 || run.stderr.trim() !== "") {
    throw new Error(`drizzle-kit export failed:\n${run.stderr || run.stdout}`);
  }
  return run.stdout;
}

interface GenerateOutcome {
  /** The generated SQL, or undefined when drizzle-kit found no change. */
  sql?: string;
  stderr: string;
}

/** `drizzle-kit generate`, run in `cwd`; a terminal is handed through for its rename prompts. */
function runDrizzleGenerate(layout: AtlasLayout, name: string, cwd: string): string {
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const args = ["generate", "--dialect", "postgresql", "--schema", layout.schemaFile];
  // A relative out folder: drizzle-kit 0.31 prefixes it with "./", which breaks absolute ones.
  args.push("--out", "drizzle", "--name", name);
  const run = spawnSync(process.execPath, [drizzleKitBin(), ...args], {
    cwd,
    encoding: "utf8",
    // Without a terminal drizzle-kit refuses (on stderr) to ask whether a change is a rename.
    stdio: [interactive ? "inherit" : "ignore", interactive ? "inherit" : "pipe", "pipe"],
  });
  if (run.status !== 0) throw new Error(`drizzle-kit generate failed:\n${run.stderr}`);
  return run.stderr;
}

/** Generates the delta in a scratch folder seeded with the tracked snapshots. */
function generateInScratch(layout: AtlasLayout, name: string, scratch: string): GenerateOutcome {
  const out = join(scratch, "drizzle");
  if (existsSync(layout.snapshotsDir)) {
    cpSync(layout.snapshotsDir, join(out, "meta"), { recursive: true });
  }
  const stderr = runDrizzleGenerate(layout, name, scratch);
  // Only drizzle-kit's new file can be here: the seeded folder holds no SQL.
  const generated = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith(".sql")) : [];
  if (generated.length > 0) return { sql: readFileSync(join(out, generated[0]), "utf8"), stderr };
  // drizzle-kit exits 0 even when it fails; its errors are what tell "failed" from "no change".
  if (stderr.trim() !== "") throw new Error(`drizzle-kit generate failed:\n${stderr}`);
  return { stderr };
}

async function writeSnapshots(from: string, to: string): Promise<void> {
  // Snapshots are committed and `prettier --check .` reads them: store them formatted.
  const prettier = await import("prettier");
  rmSync(to, { recursive: true, force: true });
  cpSync(from, to, { recursive: true });
  for (const file of readdirSync(to).filter((f) => f.endsWith(".json"))) {
    const path = join(to, file);
    const options = (await prettier.resolveConfig(path)) ?? {};
    writeFileSync(
      path,
      await prettier.format(readFileSync(path, "utf8"), { ...options, filepath: path }),
    );
  }
}

function prepareForNew(layout: AtlasLayout, name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new Error(`migration name "${name}" must match [a-z0-9_]+ (e.g. add_deployment_digest)`);
  }
  mkdirSync(layout.migrationsDir, { recursive: true });
  const check = validateMigrationDir(layout.migrationsDir);
  if (!check.ok) {
    throw new Error(`fix the migration directory first:\n  ${check.findings.join("\n  ")}`);
  }
  const hasMigrations = readMigrationDir(layout.migrationsDir).length > 0;
  const hasSnapshots =
    existsSync(layout.snapshotsDir) &&
    readdirSync(layout.snapshotsDir).some((f) => f.endsWith("_snapshot.json"));
  if (hasMigrations && !hasSnapshots) {
    // Without the snapshot drizzle-kit would diff against an empty database and re-create
    // every table in the new migration.
    throw new Error(`${layout.snapshotsDir} has no drizzle-kit snapshot; restore it from git`);
  }
}

/** `migrate:new`: writes the next migration, or nothing when the schema has not changed. */
export async function newMigration(
  layout: AtlasLayout,
  name: string,
  now: Date = new Date(),
): Promise<NewMigrationResult> {
  prepareForNew(layout, name);
  const scratch = mkdtempSync(join(tmpdir(), "migrate-new-"));
  try {
    const outcome = generateInScratch(layout, name, scratch);
    if (outcome.stderr.trim() !== "") process.stderr.write(outcome.stderr);
    if (outcome.sql === undefined) return { kind: "unchanged" };
    const versions = readMigrationDir(layout.migrationsDir)
      .map((f) => MIGRATION_FILE_PATTERN.exec(f.name)?.[1])
      .filter((v): v is string => v !== undefined);
    const file = join(layout.migrationsDir, `${nextVersion(versions, now)}_${name}.sql`);
    const header = [
      `Generated by \`npm run migrate:new -- ${name}\` from schema.ts (drizzle-kit generate).`,
      "Change schema.ts and generate a new migration; an edited file fails migrate:validate.",
    ];
    writeFileSync(file, toAtlasSql(outcome.sql, header));
    await writeSnapshots(join(scratch, "drizzle", "meta"), layout.snapshotsDir);
    writeSumFile(layout.migrationsDir);
    return { kind: "written", file, statements: splitStatements(outcome.sql).length };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface CliArgs {
  command: string | undefined;
  positional: string[];
  atlasDir: string;
}

function parseArgs(argv: readonly string[]): CliArgs {
  const positional: string[] = [];
  let atlasDir = DEFAULT_ATLAS_DIR;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--dir") atlasDir = resolve(argv[++i] ?? "");
    else positional.push(argv[i]);
  }
  const [command, ...rest] = positional;
  return { command, positional: rest, atlasDir };
}

const USAGE = "usage: tsx tools/migrate.ts <new <name> | hash | validate> [--dir <atlas folder>]";

async function runNew(layout: AtlasLayout, name: string | undefined): Promise<number> {
  if (name === undefined) {
    console.error(`missing migration name: npm run migrate:new -- <name>\n${USAGE}`);
    return 2;
  }
  const result = await newMigration(layout, name);
  if (result.kind === "unchanged") {
    console.log("No schema changes in schema.ts since the last migration: nothing written.");
    return 0;
  }
  console.log(
    `Wrote ${relative(process.cwd(), result.file)} (${result.statements} statements) and rehashed atlas.sum.`,
  );
  return 0;
}

function runValidate(layout: AtlasLayout): number {
  const { ok, findings } = validateMigrationDir(layout.migrationsDir);
  if (ok) {
    console.log(`${layout.migrationsDir}: atlas.sum and file names are valid.`);
    return 0;
  }
  console.error(`${layout.migrationsDir} is not valid:\n  ${findings.join("\n  ")}`);
  return 1;
}

/** The CLI; returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const { command, positional, atlasDir } = parseArgs(argv);
  const layout = atlasLayout(atlasDir);
  try {
    switch (command) {
      case "new":
        return await runNew(layout, positional[0]);
      case "hash":
        writeSumFile(layout.migrationsDir);
        console.log(`Rehashed ${join(layout.migrationsDir, "atlas.sum")}.`);
        return 0;
      case "validate":
        return runValidate(layout);
      default:
        console.error(USAGE);
        return 2;
    }
  } catch (err) {
    console.error(`migrate ${command}: ${(err as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
