import { parseQuantity } from "../../core/quantity";
import { PORTS, type RbacRule } from "./common";
import {
  kubeletScrapeJobs,
  kubeStateMetricsScrapeJob,
  podScrapeJob,
  type KubeStateMetricsTarget,
} from "./scrape-config";

/** Prometheus's `prometheus.yml`, command line and RBAC rules: pure functions of their inputs. */

/** Where the rule files are mounted. */
export const RULES_DIR = "/etc/prometheus/rules";
/** The TSDB directory (the PVC). */
export const PROMETHEUS_DATA_DIR = "/prometheus";
/** Share of the volume the TSDB may fill before the oldest blocks go, whatever their age. */
export const RETENTION_SIZE_SHARE = 0.85;

/** What {@link prometheusConfig} is built from. */
export interface PrometheusConfigArgs {
  /** How often targets are scraped and rules evaluated, e.g. `30s`. */
  scrapeInterval: string;
  /** Namespaces whose annotated pods are scraped. */
  scrapeNamespaces: string[];
  /** How long samples are kept, in hours (`360h`). */
  retention: string;
  /** Most bytes the TSDB may hold, e.g. `17408MB` (base 2). */
  retentionSize: string;
  /** Rule file names, mounted under {@link RULES_DIR}. */
  ruleFiles: string[];
  /** `host:port` of each Alertmanager the firing alerts go to. @default none */
  alertmanagers?: string[];
  /** The kube-state-metrics pods, scraped by a job of their own. @default none */
  kubeStateMetrics?: KubeStateMetricsTarget;
}

/**
 * Resource attributes of OTLP metrics kept as labels. `service.name`/`service.namespace` and
 * `service.instance.id` already become `job` and `instance`; these add where the data came from,
 * so the dashboards can filter on namespace, pod and workload.
 */
export const PROMOTED_RESOURCE_ATTRIBUTES = [
  "deployment.environment.name",
  "k8s.namespace.name",
  "k8s.pod.name",
  "k8s.node.name",
  "k8s.deployment.name",
  "k8s.statefulset.name",
  "k8s.daemonset.name",
  "k8s.job.name",
];

/**
 * `prometheus.yml`. Scrape jobs: annotated pods (the `lib/scrape` convention), the kubelet on
 * each node (volume stats, cAdvisor container starts) and kube-state-metrics (Jobs, CronJobs). None for the control-plane parts K3s embeds
 * in its own process (API server, scheduler, controller manager, etcd, kube-proxy): they have no
 * endpoint of their own, and jobs for them only raise false "down" alerts.
 */
export function prometheusConfig(args: PrometheusConfigArgs): Record<string, unknown> {
  return {
    global: { scrape_interval: args.scrapeInterval, evaluation_interval: args.scrapeInterval },
    rule_files: args.ruleFiles.map((file) => `${RULES_DIR}/${file}`),
    ...(args.alertmanagers?.length
      ? { alerting: { alertmanagers: [alertmanagerTargets(args.alertmanagers)] } }
      : {}),
    otlp: {
      promote_resource_attributes: PROMOTED_RESOURCE_ATTRIBUTES,
      keep_identifying_resource_attributes: true,
    },
    storage: {
      tsdb: {
        retention: { time: args.retention, size: args.retentionSize },
        // OTLP senders batch and retry, so samples can arrive a little late.
        out_of_order_time_window: "30m",
      },
    },
    scrape_configs: [
      podScrapeJob(args.scrapeNamespaces),
      ...kubeletScrapeJobs(),
      ...(args.kubeStateMetrics ? [kubeStateMetricsScrapeJob(args.kubeStateMetrics)] : []),
    ],
  };
}

/**
 * The Alertmanagers by their Service's address: one Service, one replica, so no discovery (and no
 * API rights) is needed. v2 is the only API Alertmanager still serves.
 */
export function alertmanagerTargets(addresses: string[]): Record<string, unknown> {
  return { api_version: "v2", static_configs: [{ targets: addresses }] };
}

/** `--storage.tsdb.retention.size` equivalent: a share of the volume, in MiB (Prometheus's MB). */
export function retentionSize(storageSize: string): string {
  return `${Math.floor((parseQuantity(storageSize) * RETENTION_SIZE_SHARE) / 2 ** 20)}MB`;
}

/** The command line: OTLP and remote-write receivers on (collector, Tempo's generator). */
export function prometheusArgs(): string[] {
  return [
    "--config.file=/etc/prometheus/prometheus.yml",
    `--storage.tsdb.path=${PROMETHEUS_DATA_DIR}`,
    `--web.listen-address=:${PORTS.prometheusHttp}`,
    "--web.enable-otlp-receiver",
    "--web.enable-remote-write-receiver",
    // Tempo's span metrics carry trace IDs as exemplars; Grafana links them to traces.
    "--enable-feature=exemplar-storage",
  ];
}

/**
 * Cluster-wide rights: node discovery and the kubelet's `/metrics` and `/metrics/cadvisor` (the
 * kubelet authorizes both as `nodes/metrics`). Nothing else is cluster-wide.
 */
export function prometheusClusterRoleRules(): RbacRule[] {
  return [
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
  ];
}

/** Pod discovery, granted per scraped namespace by a Role: pods only, read only. */
export function prometheusPodRoleRules(): RbacRule[] {
  return [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }];
}
