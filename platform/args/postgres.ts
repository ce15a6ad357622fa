import { postgresRules, type PostgresSettings } from "../../components/postgres/args";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * Postgres's settings from the stack config. Of `backup`, only the schedule and retention: the
 * bucket, endpoint and keys are the object store's outputs, which the Platform adds.
 */
export function argsForPostgres(config: PlatformSettings): PostgresSettings {
  const { postgres } = config;
  return {
    storageSize: postgres.storageSize,
    storageClass: postgres.storageClass ?? config.cluster.storageClass,
    resources: postgres.resources,
    maxConnections: postgres.maxConnections,
    superuserReservedConnections: postgres.superuserReservedConnections,
    protect: config.protectStateful,
    backup: postgres.backup.enabled
      ? { schedule: postgres.backup.schedule, retain: postgres.backup.retain }
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
  },
};
