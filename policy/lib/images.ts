import type { StackValidationArgs } from "@pulumi/policy";
import { readImageLock, type ImageLock } from "../model/image-lock";
import type { RuleConfig } from "./rule";

export { parseImageReference } from "../model/image-reference";

/** Tags that name a moving target rather than one build. */
export const FLOATING_TAGS: ReadonlySet<string> = new Set([
  "latest",
  "stable",
  "edge",
  "nightly",
  "main",
  "master",
  "dev",
]);

const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** True for a well-formed `sha256:<64 hex>` digest. */
export function isSha256Digest(digest: string | undefined): boolean {
  return digest !== undefined && SHA256_DIGEST.test(digest);
}

/** The committed lock, read once per process: every rule of a run judges by the same file. */
let committedLock: ImageLock | undefined;

/**
 * The lock a run judges images by: the one the runner was given (a test, a stack with a lock of
 * its own), else the pack's committed `images.lock.json`.
 */
export function imageLockOf(args: Pick<StackValidationArgs, "getConfig">): ImageLock {
  const given = args.getConfig<RuleConfig>().imageLock;
  if (given !== undefined) return given;
  committedLock ??= readImageLock();
  return committedLock;
}
