import { fieldError, type FieldError } from "../../core/validation";

/**
 * The history shard count: how many shards Temporal splits workflows over. It is set once, when
 * the cluster's database is created, so its rules also compare it with the recorded count.
 */

/** Most history shards a cluster may have. */
export const MAX_HISTORY_SHARDS = 16384;

/** Why a shard count is unusable, or undefined. */
export function shardCountProblem(numHistoryShards: number): string | undefined {
  if (
    !Number.isInteger(numHistoryShards) ||
    numHistoryShards < 1 ||
    numHistoryShards > MAX_HISTORY_SHARDS
  ) {
    return `must be a whole number from 1 to ${MAX_HISTORY_SHARDS} (got ${numHistoryShards})`;
  }
  return undefined;
}

/**
 * Why changing `numHistoryShards` from the recorded value is refused, or undefined when it is
 * unchanged (or nothing was recorded yet).
 */
export function shardChangeProblem(previous: number | undefined, next: number): string | undefined {
  if (previous === undefined || previous === next) return undefined;
  return (
    `cannot change from ${previous} to ${next}: Temporal stores the shard count in its database ` +
    `when the cluster is created and places every workflow on a shard by hashing its ID with ` +
    `that count, so a new count would strand every existing workflow. The server does not even ` +
    `refuse it: it keeps the stored count and only logs a warning. Keep ${previous}; a different ` +
    `count needs a new Temporal cluster (new databases) and a migration of the workflows`
  );
}

/**
 * Every problem with a shard count, at `numHistoryShards`: out of range, or different from the
 * count recorded when the cluster was created (when one was recorded).
 */
export function historyShardRules(
  numHistoryShards: number,
  recordedNumHistoryShards?: number,
): FieldError[] {
  return [
    shardCountProblem(numHistoryShards),
    shardChangeProblem(recordedNumHistoryShards, numHistoryShards),
  ]
    .filter((reason): reason is string => reason !== undefined)
    .map((reason) => fieldError("numHistoryShards", reason));
}
