export {
  PGBOUNCER_DRAIN_SECONDS,
  PGBOUNCER_PRESTOP_SECONDS,
  pgbouncerRules,
  type PgBouncerArgs,
  type PgBouncerSettings,
  type PoolSettings,
} from "./args";
export {
  PGBOUNCER_ENTRYPOINT,
  PGBOUNCER_EXPORTER_PORT,
  PGBOUNCER_PORT,
  pgbouncerContainer,
  pgbouncerIni,
  STATS_USER,
  userlistTxt,
} from "./builders";
export { PgBouncer } from "./pgbouncer";
