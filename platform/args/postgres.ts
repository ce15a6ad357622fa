import {
  normalizedRestorePoint,
  postgresRules,
  type PostgresSettings,
  type WalArchiveArgs,
} from "../../components/postgres/args";
import type { StackProblem } from "../../stack-config/stack-rules";
import type { PlatformSettings, ValidatedConfig } from "../../stack-config/types";
import type { ComponentCheck } from "./check";
import { externalTargetOf, storeTargetProblems, type ExternalTarget } from "./store-target";

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
    appLogin: postgres.appLogin,
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
          wal: walArgs(postgres.backup.wal),
        }
      : undefined,
    restoreFrom:
      postgres.restoreFrom === undefined
        ? undefined
        : {
            point: normalizedRestorePoint(postgres.restoreFrom),
            prefix: postgres.restorePrefix ?? target.prefix,
          },
  };
}

/** The WAL archiving args, when it is on. */
function walArgs(wal: PlatformSettings["postgres"]["backup"]["wal"]): WalArchiveArgs | undefined {
  if (!wal.enabled) return undefined;
  const { enabled: _on, ...args } = wal;
  return args;
}

/** The most seconds prod allows between a commit and its WAL reaching the target. */
export const PROD_MAX_ARCHIVE_DELAY_SECONDS = 240;

/**
 * Prod's recovery point: with WAL archiving on, a commit must reach the target within 240 s plus
 * one upload, so a lost node loses at most 5 minutes.
 */
export function walArchiveProblems(
  config: Pick<ValidatedConfig, "profile" | "postgres">,
): StackProblem[] {
  const { enabled, wal } = config.postgres.backup;
  const delay = wal.archiveTimeoutSeconds + wal.uploadIntervalSeconds;
  if (config.profile !== "prod" || !enabled || !wal.enabled) return [];
  if (delay <= PROD_MAX_ARCHIVE_DELAY_SECONDS) return [];
  return [
    {
      keys: [
        "postgres.backup.wal.archiveTimeoutSeconds",
        "postgres.backup.wal.uploadIntervalSeconds",
      ],
      message:
        `archiveTimeoutSeconds + uploadIntervalSeconds is ${delay} s; prod allows at most ` +
        `${PROD_MAX_ARCHIVE_DELAY_SECONDS} s, so that a lost node loses at most 5 minutes of ` +
        `commits (one minute is left for the upload)`,
    },
  ];
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
    "backup.wal": "postgres.backup.wal",
    "restoreFrom.point": "postgres.restoreFrom",
    "restoreFrom.prefix": "postgres.restorePrefix",
    "ha.members": "postgres.ha.members",
    "ha.nodes": ["cluster.nodes", "postgres.ha.members", "postgres.ha.enabled"],
    "ha.synchronousStandbys": ["postgres.ha.synchronousStandbys", "postgres.ha.members"],
  },
};

/** The external target the backups go to, or undefined: none, or the in-cluster store. */
export function externalBackupTarget(
  config: Pick<PlatformSettings, "postgres">,
): ExternalTarget | undefined {
  const { enabled, target } = config.postgres.backup;
  return enabled ? externalTargetOf(target) : undefined;
}

const TARGET = "postgres.backup.target";

/**
 * The backup target given whole (see {@link storeTargetProblems}), and in prod, the backups leave
 * the node unless the stack accepts losing them with it.
 */
export function backupTargetProblems(
  config: Pick<ValidatedConfig, "profile" | "postgres">,
  written: (key: string) => boolean,
): StackProblem[] {
  const { enabled, target, acceptBackupsOnNode } = config.postgres.backup;
  const problems = storeTargetProblems(
    target,
    { at: TARGET, secrets: ["backupS3AccessKeyId", "backupS3SecretAccessKey"] },
    written,
  );
  const add = (key: string, message: string) => problems.push({ keys: [key], message });
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
