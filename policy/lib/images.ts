import type { StackValidationArgs } from "@pulumi/policy";
import { readImageLock, type ImageLock } from "../model/image-lock";
import type { RuleConfig } from "./rule";

export { FLOATING_TAGS, isSha256Digest, parseImageReference } from "../model/image-reference";

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
