import type { StackProblem } from "../../stack-config/stack-rules";
import type { ValidatedConfig } from "../../stack-config/types";

/**
 * The stack keys that send data to an S3-compatible bucket share one shape
 * (`postgres.backup.target`, `dragonfly.snapshotTarget`) and the rules here: an `s3` target is
 * given whole, and a target of another type takes none of the s3 settings.
 */

/** A target as the stack config gives it. */
export type StoreTarget = ValidatedConfig["postgres"]["backup"]["target"];

/** An external target, as its clients and their NetworkPolicy edge need it. */
export interface ExternalTarget {
  endpoint: string;
  bucket: string;
  /** Host and port the client connects to, for its NetworkPolicy edge. */
  host: string;
  port: number;
}

/** The external bucket a target names, or undefined: another type, or an incomplete one. */
export function externalTargetOf(
  target: StoreTarget | { type: string },
): ExternalTarget | undefined {
  if (target.type !== "s3") return undefined;
  const { endpoint, bucket } = target as StoreTarget;
  if (!endpoint || !bucket) return undefined;
  const url = new URL(endpoint);
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { endpoint, bucket, host: url.hostname, port };
}

/** The settings only an `s3` target reads. */
const S3_ONLY = ["endpoint", "region", "bucket", "pathStyle", "caBundle"] as const;

/** Which target is checked: its key, and the two secret keys of its credentials. */
export interface TargetKeys {
  /** The target's stack key, e.g. `postgres.backup.target`. */
  at: string;
  secrets: readonly [accessKeyId: string, secretAccessKey: string];
}

/**
 * The target given whole: an `s3` target with its endpoint, bucket and both secret keys; one of
 * another type with none of those. Secret keys are told apart only by whether the stack sets them
 * (`written`), since their values are never read here.
 */
export function storeTargetProblems(
  target: Omit<StoreTarget, "type"> & { type: string },
  keys: TargetKeys,
  written: (key: string) => boolean,
): StackProblem[] {
  const problems: StackProblem[] = [];
  const add = (key: string, message: string) => problems.push({ keys: [key], message });
  const { at, secrets } = keys;
  if (target.type === "s3") {
    for (const key of ["endpoint", "bucket"] as const) {
      if (target[key] === undefined) add(`${at}.${key}`, `is required with ${at}.type s3`);
    }
    return [...problems, ...secretKeyProblems(secrets, true, `${at}.type s3`, written)];
  }
  for (const key of S3_ONLY) {
    if (target[key] !== undefined) {
      add(`${at}.${key}`, `is for an s3 target, but ${at}.type is ${target.type}`);
    }
  }
  return [
    ...problems,
    ...secretKeyProblems(secrets, false, `${at}.type is ${target.type}`, written),
  ];
}

/**
 * The secret keys of a setting: each required while the setting uses them (`when` says with
 * what), each refused while it does not (`when` says why not). Only whether the stack writes a key
 * is read, never its value.
 */
export function secretKeyProblems(
  secrets: readonly string[],
  used: boolean,
  when: string,
  written: (key: string) => boolean,
): StackProblem[] {
  return secrets
    .filter((key) => written(key) !== used)
    .map((key) => ({
      keys: [key],
      message: used
        ? `is required with ${when}: \`pulumi config set --secret k3s-platform:${key} …\``
        : `is set, but nothing uses it: ${when}`,
    }));
}
