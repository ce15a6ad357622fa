import { migrationsRules, type MigrationsSettings } from "../../components/migrations/args";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * The Migrations' settings: the stack config sets none of them, so every documented default
 * applies. The Platform adds the direct Postgres URL and the StatefulSet to wait for.
 */
export function argsForMigrations(_config: PlatformSettings): MigrationsSettings {
  return {};
}

export const migrationsCheck: ComponentCheck = {
  rules: (config) => migrationsRules(argsForMigrations(config)),
  // No argument comes from a stack key: the documented defaults pass the rules.
  keys: {},
};
