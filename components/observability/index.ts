/**
 * The observability stack (`k3s-platform:observability:*`): the {@link Observability} component
 * that composes the others, each component with its args and rules, and the pure config builders
 * the tests (and the integration tests' real programs) read.
 */
export { Alertmanager } from "./alertmanager";
export {
  ALERT_SEVERITIES,
  alertmanagerArgs,
  alertmanagerConfig,
  BLACKHOLE_RECEIVER,
  NODE_DOWN_ALERT,
  RECEIVER_KINDS,
  RECEIVER_SECRETS_DIR,
  receiverPorts,
  type AlertSeverity,
  type ReceiverKind,
  type ReceiverSpec,
} from "./alertmanager-config";
export {
  alertmanagerRules,
  grafanaRules,
  kubeStateMetricsRules,
  lokiRules,
  objectStorageRules,
  observabilityRules,
  otelCollectorRules,
  prometheusRules,
  tempoRules,
  type AlertmanagerArgs,
  type AlertReceiverArgs,
  type GrafanaArgs,
  type KubeStateMetricsArgs,
  type LokiArgs,
  type NodeLogCollectorArgs,
  type ObjectStorageArgs,
  type ObservabilityArgs,
  type OtelCollectorArgs,
  type PrometheusArgs,
  type TempoArgs,
} from "./args";
export {
  BACKUP_MAX_AGE_SERIES,
  BACKUP_RULE_FILE,
  backupRuleFile,
  type BackupSchedule,
} from "./backup-rules";
export { alertRuleFiles, dashboardFiles, DEFAULT_ALERTS_DIR } from "./charts";
export {
  collectorClusterRoleRules,
  collectorConfig,
  nodeLogCollectorConfig,
} from "./collector-config";
export {
  DATASOURCE_TYPES,
  DATASOURCE_UIDS,
  PORTS,
  parseS3Endpoint,
  retentionHours,
  toYaml,
} from "./common";
export { Grafana } from "./grafana";
export {
  escapeProvisioning,
  grafanaDatasources,
  grafanaIni,
  TRACE_TO_LOGS_QUERY,
} from "./grafana-provisioning";
export {
  KUBE_STATE_METRICS_LABELS,
  KUBE_STATE_METRICS_RESOURCES,
  KubeStateMetrics,
  kubeStateMetricsArgs,
  kubeStateMetricsRoleRules,
} from "./kube-state-metrics";
export { Loki } from "./loki";
export { lokiConfig } from "./loki-config";
export { NodeLogCollector } from "./node-logs";
export { Observability } from "./observability";
export { OtelCollector } from "./otel-collector";
export { Prometheus } from "./prometheus";
export {
  alertmanagerTargets,
  prometheusArgs,
  prometheusClusterRoleRules,
  prometheusConfig,
  prometheusPodRoleRules,
  retentionSize,
  RULES_DIR,
} from "./prometheus-config";
export { Tempo } from "./tempo";
export { tempoConfig } from "./tempo-config";
