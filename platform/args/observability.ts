import type { ReceiverSpec } from "../../components/observability/alertmanager-config";
import {
  observabilityRules,
  type AlertmanagerArgs,
  type ObservabilityArgs,
} from "../../components/observability/args";
import type { Settings } from "../../core/validation";
import { ingressHost } from "../../stack-config/stack-rules";
import type { StackProblem } from "../../stack-config/stack-rules";
import type { PlatformSettings, ValidatedConfig } from "../../stack-config/types";
import type { ComponentCheck } from "./check";
import { secretKeyProblems } from "./store-target";

/** Alertmanager's settings without the receivers' credentials, which only the Platform holds. */
export type AlertmanagerSettings = Omit<
  NonNullable<ObservabilityArgs["alertmanager"]>,
  "receivers"
> &
  Pick<AlertmanagerArgs, "groupBy" | "groupInterval"> & { receivers: ReceiverSpec[] };

/** The stack's receivers, by name, as Alertmanager's receivers. */
function receiverSpecs(config: PlatformSettings): ReceiverSpec[] {
  return Object.entries(config.observability.alerting.receivers).map(([name, receiver]) => {
    const { kind, severities, sendResolved } = receiver;
    const common = { name, kind, severities, sendResolved };
    switch (receiver.kind) {
      case "webhook":
        return { ...common, port: receiver.port };
      case "slack":
        return { ...common, channel: receiver.channel };
      case "email": {
        const { to, from, smarthost, username, requireTls } = receiver;
        return { ...common, email: { to, from, smarthost, username, requireTls } };
      }
    }
  });
}

/**
 * The Observability stack's settings. Its object storage (prod) is the ObjectStore's endpoint,
 * buckets and key pairs, which exist only at run time, and the receivers' credentials, which are
 * secret outputs: the Platform adds both.
 */
export function argsForObservability(config: PlatformSettings): Omit<
  Settings<ObservabilityArgs>,
  "objectStorage" | "alertmanager"
> & {
  alertmanager: AlertmanagerSettings;
} {
  const { observability, cluster } = config;
  const { retention, storage, grafana, alerting } = observability;
  return {
    alertmanager: {
      receivers: receiverSpecs(config),
      groupBy: alerting.groupBy,
      groupInterval: alerting.groupInterval,
    },
    storageClass: cluster.storageClass,
    protect: config.protectStateful,
    nodeLogs: { enabled: observability.nodeLogs },
    collector: { replicas: observability.collectorReplicas },
    kubeStateMetrics: { replicas: observability.kubeStateMetricsReplicas },
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
  rules: (config) => {
    const settings = argsForObservability(config);
    // The rules read no credential: a placeholder stands in for each (the schema checks them).
    const receivers = settings.alertmanager.receivers.map((spec) => ({ ...spec, credential: "" }));
    return observabilityRules({
      ...settings,
      alertmanager: { ...settings.alertmanager, receivers },
    });
  },
  keys: {
    "collector.replicas": "observability.collectorReplicas",
    "kubeStateMetrics.replicas": "observability.kubeStateMetricsReplicas",
    "tempo.retention": "observability.retention.traces",
    "tempo.storageSize": "observability.storage.tempo",
    "loki.retention": "observability.retention.logs",
    "loki.storageSize": "observability.storage.loki",
    "prometheus.retention": "observability.retention.metrics",
    "prometheus.storageSize": "observability.storage.prometheus",
    "grafana.ingress.host": "observability.grafana.host",
    "grafana.storageSize": "observability.storage.grafana",
    "alertmanager.receivers": "observability.alerting.receivers",
    "alertmanager.groupBy": "observability.alerting.groupBy",
    "alertmanager.groupInterval": "observability.alerting.groupInterval",
  },
};

const TELEMETRY_SECRETS = ["telemetryS3AccessKeyId", "telemetryS3SecretAccessKey"] as const;
const TARGET = "observability.objectStorageTarget";

/**
 * Loki's and Tempo's storage given whole: the external target only with object storage on, an
 * `s3` backup target whose endpoint it shares (without a private CA, which neither is given),
 * buckets of their own and a key pair of their own; the in-cluster one with none of those.
 */
export function telemetryStorageProblems(
  config: Pick<ValidatedConfig, "observability" | "postgres">,
  written: (key: string) => boolean,
): StackProblem[] {
  const { objectStorage, objectStorageTarget, externalBuckets } = config.observability;
  const problems: StackProblem[] = [];
  const add = (key: string, message: string) => problems.push({ keys: [key], message });
  if (objectStorageTarget === "in-cluster") {
    if (externalBuckets) {
      add("observability.externalBuckets", `is for ${TARGET} backup-target, but it is in-cluster`);
    }
    return [
      ...problems,
      ...secretKeyProblems(TELEMETRY_SECRETS, false, `${TARGET} is in-cluster`, written),
    ];
  }
  const target = config.postgres.backup.target;
  if (!objectStorage) {
    add(TARGET, "is backup-target, but observability.objectStorage is false: nothing is stored");
  }
  if (target.type !== "s3") {
    add(TARGET, "is backup-target, which needs postgres.backup.target.type s3 (its endpoint)");
  } else if (target.caBundle !== undefined) {
    add(
      TARGET,
      "cannot be backup-target while postgres.backup.target.caBundle is set: Loki and Tempo are given no private CA",
    );
  }
  if (!externalBuckets) {
    add("observability.externalBuckets", `is required with ${TARGET} backup-target (loki, tempo)`);
  } else {
    const names = [externalBuckets.loki, externalBuckets.tempo, target.bucket].filter(
      (name): name is string => name !== undefined,
    );
    if (new Set(names).size < names.length) {
      add(
        "observability.externalBuckets",
        `must name two buckets of their own, apart from each other and from the backups' ` +
          `(postgres.backup.target.bucket): a consumer's retention deletes in its whole bucket`,
      );
    }
  }
  return [
    ...problems,
    ...secretKeyProblems(TELEMETRY_SECRETS, true, `${TARGET} backup-target`, written),
  ];
}
