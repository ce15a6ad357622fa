/** The Postgres component: the class, its args and rules, and the builders tests and tools read. */
export {
  POSTGRES_MAX_CONNECTIONS,
  postgresRules,
  resolveBackupArgs,
  type PostgresArgs,
  type PostgresRestoreArgs,
  type WalArchiveArgs,
  type PostgresBackupArgs,
  type PostgresBackupSettings,
  type PostgresSettings,
} from "./args";
export {
  BACKUP_RUN_DEADLINE_SECONDS,
  backupDumpScript,
  backupUploadScript,
  targetEnvironment,
  uploaderEnvironment,
} from "./backup";
export { baseBackupScript, baseBackupUploadScript } from "./base-backup";
export { restoreApplyScript, restoreFetchScript, restorePointEnvironment } from "./restore";
export { walArchiveSettings, walUploadScript } from "./wal-archive";
export { POSTGRES_EXPORTER_PORT, type RoleCredentials } from "./builders";
export { pgHbaConf, POSTGRES_PORT, postgresqlConf, type SettingValue } from "./config";
export {
  BACKUP_ROLE_NAME,
  initSql,
  PLATFORM_ROLE_NAMES,
  platformRoles,
  type PlatformRoleName,
} from "./init";
export { haRules, type PostgresHaArgs } from "./ha-args";
export { PATRONI_RULES, PATRONI_CONFIG_FILE } from "./ha";
export { PATRONI_API_PORT, PATRONI_ENV, patroniConfig, patroniYaml } from "./patroni";
export { Postgres } from "./postgres";
