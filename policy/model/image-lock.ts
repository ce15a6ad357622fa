import { readFileSync } from "node:fs";
import * as path from "node:path";
import { canonicalImageReference, formatImageReference, isSha256Digest } from "./image-reference";

/**
 * The image lock: the `sha256:` digest each image tag pointed to when `npm run images:lock` last
 * asked its registry. The program pins every image whose tag has an entry (`repo:tag@sha256:…`),
 * and the policy pack holds a prod stack to those digests, so a re-pushed tag changes nothing
 * until the lock is refreshed and reviewed. The pack owns the file, so a published pack carries
 * the digests it was released with.
 */

/** What the lock records for one tag. */
export interface ImageLockEntry {
  /** Content digest of the tag's manifest (or index, for a multi-platform image). */
  digest: string;
  /** Media type the registry served it as, for a reviewer: index, manifest list or manifest. */
  mediaType: string;
  /** When the registry was asked (ISO 8601, UTC). */
  resolvedAt: string;
}

/** The lock, keyed by the canonical `registry/repository:tag` ({@link imageLockKey}). */
export type ImageLock = Readonly<Record<string, ImageLockEntry>>;

/** The file's shape: a version, so a later format is refused rather than misread. */
interface ImageLockFile {
  version: 1;
  images: Record<string, ImageLockEntry>;
}

/** The committed lock, beside the pack's rules. */
export const IMAGE_LOCK_FILE = path.resolve(__dirname, "..", "images.lock.json");

/** A malformed lock file: names the file and the entry. */
export class ImageLockError extends Error {
  constructor(file: string, where: string, problem: string) {
    super(`${file}: ${where} ${problem}; run \`npm run images:lock\` to rewrite it`);
    this.name = "ImageLockError";
  }
}

/**
 * The key an image's tag has in the lock: its canonical `registry/repository:tag`; none for a
 * reference without a tag (a digest alone needs no lock).
 */
export function imageLockKey(reference: string): string | undefined {
  const { registry, repository, tag } = canonicalImageReference(reference);
  return tag === undefined ? undefined : formatImageReference({ registry, repository, tag });
}

/**
 * The reference to deploy: a tag with a lock entry gains its digest (`repo:tag@sha256:…`); a
 * reference that already carries a digest, or whose tag the lock lacks, stays as given.
 */
export function pinImage(reference: string, lock: ImageLock): string {
  if (canonicalImageReference(reference).digest !== undefined) return reference;
  const key = imageLockKey(reference);
  const entry = key === undefined ? undefined : lock[key];
  return entry === undefined ? reference : `${reference}@${entry.digest}`;
}

/** Parses a lock file's text, refusing anything malformed with the file and entry named. */
export function parseImageLock(text: string, file: string): ImageLock {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ImageLockError(file, "the file", `is not JSON (${(error as Error).message})`);
  }
  if (!isRecord(data) || data.version !== 1 || !isRecord(data.images)) {
    throw new ImageLockError(file, "the file", 'must be {"version": 1, "images": {…}}');
  }
  const lock: Record<string, ImageLockEntry> = {};
  for (const [key, entry] of Object.entries(data.images)) {
    lock[key] = lockEntry(file, key, entry);
  }
  return lock;
}

function lockEntry(file: string, key: string, entry: unknown): ImageLockEntry {
  const where = `images["${key}"]`;
  if (imageLockKey(key) !== key) {
    throw new ImageLockError(file, where, `is not a canonical registry/repository:tag key`);
  }
  if (!isRecord(entry)) throw new ImageLockError(file, where, "must be an object");
  const { digest, mediaType, resolvedAt } = entry;
  if (typeof digest !== "string" || !isSha256Digest(digest)) {
    throw new ImageLockError(file, `${where}.digest`, "must be sha256:<64 lowercase hex>");
  }
  if (typeof mediaType !== "string" || mediaType === "") {
    throw new ImageLockError(file, `${where}.mediaType`, "must be the manifest's media type");
  }
  if (typeof resolvedAt !== "string" || Number.isNaN(Date.parse(resolvedAt))) {
    throw new ImageLockError(file, `${where}.resolvedAt`, "must be an ISO 8601 time");
  }
  return { digest, mediaType, resolvedAt };
}

/** Reads and checks a lock file; the committed one unless told otherwise. */
export function readImageLock(file: string = IMAGE_LOCK_FILE): ImageLock {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ImageLockError(file, "the file", `cannot be read (${(error as Error).message})`);
  }
  return parseImageLock(text, file);
}

/** The lock as its file holds it: keys sorted, so a refresh's diff shows only what moved. */
export function formatImageLock(lock: ImageLock): string {
  const images = Object.fromEntries(
    Object.keys(lock)
      .sort()
      .map((key) => [key, lock[key]]),
  );
  const file: ImageLockFile = { version: 1, images };
  return `${JSON.stringify(file, null, 2)}\n`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
