export {
  ALL_IN_ONE_REPLICAS,
  TEMPORAL_UI_LOCAL_URL,
  temporalRules,
  temporalSettingsRules,
  type TemporalArgs,
  type TemporalIdentities,
  type TemporalPostgres,
  type TemporalSettings,
  type TemporalUiOidc,
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
export { HEALTH_SERVICES, TEMPORAL_UI_PORT, UI_CALLBACK_PATH } from "./server";
export { shardChangeProblem } from "./shards";
export { Temporal } from "./temporal";
