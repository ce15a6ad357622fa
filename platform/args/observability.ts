import { observabilityRules, type ObservabilityArgs } from "../../components/observability/args";
import type { Settings } from "../../core/validation";
import { ingressHost } from "../../stack-config/stack-rules";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * The Observability stack's settings. Its object storage (prod) is the ObjectStore's endpoint,
 * buckets and key pairs, which exist only at run time: the Platform adds it.
 */
export function argsForObservability(
  config: PlatformSettings,
): Omit<Settings<ObservabilityArgs>, "objectStorage"> {
  const { observability, cluster } = config;
  const { retention, storage, grafana } = observability;
  return {
    storageClass: cluster.storageClass,
    protect: config.protectStateful,
    nodeLogs: { enabled: observability.nodeLogs },
    collector: { replicas: observability.collectorReplicas },
    tempo: { retention: retention.traces, storageSize: storage.tempo },
    loki: { retention: retention.logs, storageSize: storage.loki },
    prometheus: { retention: retention.metrics, storageSize: storage.prometheus },
    grafana: {
      ingress: {
        host: ingressHost(config, "grafana"),
        ingressClassName: cluster.ingressClass,
        tlsSecretName: cluster.tlsSecretName,
      },
      anonymousViewer: grafana.anonymousViewer,
      storageSize: storage.grafana,
    },
  };
}

export const observabilityCheck: ComponentCheck = {
  rules: (config) => observabilityRules(argsForObservability(config)),
  keys: {
    "collector.replicas": "observability.collectorReplicas",
    "tempo.retention": "observability.retention.traces",
    "tempo.storageSize": "observability.storage.tempo",
    "loki.retention": "observability.retention.logs",
    "loki.storageSize": "observability.storage.loki",
    "prometheus.retention": "observability.retention.metrics",
    "prometheus.storageSize": "observability.storage.prometheus",
    "grafana.ingress.host": "observability.grafana.host",
    "grafana.storageSize": "observability.storage.grafana",
  },
};
