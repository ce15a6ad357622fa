import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  computeSum,
  hashEntries,
  parseSum,
  readMigrationDir,
  validateMigrationDir,
  writeSumFile,
} from "../../core/atlas-sum";

const MIGRATIONS = resolve(__dirname, "../../atlas/migrations");

// ariga/atlas sql/migrate/testdata/partial-checkpoint: the first two files and their entries.
const PARTIAL_CHECKPOINT = [
  { name: "1_first.sql", content: "create table `tbl_1` (`col` int);\n" },
  { name: "2_second.sql", content: "create table `tbl_2` (`col` int);\n" },
];

// ariga/atlas sql/migrate/testdata/migrate: both files lack a final newline; the whole sum file.
const MIGRATE_TESTDATA = [
  { name: "1_initial.up.sql", content: "CREATE TABLE t(c int);" },
  { name: "1_initial.down.sql", content: "DROP TABLE IF EXISTS t;" },
];
const MIGRATE_TESTDATA_SUM = [
  "h1:M74RrNK69S2pj6C541LR1ew5O32/i0WoyNgsJmyuiUk=",
  "1_initial.down.sql h1:0zypK43rgPbgvVUgVJABGN25VgM1QSeU+LJDBb8cEQI=",
  "1_initial.up.sql h1:hFhs5XhRml4KTWGF5td6h1s7xNqAFnaEBbC5Y/NF7i4=",
  "",
].join("\n");

const scratch: string[] = [];

/** A temp copy of the committed migration directory, removed after the test. */
function copyOfMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), "atlas-sum-"));
  scratch.push(dir);
  cpSync(MIGRATIONS, dir, { recursive: true });
  return dir;
}

function firstMigration(dir: string): string {
  return readMigrationDir(dir)[0].name;
}

afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("atlas.sum format (Atlas's reference vectors)", () => {
  it("chains one running SHA-256 over names and contents, like Atlas's NewHashFile", () => {
    expect(hashEntries(PARTIAL_CHECKPOINT)).toEqual([
      { name: "1_first.sql", hash: "uJ2MyyeTqXx4rCqtRMQAvRrfsvdwmvsZ3LcadVvCdOc=" },
      { name: "2_second.sql", hash: "TLO00GtsqSi8o0ySoaofBqxemrElL8fHOs3IRnqYvB8=" },
    ]);
  });

  it("writes the sum file byte for byte as Atlas does, files sorted by name", () => {
    expect(computeSum(MIGRATE_TESTDATA)).toBe(MIGRATE_TESTDATA_SUM);
  });

  it("hashes a file's name but not its content when its first line says atlas:sum ignore", () => {
    const ignored = { name: "1_0.sql", content: "-- atlas:sum ignore\nanything" };
    const sum = parseSum(computeSum([ignored, ...PARTIAL_CHECKPOINT]));
    expect(sum.map((e) => e.name)).toEqual(["1_first.sql", "2_second.sql"]);
    expect(sum[0].hash).not.toBe("uJ2MyyeTqXx4rCqtRMQAvRrfsvdwmvsZ3LcadVvCdOc=");
  });

  it("rejects a sum file whose first line does not match its entries", () => {
    const tampered = MIGRATE_TESTDATA_SUM.replace("h1:M74", "h1:N74");
    expect(() => parseSum(tampered)).toThrow(/checksum mismatch/);
  });
});

describe("validateMigrationDir (atlas migrate validate)", () => {
  it("accepts the committed atlas/migrations", () => {
    expect(validateMigrationDir(MIGRATIONS)).toEqual({ ok: true, findings: [] });
    expect(readMigrationDir(MIGRATIONS).length).toBeGreaterThan(0);
  });

  it("names the file changed by a single byte and says how to rehash", () => {
    const dir = copyOfMigrations();
    const name = firstMigration(dir);
    const file = join(dir, name);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    const { ok, findings } = validateMigrationDir(dir);
    expect(ok).toBe(false);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toContain(`${name}: was edited`);
    expect(findings[0]).toContain("npm run migrate:hash");
  });

  it("names an added file", () => {
    const dir = copyOfMigrations();
    writeFileSync(join(dir, "29991231235959_extra.sql"), "SELECT 1;\n");
    const { ok, findings } = validateMigrationDir(dir);
    expect(ok).toBe(false);
    expect(findings).toEqual([expect.stringContaining("29991231235959_extra.sql: was added")]);
  });

  it("names a removed file without blaming the files after it", () => {
    const dir = copyOfMigrations();
    writeFileSync(join(dir, "29991231235958_a.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, "29991231235959_b.sql"), "SELECT 2;\n");
    writeSumFile(dir);
    unlinkSync(join(dir, "29991231235958_a.sql"));
    const { findings } = validateMigrationDir(dir);
    expect(findings).toEqual([expect.stringContaining("29991231235958_a.sql: was removed")]);
  });

  it("reports a missing atlas.sum", () => {
    const dir = copyOfMigrations();
    unlinkSync(join(dir, "atlas.sum"));
    const { ok, findings } = validateMigrationDir(dir);
    expect(ok).toBe(false);
    expect(findings).toEqual([expect.stringMatching(/^atlas\.sum: missing.*npm run migrate:hash/)]);
  });

  it("rejects names outside <14-digit version>_<name>.sql and duplicate versions", () => {
    const dir = copyOfMigrations();
    const version = firstMigration(dir).slice(0, 14);
    writeFileSync(join(dir, "1_short.sql"), "SELECT 1;\n");
    writeFileSync(join(dir, `${version}_again.sql`), "SELECT 1;\n");
    writeSumFile(dir);
    const { ok, findings } = validateMigrationDir(dir);
    expect(ok).toBe(false);
    expect(findings).toEqual([
      expect.stringContaining("1_short.sql: file name must be"),
      expect.stringContaining(`version ${version} is used by 2 files`),
    ]);
  });
});
