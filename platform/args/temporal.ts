import { temporalSettingsRules, type TemporalSettings } from "../../components/temporal/args";
import { TEMPORAL_SERVICES, type TemporalServiceName } from "../../components/temporal/config";
import { ingressHost } from "../../stack-config/stack-rules";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * Temporal's settings from the stack config; the Platform adds the databases (the Postgres
 * component's Service and Temporal role) and what the schema Job waits for.
 */
export function argsForTemporal(config: PlatformSettings): TemporalSettings {
  const { temporal, cluster } = config;
  return {
    numHistoryShards: temporal.numHistoryShards,
    recordedNumHistoryShards: temporal.recordedNumHistoryShards,
    separateServices: temporal.separateServices,
    // One key sizes every service. It is read only with separateServices: the all-in-one
    // Deployment (dev) runs one pod whatever temporal.replicas says (ALL_IN_ONE_REPLICAS).
    replicas: replicasPerService(temporal.replicas),
    resources: temporal.resources,
    ui: {
      ingress: {
        host: ingressHost(config, "temporal"),
        ingressClassName: cluster.ingressClass,
        tlsSecretName: cluster.tlsSecretName,
      },
      // The UI is stateless: two pods where the server is HA, one otherwise.
      replicas: temporal.separateServices ? 2 : 1,
    },
    appNamespace: temporal.namespace,
  };
}

function replicasPerService(replicas: number): Record<TemporalServiceName, number> {
  return { frontend: replicas, history: replicas, matching: replicas, worker: replicas };
}

export const temporalCheck: ComponentCheck = {
  rules: (config) => temporalSettingsRules(argsForTemporal(config)),
  keys: {
    // Both its range and the ban on changing it from recordedNumHistoryShards.
    numHistoryShards: "temporal.numHistoryShards",
    // One stack key gives every service Deployment its pods.
    ...Object.fromEntries(
      TEMPORAL_SERVICES.map((service) => [`replicas.${service}`, "temporal.replicas"]),
    ),
    // The UI's pods follow separateServices (2 or 1), so the rule cannot fail from a stack.
    "ui.replicas": "temporal.separateServices",
    "ui.ingress.host": "temporal.ui.host",
    // appNamespace.name → temporal.namespace.name, appNamespace.retentionDays → ….retentionDays.
    appNamespace: "temporal.namespace",
  },
};
