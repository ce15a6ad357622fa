/** The Postgres component: the class, its args and outputs, and the pure builders it uses. */
export {
  Postgres,
  PGDATA,
  POSTGRES_EXPORTER_PORT,
  POSTGRES_PORT,
  type PostgresArgs,
  type RoleCredentials,
} from "./component";
export {
  memorySettings,
  pgHbaConf,
  postgresqlConf,
  postgresSettings,
  type PostgresConfArgs,
  type SettingValue,
} from "./config";
export {
  APP_ROLE,
  EXPORTER_ROLE,
  TEMPORAL_ROLE,
  backupRole,
  initSql,
  platformRoles,
  type RoleSpec,
} from "./init";
export {
  BACKUP_DIR,
  backupCronJobSpec,
  backupDumpScript,
  backupUploadScript,
  type PostgresBackupArgs,
} from "./backup";
