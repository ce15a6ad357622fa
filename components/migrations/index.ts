export { migrationsRules, type MigrationsArgs, type MigrationsSettings } from "./args";
export { MIGRATIONS_URL_ENV, migrationsConfigMapName, migrationsJobName } from "./builders";
export { MAX_CONFIGMAP_BYTES, migrationDirErrors, readMigrationBundle } from "./bundle";
export { Migrations } from "./migrations";
