import { SCRAPE_ANNOTATIONS } from "../lib/scrape";

/**
 * Prometheus scrape jobs. The pod job honours exactly the annotations of `lib/scrape.ts`: it
 * derives the meta label names from {@link SCRAPE_ANNOTATIONS}, so renaming an annotation there
 * renames it here.
 */

/** The service-account files every pod with a mounted token has. */
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The `__meta_kubernetes_pod_annotation_<name>` label Kubernetes discovery gives an annotation:
 * every character outside `[a-zA-Z0-9_]` becomes `_`.
 */
export function podAnnotationMetaLabel(annotation: string): string {
  return `__meta_kubernetes_pod_annotation_${annotation.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

/** Name of the annotated-pods job. */
export const POD_JOB = "kubernetes-pods";

/**
 * Every pod in the given namespaces that carries `prometheus.io/scrape: "true"`, at the pod IP on
 * `prometheus.io/port` and the path `prometheus.io/path`. Discovery yields one target per
 * container port; they all rewrite to the same address, and Prometheus keeps one of equal targets.
 */
export function podScrapeJob(namespaces: string[]): Record<string, unknown> {
  const scrape = podAnnotationMetaLabel(SCRAPE_ANNOTATIONS.scrape);
  const port = podAnnotationMetaLabel(SCRAPE_ANNOTATIONS.port);
  const path = podAnnotationMetaLabel(SCRAPE_ANNOTATIONS.path);
  return {
    job_name: POD_JOB,
    kubernetes_sd_configs: [{ role: "pod", namespaces: { names: namespaces } }],
    relabel_configs: [
      { source_labels: [scrape], action: "keep", regex: "true" },
      // Init containers have come and gone; finished Job pods are not down, just done.
      { source_labels: ["__meta_kubernetes_pod_container_init"], action: "drop", regex: "true" },
      { source_labels: ["__meta_kubernetes_pod_phase"], action: "drop", regex: "Succeeded|Failed" },
      { source_labels: [path], action: "replace", regex: "(.+)", target_label: "__metrics_path__" },
      {
        source_labels: [port, "__meta_kubernetes_pod_ip"],
        action: "replace",
        regex: "(\\d+);(\\d+\\.\\d+\\.\\d+\\.\\d+)",
        replacement: "$2:$1",
        target_label: "__address__",
      },
      {
        source_labels: [port, "__meta_kubernetes_pod_ip"],
        action: "replace",
        regex: "(\\d+);([0-9A-Fa-f:]+)",
        replacement: "[$2]:$1",
        target_label: "__address__",
      },
      { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
      { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
      { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: "node" },
      {
        source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
        target_label: "app",
      },
      {
        source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_component"],
        target_label: "component",
      },
    ],
  };
}

/** Metrics kept from the kubelet's own endpoint: PVC usage. */
export const KUBELET_METRICS = "kubelet_volume_stats_(available|capacity|used)_bytes";
/** Metrics kept from cAdvisor: container starts (restarts), CPU and memory per container. */
export const CADVISOR_METRICS =
  "container_start_time_seconds|container_cpu_usage_seconds_total|container_memory_working_set_bytes";

/**
 * The kubelet of each node, over HTTPS with Prometheus's token, verified against the cluster CA
 * (K3s signs kubelet serving certificates with the same server CA the token's `ca.crt` holds).
 * Only the few series the alerts and dashboards use are kept: cAdvisor alone exposes thousands.
 */
export function kubeletScrapeJobs(): Record<string, unknown>[] {
  const common = {
    scheme: "https",
    kubernetes_sd_configs: [{ role: "node" }],
    authorization: { credentials_file: `${SA_DIR}/token` },
    tls_config: { ca_file: `${SA_DIR}/ca.crt` },
    relabel_configs: [{ source_labels: ["__meta_kubernetes_node_name"], target_label: "node" }],
  };
  const keep = (regex: string) => [{ source_labels: ["__name__"], action: "keep", regex }];
  return [
    { job_name: "kubelet", ...common, metric_relabel_configs: keep(KUBELET_METRICS) },
    {
      job_name: "kubelet-cadvisor",
      ...common,
      metrics_path: "/metrics/cadvisor",
      metric_relabel_configs: keep(CADVISOR_METRICS),
    },
  ];
}

/** Name of the kube-state-metrics job. */
export const KUBE_STATE_METRICS_JOB = "kube-state-metrics";

/** The pods the kube-state-metrics job scrapes: their namespace and the labels that pick them. */
export interface KubeStateMetricsTarget {
  namespace: string;
  /** Pod labels, all of which must match (the workload's selector). */
  selector: Record<string, string>;
  /** The container port of its metrics. */
  port: number;
}

/**
 * kube-state-metrics, found by its pods' labels (its pods carry no scrape annotation, so the pod
 * job leaves it alone). `honor_labels`: the `namespace`, `job_name` and `cronjob` of each series
 * are the reported object's, and must not be renamed `exported_*` by target labels; the alerts
 * aggregate the exporter's own `pod` and `instance` away.
 */
export function kubeStateMetricsScrapeJob(target: KubeStateMetricsTarget): Record<string, unknown> {
  const podLabel = (key: string) =>
    `__meta_kubernetes_pod_label_${key.replace(/[^a-zA-Z0-9_]/g, "_")}`;
  const selected = Object.keys(target.selector).sort();
  return {
    job_name: KUBE_STATE_METRICS_JOB,
    honor_labels: true,
    kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [target.namespace] } }],
    relabel_configs: [
      {
        source_labels: [...selected.map(podLabel), "__meta_kubernetes_pod_container_port_number"],
        action: "keep",
        regex: [...selected.map((key) => escapeRegex(target.selector[key])), target.port].join(";"),
      },
      { source_labels: ["__meta_kubernetes_pod_phase"], action: "keep", regex: "Running" },
      // For `up` and TargetDown; a reported object's own `namespace` wins (honor_labels).
      { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
      { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
    ],
  };
}

/** A label value as a regex that matches it and nothing else. */
function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
