import { readFileSync } from "node:fs";
import * as path from "node:path";
import { readMigrationDir, SUM_FILE, validateMigrationDir } from "../../core/atlas-sum";
import { fieldError, fieldErrorIf, type FieldError } from "../../core/validation";

/**
 * Kubernetes refuses a ConfigMap over 1 MiB (etcd's object limit); stay below it with room for
 * the object's metadata, and say so at preview rather than at apply.
 */
export const MAX_CONFIGMAP_BYTES = 1_000_000;

/** The files of a migration directory as ConfigMap entries. */
export interface MigrationBundle {
  /** Text files by name (`data`). */
  data: Record<string, string>;
  /** Files that are not valid UTF-8, base64 (`binaryData`); Atlas hashes bytes, so keep them. */
  binaryData: Record<string, string>;
}

/** The `*.sql` files plus `atlas.sum`: exactly what Atlas reads. */
function bundleFiles(dir: string): { name: string; content: Buffer }[] {
  return [
    ...readMigrationDir(dir),
    { name: SUM_FILE, content: readFileSync(path.join(dir, SUM_FILE)) },
  ].map(({ name, content }) => ({
    name,
    content: Buffer.isBuffer(content) ? content : Buffer.from(content),
  }));
}

/**
 * The problems of the `dir` arg's files, read at program time: an `atlas.sum` that does not match
 * its files (what `atlas migrate apply` would refuse in the cluster, minutes later), or more bytes
 * than a ConfigMap holds. Not pure: it reads the directory, so it runs in the component only.
 */
export function migrationDirErrors(dir: string): FieldError[] {
  const result = validateMigrationDir(dir);
  if (!result.ok) {
    return [
      fieldError(
        "dir",
        `migration directory ${dir} does not pass \`atlas migrate validate\`:\n  - ` +
          result.findings.join("\n  - "),
      ),
    ];
  }
  const bytes = bundleFiles(dir).reduce((total, file) => total + file.content.length, 0);
  return fieldErrorIf(
    bytes > MAX_CONFIGMAP_BYTES,
    "dir",
    () =>
      `the migrations in ${dir} hold ${bytes} bytes, more than a ConfigMap can (${MAX_CONFIGMAP_BYTES}); ` +
      "squash old migrations with `atlas migrate checkpoint` or ship them in an image",
  );
}

/**
 * A migration directory's `*.sql` files plus `atlas.sum` as ConfigMap entries: exactly what Atlas
 * reads, so an unrelated file in the folder never starts a new Job. Check the directory with
 * {@link migrationDirErrors} first.
 */
export function readMigrationBundle(dir: string): MigrationBundle {
  const bundle: MigrationBundle = { data: {}, binaryData: {} };
  for (const { name, content } of bundleFiles(dir)) {
    const text = content.toString("utf8");
    if (Buffer.from(text, "utf8").equals(content)) bundle.data[name] = text;
    else bundle.binaryData[name] = content.toString("base64");
  }
  return bundle;
}
