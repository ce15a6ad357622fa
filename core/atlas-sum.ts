/**
 * Atlas's migration directory integrity file, `atlas.sum`, without the Atlas CLI.
 *
 * Mirrors ariga.io/atlas `sql/migrate/dir.go` (`LocalDir.Files`, `NewHashFile`, `HashFile.Sum`,
 * `HashFile.MarshalText`/`UnmarshalText` and `Validate`), so a directory hashed here passes
 * `atlas migrate validate` and `atlas migrate apply`, and the other way round.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** One migration file: its base name and exact bytes (hashing is byte-exact). */
export interface MigrationFile {
  name: string;
  content: string | Buffer;
}

/** One `<file> h1:<hash>` line of `atlas.sum`. */
export interface SumEntry {
  name: string;
  hash: string;
}

/** Result of {@link validateMigrationDir}: `ok` is true iff `findings` is empty. */
export interface ValidationResult {
  ok: boolean;
  findings: string[];
}

export const SUM_FILE = "atlas.sum";

/** `<14-digit UTC version>_<name>.sql`: the layout `atlas migrate new/diff` writes. */
export const MIGRATION_FILE_PATTERN = /^(\d{14})_([a-z0-9_]+)\.sql$/;

const REHASH_HINT = "run `npm run migrate:hash` (only if the change is intended)";

// Atlas honours an `atlas:sum ignore` directive on a file's first line: the file's name still
// enters the running hash, its content and its entry do not. Go's regexp without the (?m) flag
// anchors `^` at the start of the content and `[ -~]` excludes newlines, hence "first line".
const SUM_IGNORE_DIRECTIVE = /^([ -~]*)atlas:(\w+)(?: +(.+))*/;

function isSumIgnored(content: Buffer): boolean {
  const m = SUM_IGNORE_DIRECTIVE.exec(content.toString("utf8"));
  return m !== null && m[2] === "sum" && m[3] === "ignore";
}

function toBuffer(content: string | Buffer): Buffer {
  return typeof content === "string" ? Buffer.from(content, "utf8") : content;
}

// Go sorts names by bytes; localeCompare would order "A" and "a", or "_" and digits, differently.
function byName(a: MigrationFile, b: MigrationFile): number {
  return Buffer.compare(Buffer.from(a.name, "utf8"), Buffer.from(b.name, "utf8"));
}

/** The per-file entries: base64 of one running SHA-256 over name, then content, of each file. */
export function hashEntries(files: readonly MigrationFile[]): SumEntry[] {
  const running = createHash("sha256");
  const entries: SumEntry[] = [];
  for (const file of [...files].sort(byName)) {
    const content = toBuffer(file.content);
    running.update(file.name, "utf8");
    if (isSumIgnored(content)) continue;
    running.update(content);
    // copy() digests the state so far and leaves the running hash usable for the next file.
    entries.push({ name: file.name, hash: running.copy().digest("base64") });
  }
  return entries;
}

/** The first line's hash: SHA-256 over every entry's name and hash, in order. */
export function totalHash(entries: readonly SumEntry[]): string {
  const sha = createHash("sha256");
  for (const e of entries) {
    sha.update(e.name, "utf8");
    sha.update(e.hash, "utf8");
  }
  return sha.digest("base64");
}

/** Serialises entries exactly as Atlas's `HashFile.MarshalText` does. */
export function formatSum(entries: readonly SumEntry[]): string {
  const lines = entries.map((e) => `${e.name} h1:${e.hash}\n`).join("");
  return `h1:${totalHash(entries)}\n${lines}`;
}

/** The full `atlas.sum` text for these migration files. */
export function computeSum(files: readonly MigrationFile[]): string {
  return formatSum(hashEntries(files));
}

/** Parses `atlas.sum`; throws, like Atlas, on a malformed line or a wrong total. */
export function parseSum(text: string): SumEntry[] {
  const [first = "", ...rest] = text.split("\n");
  if (rest.at(-1) === "") rest.pop();
  const entries = rest.map((line, i) => {
    const at = line.indexOf("h1:");
    if (at < 0) throw new Error(`${SUM_FILE}: line ${i + 2} is not "<file> h1:<hash>"`);
    return { name: line.slice(0, at).trim(), hash: line.slice(at + 3) };
  });
  if (first.replace(/^h1:/, "") !== totalHash(entries)) {
    throw new Error(`${SUM_FILE}: its first line does not match its entries (checksum mismatch)`);
  }
  return entries;
}

/** The `*.sql` files of a migration directory, as Atlas's `LocalDir.Files` reads them. */
export function readMigrationDir(dir: string): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith(".sql"))
    .map((d) => ({ name: d.name, content: readFileSync(join(dir, d.name)) }))
    .sort(byName);
}

/** Rewrites `<dir>/atlas.sum` from the directory's current files, like `atlas migrate hash`. */
export function writeSumFile(dir: string): string {
  const text = computeSum(readMigrationDir(dir));
  writeFileSync(join(dir, SUM_FILE), text);
  return text;
}

/** File names that break Atlas's `<version>_<name>.sql` layout or share a version. */
export function layoutFindings(files: readonly MigrationFile[]): string[] {
  const findings: string[] = [];
  const byVersion = new Map<string, string[]>();
  for (const { name } of files) {
    const m = MIGRATION_FILE_PATTERN.exec(name);
    if (!m) {
      findings.push(
        `${name}: file name must be <yyyymmddhhmmss>_<name>.sql with a 14-digit UTC version ` +
          "and a [a-z0-9_] name (create migrations with `npm run migrate:new -- <name>`)",
      );
      continue;
    }
    byVersion.set(m[1], [...(byVersion.get(m[1]) ?? []), name]);
  }
  for (const [version, names] of byVersion) {
    if (names.length > 1) {
      findings.push(
        `${names.join(", ")}: version ${version} is used by ${names.length} files; ` +
          "Atlas records applied migrations by version, so give one of them a new version",
      );
    }
  }
  return findings;
}

/**
 * What changed between the entries `atlas.sum` recorded and those the files hash to now.
 *
 * Entries are running hashes, so past the first divergence every later entry differs whether or
 * not its file changed. Names added or removed are facts at any position; "edited" is claimed
 * only for the file at the first divergence when it kept its place, as Atlas's `Validate` does.
 */
export function checksumFindings(
  recorded: readonly SumEntry[],
  actual: readonly SumEntry[],
): string[] {
  const length = Math.max(recorded.length, actual.length);
  let at = 0;
  while (at < length && sameEntry(recorded[at], actual[at])) at++;
  if (at === length) return [];
  const recordedNames = new Set(recorded.map((e) => e.name));
  const actualNames = new Set(actual.map((e) => e.name));
  const changed = (name: string, how: string) =>
    `${name}: was ${how} after ${SUM_FILE} was computed; ${REHASH_HINT}`;
  const findings = [
    ...recorded.filter((e) => !actualNames.has(e.name)).map((e) => changed(e.name, "removed")),
    ...actual.filter((e) => !recordedNames.has(e.name)).map((e) => changed(e.name, "added")),
  ];
  const before = recorded[at];
  if (before !== undefined && before.name === actual[at]?.name) {
    findings.unshift(changed(before.name, "edited"));
  }
  return findings;
}

function sameEntry(a: SumEntry | undefined, b: SumEntry | undefined): boolean {
  return a !== undefined && b !== undefined && a.name === b.name && a.hash === b.hash;
}

function sumFindings(dir: string, files: readonly MigrationFile[]): string[] {
  const sumPath = join(dir, SUM_FILE);
  if (!existsSync(sumPath)) {
    // Like Atlas: an empty directory needs no sum file yet.
    if (files.length === 0) return [];
    return [
      `${SUM_FILE}: missing in ${dir}, so nothing guards the migrations against edits; ` +
        "run `npm run migrate:hash` to create it (only if the files are as intended)",
    ];
  }
  let recorded: SumEntry[];
  try {
    recorded = parseSum(readFileSync(sumPath, "utf8"));
  } catch (err) {
    return [`${(err as Error).message}; it was edited by hand or merged badly: ${REHASH_HINT}`];
  }
  return checksumFindings(recorded, hashEntries(files));
}

/**
 * Checks a migration directory the way `atlas migrate validate` does (integrity against
 * `atlas.sum`), plus the file-name layout and version uniqueness this project relies on.
 */
export function validateMigrationDir(dir: string): ValidationResult {
  if (!existsSync(dir)) return { ok: false, findings: [`${dir}: no such migration directory`] };
  const files = readMigrationDir(dir);
  const findings = [...layoutFindings(files), ...sumFindings(dir, files)];
  return { ok: findings.length === 0, findings };
}
