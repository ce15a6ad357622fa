import * as fs from "node:fs";
import * as path from "node:path";
import { IMAGE_NAMES, imageRef, type ImageName } from "../../core/images";
import { imageLockKey, type ImageLock, type ImageLockEntry } from "../../policy/model/image-lock";
import { PROJECT } from "../../config";
import { InputError } from "./cli";
import type { ResolvedTag } from "./registry-resolver";
import { readStackConfig } from "./stack-file";

/**
 * What `npm run images:lock` locks and how the lock changes: every image the stacks can deploy
 * (the catalogue, and each stack file's `images.*` overrides), resolved afresh, compared with
 * the lock as it was.
 */

/** One image to lock, and where it comes from (for messages and the change report). */
export interface LockTarget {
  /** The reference as the catalogue or the stack file gives it. */
  reference: string;
  /** `catalogue postgres`, `Pulumi.prod.yaml images.minio`. */
  source: string;
}

/** Every catalogue image, by its exact tag. */
export function catalogueTargets(): LockTarget[] {
  return IMAGE_NAMES.map((name) => ({ reference: imageRef(name), source: `catalogue ${name}` }));
}

/** The `images.*` overrides of every `Pulumi.<stack>.yaml` in the project directory. */
export function stackOverrideTargets(projectDir: string): LockTarget[] {
  const files = fs
    .readdirSync(projectDir)
    .filter((file) => /^Pulumi\.[^.]+(\.[^.]+)*\.yaml$/.test(file) && file !== "Pulumi.yaml")
    .sort();
  return files.flatMap((file) => overridesIn(path.join(projectDir, file)));
}

/** One stack file's overrides; anything but a map of catalogue names to strings is refused. */
export function overridesIn(file: string): LockTarget[] {
  const raw = readStackConfig(file).values[`${PROJECT}:images`];
  if (raw === undefined) return [];
  const where = `${path.basename(file)}: ${PROJECT}:images`;
  let overrides: unknown;
  try {
    overrides = JSON.parse(raw);
  } catch {
    throw new InputError(`${where} must be a map of catalogue names to image references`);
  }
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
    throw new InputError(`${where} must be a map of catalogue names to image references`);
  }
  return Object.entries(overrides).map(([name, reference]) => {
    if (!IMAGE_NAMES.includes(name as ImageName)) {
      throw new InputError(`${where}.${name} names no catalogue image (core/images.ts)`);
    }
    if (typeof reference !== "string") {
      throw new InputError(`${where}.${name} must be an image reference string`);
    }
    return { reference, source: `${path.basename(file)} images.${name}` };
  });
}

/** How the lock moved: keys added, re-pointed (with the old digest) and removed. */
export interface LockChanges {
  added: string[];
  repointed: { key: string; from: string; to: string }[];
  removed: string[];
}

/**
 * The new lock: each target's tag with the digest just resolved. An entry whose digest did not
 * move keeps its old record (so the file changes only where a tag moved), and entries no target
 * needs any more are dropped. References without a tag need no lock and are skipped.
 */
export function updatedLock(
  previous: ImageLock,
  resolved: ReadonlyMap<string, ResolvedTag>,
  resolvedAt: Date,
): { lock: ImageLock; changes: LockChanges } {
  const lock: Record<string, ImageLockEntry> = {};
  const changes: LockChanges = { added: [], repointed: [], removed: [] };
  for (const [key, tag] of resolved) {
    const before = previous[key];
    if (before !== undefined && before.digest === tag.digest) {
      lock[key] = before;
      continue;
    }
    lock[key] = { ...tag, resolvedAt: resolvedAt.toISOString() };
    if (before === undefined) changes.added.push(key);
    else changes.repointed.push({ key, from: before.digest, to: tag.digest });
  }
  changes.removed = Object.keys(previous).filter((key) => !resolved.has(key));
  return { lock, changes };
}

/** The targets by lock key, one per key: several sources may deploy the same tag. */
export function targetsByKey(targets: readonly LockTarget[]): Map<string, LockTarget> {
  const byKey = new Map<string, LockTarget>();
  for (const target of targets) {
    const key = imageLockKey(target.reference);
    if (key !== undefined && !byKey.has(key)) byKey.set(key, target);
  }
  return byKey;
}

/** The change report, one line per moved entry; says so when nothing moved. */
export function describeChanges(changes: LockChanges): string[] {
  const lines = [
    ...changes.added.map((key) => `added      ${key}`),
    ...changes.repointed.map(({ key, from, to }) => `re-pointed ${key}: ${from} -> ${to}`),
    ...changes.removed.map((key) => `removed    ${key}`),
  ];
  return lines.length > 0 ? lines : ["unchanged: every locked tag still points to its digest"];
}
