import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../core/labels";
import { check, probesFor } from "../lib/probes";
import { parseQuantity, QUANTITY_PATTERN } from "../../core/quantity";
import { objectMeta } from "../lib/workload";
import {
  DEFAULT_RESOURCES,
  identityOf,
  PORTS,
  retentionHours,
  toYaml,
  type RbacRule,
} from "./common";
import { kubeletScrapeJobs, podScrapeJob } from "./scrape-config";
import { storeWorkload, type StoreArgs } from "./store";

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
 * `prometheus.yml`. Scrape jobs: annotated pods (the `lib/scrape` convention) and the kubelet on
 * each node (volume stats, cAdvisor container starts). None for the control-plane parts K3s embeds
 * in its own process (API server, scheduler, controller manager, etcd, kube-proxy): they have no
 * endpoint of their own, and jobs for them only raise false "down" alerts.
 */
export function prometheusConfig(args: PrometheusConfigArgs): Record<string, unknown> {
  return {
    global: { scrape_interval: args.scrapeInterval, evaluation_interval: args.scrapeInterval },
    rule_files: args.ruleFiles.map((file) => `${RULES_DIR}/${file}`),
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
    scrape_configs: [podScrapeJob(args.scrapeNamespaces), ...kubeletScrapeJobs()],
  };
}

/** `--storage.tsdb.retention.size` equivalent: a share of the volume, in MiB (Prometheus's MB). */
export function retentionSize(storageSize: string): string {
  if (!QUANTITY_PATTERN.test(storageSize)) {
    throw new pulumi.InputPropertyError({
      propertyPath: "storageSize",
      reason: `must be a quantity such as 20Gi (got "${storageSize}")`,
    });
  }
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

/** Arguments of a {@link Prometheus}. */
export interface PrometheusArgs extends StoreArgs {
  /** How long samples are kept: `360h`, `15d`, `2w`. @default "15d" */
  retention?: string;
  /** Size of the TSDB volume; 85% of it caps the TSDB. @default "20Gi" */
  storageSize?: string;
  /** Scrape and rule evaluation interval. @default "30s" */
  scrapeInterval?: string;
  /** Namespaces whose annotated pods are scraped. @default [namespace] */
  scrapeNamespaces?: pulumi.Input<string>[];
  /** Rule files by name (`charts/alerts/*.yaml`), loaded from a ConfigMap. @default none */
  ruleFiles?: Record<string, string>;
}

/** Prometheus's defaults, in one place. */
export const PROMETHEUS_DEFAULTS = {
  retention: "15d",
  storageSize: "20Gi",
  scrapeInterval: "30s",
} as const;

/**
 * Prometheus 3: scrapes annotated pods and the kubelets, receives OTLP metrics from the collector
 * and remote writes from Tempo's metrics-generator, and evaluates the platform's alert rules.
 */
export class Prometheus extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:9090`: the query API and UI. */
  public readonly url: pulumi.Output<string>;
  /** `…/api/v1/otlp`: the OTLP receiver (the exporter appends `/v1/metrics`). */
  public readonly otlpUrl: pulumi.Output<string>;
  /** `…/api/v1/write`: the remote-write receiver. */
  public readonly remoteWriteUrl: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: PrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Prometheus", name, {}, opts);
    const retention = retentionHours("retention", args.retention ?? PROMETHEUS_DEFAULTS.retention);
    const storageSize = args.storageSize ?? PROMETHEUS_DEFAULTS.storageSize;
    const image = args.image ?? imageRef("prometheus");
    this.identity = identityOf("prometheus", args.instance ?? name, tagOf(image));
    const labels = labelsFor(this.identity);
    const ns = args.namespace;
    const ruleFiles = args.ruleFiles ?? {};
    const scrapeNamespaces = args.scrapeNamespaces ?? [ns];

    const rules = new k8s.core.v1.ConfigMap(
      `${name}-rules`,
      { metadata: objectMeta(`${name}-rules`, ns, this.identity), data: ruleFiles },
      { parent: this },
    );
    const configText = pulumi.all(scrapeNamespaces).apply((namespaces) =>
      toYaml(
        prometheusConfig({
          scrapeInterval: args.scrapeInterval ?? PROMETHEUS_DEFAULTS.scrapeInterval,
          scrapeNamespaces: namespaces,
          retention,
          retentionSize: retentionSize(storageSize),
          ruleFiles: Object.keys(ruleFiles).sort(),
        }),
      ),
    );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: { "prometheus.yml": configText },
      },
      { parent: this },
    );

    const account = new k8s.core.v1.ServiceAccount(
      name,
      { metadata: objectMeta(name, ns, this.identity), automountServiceAccountToken: false },
      { parent: this },
    );
    const subjects = [{ kind: "ServiceAccount", name: account.metadata.name, namespace: ns }];
    const clusterName = pulumi.interpolate`${ns}-${name}`;
    const clusterRole = new k8s.rbac.v1.ClusterRole(
      `${name}-nodes`,
      { metadata: { name: clusterName, labels }, rules: prometheusClusterRoleRules() },
      { parent: this },
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-nodes`,
      {
        metadata: { name: clusterName, labels },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: clusterRole.metadata.name,
        },
        subjects,
      },
      { parent: this },
    );
    scrapeNamespaces.forEach((scraped, index) => {
      const roleName = `${name}-pods-${index}`;
      const role = new k8s.rbac.v1.Role(
        roleName,
        {
          metadata: { name: `${name}-pods`, namespace: scraped, labels },
          rules: prometheusPodRoleRules(),
        },
        { parent: this },
      );
      new k8s.rbac.v1.RoleBinding(
        roleName,
        {
          metadata: { name: `${name}-pods`, namespace: scraped, labels },
          roleRef: {
            apiGroup: "rbac.authorization.k8s.io",
            kind: "Role",
            name: role.metadata.name,
          },
          subjects,
        },
        { parent: this },
      );
    });

    const store = storeWorkload(this, name, {
      namespace: ns,
      identity: this.identity,
      image,
      args: prometheusArgs(),
      ports: [{ name: "http", port: PORTS.prometheusHttp }],
      resources: args.resources ?? DEFAULT_RESOURCES.prometheus,
      // A large TSDB replays its WAL before /-/ready; /-/healthy answers as soon as it runs.
      probes: probesFor(check.http("/-/ready", "http"), {
        liveness: check.http("/-/healthy", "http"),
        startupSeconds: 600,
      }),
      configMount: { configMapName: config.metadata.name, mountPath: "/etc/prometheus" },
      extraVolumes: [
        {
          volume: { name: "rules", configMap: { name: rules.metadata.name } },
          mountPath: RULES_DIR,
        },
      ],
      dataDir: PROMETHEUS_DATA_DIR,
      runAsUser: IMAGES.prometheus.uid,
      storageSize,
      storageClass: args.storageClass,
      serviceAccountName: account.metadata.name,
      // Kubernetes service discovery and the kubelet scrape use its token (KUBERNETES_API_USERS).
      automountServiceAccountToken: true,
      // Without --web.enable-lifecycle, a new config or rule file takes effect by a restart.
      configHashOf: [config.data, rules.data],
      scrapePort: PORTS.prometheusHttp,
      protect: args.protect ?? false,
    });
    this.statefulSet = store.statefulSet;

    this.service = store.service.metadata.name;
    this.host = store.host;
    this.url = pulumi.interpolate`http://${this.host}:${PORTS.prometheusHttp}`;
    this.otlpUrl = pulumi.interpolate`${this.url}/api/v1/otlp`;
    this.remoteWriteUrl = pulumi.interpolate`${this.url}/api/v1/write`;
    this.registerOutputs({
      service: this.service,
      host: this.host,
      url: this.url,
      otlpUrl: this.otlpUrl,
      remoteWriteUrl: this.remoteWriteUrl,
    });
  }
}
