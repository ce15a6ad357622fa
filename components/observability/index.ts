/**
 * The observability stack (`k3s-platform:observability:*`): the {@link Observability} component
 * that composes the others, each component, and the pure config builders the tests (and the
 * integration tests' real programs) read.
 */
export {
  alertRuleFiles,
  dashboardFiles,
  DEFAULT_ALERTS_DIR,
  DEFAULT_DASHBOARDS_DIR,
} from "./charts";
export {
  COMPONENTS,
  DATASOURCE_TYPES,
  DATASOURCE_UIDS,
  DEFAULT_RESOURCES,
  PORTS,
  SERVICE_NAMES,
  parseS3Endpoint,
  retentionHours,
  toYaml,
  type BucketAccess,
  type ObjectStorageArgs,
  type S3KeyPair,
} from "./common";
export {
  ANONYMOUS_ROLE,
  DASHBOARDS_DIR,
  escapeProvisioning,
  grafanaDashboardProviders,
  grafanaDatasources,
  grafanaIni,
  TRACE_TO_LOGS_QUERY,
  type GrafanaDatasourceArgs,
  type GrafanaIniArgs,
} from "./grafana-provisioning";
export { Grafana, GRAFANA_ADMIN_PASSWORD_KEY, GRAFANA_DEFAULTS, type GrafanaArgs } from "./grafana";
export { Loki, LOKI_DEFAULTS, lokiConfig, type LokiArgs, type LokiConfigArgs } from "./loki";
export {
  NodeLogCollector,
  nodeLogCollectorDaemonSet,
  type NodeLogCollectorArgs,
} from "./node-logs";
export {
  Observability,
  OBSERVABILITY_SERVICES,
  type ObservabilityArgs,
  type ObservabilityIdentities,
  type ServiceEndpoint,
} from "./observability";
export {
  collectorClusterRoleRules,
  collectorConfig,
  nodeLogCollectorConfig,
  OtelCollector,
  type CollectorExporters,
  type OtelCollectorArgs,
} from "./otel-collector";
export {
  Prometheus,
  prometheusArgs,
  prometheusClusterRoleRules,
  prometheusConfig,
  prometheusPodRoleRules,
  PROMETHEUS_DEFAULTS,
  retentionSize,
  RULES_DIR,
  type PrometheusArgs,
  type PrometheusConfigArgs,
} from "./prometheus";
export { kubeletScrapeJobs, podAnnotationMetaLabel, podScrapeJob } from "./scrape-config";
export { Tempo, TEMPO_DEFAULTS, tempoConfig, type TempoArgs, type TempoConfigArgs } from "./tempo";
