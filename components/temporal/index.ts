export {
  ALL_IN_ONE_REPLICAS,
  temporalRules,
  temporalSettingsRules,
  type TemporalArgs,
  type TemporalIdentities,
  type TemporalPostgres,
  type TemporalSettings,
} from "./args";
export { serverLayout, type ServerPart } from "./builders";
export {
  MEMBERSHIP_PORT_LIMIT,
  renderConfigTemplate,
  TEMPORAL_METRICS_PORT,
  TEMPORAL_PORTS,
  TEMPORAL_SERVICES,
  temporalConnectionCount,
  temporalDynamicConfig,
  temporalServerConfig,
  type TemporalServerConfigArgs,
  type TemporalServiceName,
  type TemporalSqlConnections,
} from "./config";
export { namespaceScript, temporalSchemaScript } from "./jobs";
export { HEALTH_SERVICES, TEMPORAL_UI_PORT } from "./server";
export { shardChangeProblem } from "./shards";
export { Temporal } from "./temporal";
