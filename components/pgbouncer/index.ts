export {
  pgbouncerRules,
  type PgBouncerArgs,
  type PgBouncerSettings,
  type PoolSettings,
} from "./args";
export {
  PGBOUNCER_EXPORTER_PORT,
  PGBOUNCER_PORT,
  pgbouncerIni,
  STATS_USER,
  userlistTxt,
} from "./builders";
export { PgBouncer } from "./pgbouncer";
