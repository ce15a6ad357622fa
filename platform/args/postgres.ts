import { postgresRules, type PostgresSettings } from "../../components/postgres/args";
import type { StackProblem } from "../../stack-config/stack-rules";
import type { PlatformSettings, ValidatedConfig } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * Postgres's settings from the stack config. Of `backup`, the schedule, retention and how to
 * address the target; the bucket, endpoint and keys of an in-cluster target are the object
 * store's outputs, which the Platform adds.
 */
export function argsForPostgres(config: PlatformSettings): PostgresSettings {
  const { postgres } = config;
  const { target } = postgres.backup;
  return {
    storageSize: postgres.storageSize,
    storageClass: postgres.storageClass ?? config.cluster.storageClass,
    resources: postgres.resources,
    maxConnections: postgres.maxConnections,
    superuserReservedConnections: postgres.superuserReservedConnections,
    protect: config.protectStateful,
    ha: postgres.ha.enabled
      ? {
          members: postgres.ha.members,
          nodes: config.cluster.nodes,
          synchronousMode: postgres.ha.synchronousMode,
          synchronousStandbys: postgres.ha.synchronousStandbys,
        }
      : undefined,
    backup: postgres.backup.enabled
      ? {
          schedule: postgres.backup.schedule,
          retain: postgres.backup.retain,
          prefix: target.prefix,
          ...(target.type === "s3"
            ? { region: target.region, pathStyle: target.pathStyle, caBundle: target.caBundle }
            : {}),
        }
      : undefined,
  };
}

export const postgresCheck: ComponentCheck = {
  rules: (config) => postgresRules(argsForPostgres(config)),
  keys: {
    storageSize: "postgres.storageSize",
    maxConnections: "postgres.maxConnections",
    superuserReservedConnections: "postgres.superuserReservedConnections",
    backup: "postgres.backup",
    "backup.prefix": "postgres.backup.target.prefix",
    "backup.region": "postgres.backup.target.region",
    "backup.caBundle": "postgres.backup.target.caBundle",
    "ha.members": "postgres.ha.members",
    "ha.nodes": ["cluster.nodes", "postgres.ha.members", "postgres.ha.enabled"],
    "ha.synchronousStandbys": ["postgres.ha.synchronousStandbys", "postgres.ha.members"],
  },
};

/** An external backup target, as the stack config gives it. */
export interface ExternalBackupTarget {
  endpoint: string;
  bucket: string;
  /** Host and port the uploader connects to, for its NetworkPolicy edge. */
  host: string;
  port: number;
}

/** The external target the backups go to, or undefined: none, or the in-cluster store. */
export function externalBackupTarget(
  config: Pick<PlatformSettings, "postgres">,
): ExternalBackupTarget | undefined {
  const { enabled, target } = config.postgres.backup;
  if (!enabled || target.type !== "s3" || !target.endpoint || !target.bucket) return undefined;
  const url = new URL(target.endpoint);
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { endpoint: target.endpoint, bucket: target.bucket, host: url.hostname, port };
}

/** The settings only an `s3` target reads, by their stack keys. */
const S3_ONLY = ["endpoint", "region", "bucket", "pathStyle", "caBundle"] as const;
const SECRETS = ["backupS3AccessKeyId", "backupS3SecretAccessKey"] as const;
const TARGET = "postgres.backup.target";

/**
 * The backup target given whole: an `s3` target with its endpoint, bucket and both secret keys;
 * an `in-cluster` one with none of those; and in prod, the backups leave the node unless the
 * stack accepts losing them with it. Secret keys are told apart only by whether the stack sets
 * them (`written`).
 */
export function backupTargetProblems(
  config: Pick<ValidatedConfig, "profile" | "postgres">,
  written: (key: string) => boolean,
): StackProblem[] {
  const { enabled, target, acceptBackupsOnNode } = config.postgres.backup;
  const problems: StackProblem[] = [];
  const add = (key: string, message: string) => problems.push({ keys: [key], message });
  if (target.type === "s3") {
    for (const key of ["endpoint", "bucket"] as const) {
      if (target[key] === undefined) add(`${TARGET}.${key}`, `is required with ${TARGET}.type s3`);
    }
    for (const key of SECRETS) {
      if (!written(key)) {
        add(
          key,
          `is required with ${TARGET}.type s3: \`pulumi config set --secret k3s-platform:${key} …\``,
        );
      }
    }
  } else {
    for (const key of S3_ONLY) {
      if (target[key] !== undefined) {
        add(`${TARGET}.${key}`, `is for an s3 target, but ${TARGET}.type is in-cluster`);
      }
    }
    for (const key of SECRETS.filter(written)) {
      add(key, `is set, but nothing uses it: ${TARGET}.type is in-cluster`);
    }
  }
  if (
    config.profile === "prod" &&
    enabled &&
    target.type === "in-cluster" &&
    !acceptBackupsOnNode
  ) {
    add(
      `${TARGET}.type`,
      "must be s3 in prod: an in-cluster target keeps the backups in the object store, on the " +
        "same node's disk as the database, so a lost node loses both; give an external bucket " +
        "(endpoint, bucket, backupS3AccessKeyId, backupS3SecretAccessKey), or to keep them on the " +
        "node knowingly, set postgres.backup.acceptBackupsOnNode: true",
    );
  }
  return problems;
}
