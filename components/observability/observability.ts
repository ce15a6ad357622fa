import * as pulumi from "@pulumi/pulumi";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { nestedErrors } from "../../core/validation";
import { s3SecretKeys, type S3KeyPair as GivenS3KeyPair } from "../lib/s3";
import type { SecretKey } from "../lib/secrets";
import { assertValidArgs } from "../lib/validation";
import {
  OBJECT_STORAGE_DEFAULTS,
  objectStorageRules,
  observabilityRules,
  type ObjectBucket,
  type ObjectStorageArgs,
  type ObservabilityArgs,
  type S3KeyPair,
} from "./args";
import { Alertmanager } from "./alertmanager";
import { alertRuleFiles, dashboardFiles } from "./charts";
import {
  identityOf,
  PORTS,
  SERVICE_NAMES,
  parseS3Endpoint,
  shortServiceHost,
  type ObservabilityWorkload,
} from "./common";
import { backupRuleFile, BACKUP_RULE_FILE } from "./backup-rules";
import { Grafana } from "./grafana";
import { KubeStateMetrics } from "./kube-state-metrics";
import { Loki } from "./loki";
import { NodeLogCollector } from "./node-logs";
import { OtelCollector } from "./otel-collector";
import { Prometheus } from "./prometheus";
import { Tempo } from "./tempo";

/** A workload's Service and the container ports its pods serve, for clients and policies. */
export interface ServiceEndpoint {
  /** Service name. */
  name: string;
  /** Container ports by name (policies match container ports); `metrics` is scrape-only. */
  ports: Record<string, number>;
}

/** The identity of each workload, for network policy selectors. */
export type ObservabilityIdentities = Record<ObservabilityWorkload, WorkloadIdentity>;

/** The Services and the ports behind them, as the stack creates them. */
export const OBSERVABILITY_SERVICES: Record<
  Exclude<ObservabilityWorkload, "nodeLogCollector" | "kubeStateMetrics">,
  ServiceEndpoint
> = {
  collector: {
    name: SERVICE_NAMES.collector,
    ports: {
      "otlp-grpc": PORTS.otlpGrpc,
      "otlp-http": PORTS.otlpHttp,
      metrics: PORTS.collectorMetrics,
    },
  },
  tempo: {
    name: SERVICE_NAMES.tempo,
    ports: { http: PORTS.tempoHttp, "otlp-grpc": PORTS.otlpGrpc, "otlp-http": PORTS.otlpHttp },
  },
  loki: { name: SERVICE_NAMES.loki, ports: { http: PORTS.lokiHttp } },
  prometheus: { name: SERVICE_NAMES.prometheus, ports: { http: PORTS.prometheusHttp } },
  grafana: { name: SERVICE_NAMES.grafana, ports: { http: PORTS.grafanaHttp } },
  alertmanager: { name: SERVICE_NAMES.alertmanager, ports: { http: PORTS.alertmanagerHttp } },
};

/** What every component of the stack gets: where it is placed and, for stores, its volume. */
interface Placement {
  base: { namespace: pulumi.Input<string>; instance: string };
  stateful: { storageClass?: pulumi.Input<string>; protect: boolean };
  parent: { parent: pulumi.Resource };
}

/**
 * The observability stack: an OTel Collector gateway and a node log collector, Tempo, Loki,
 * Prometheus with Alertmanager, and Grafana, wired so that a developer goes from a slow request's trace to its logs
 * and metrics without configuring anything. Apps send OTLP over HTTP to {@link otlpHttpEndpoint}
 * (what OTel SDKs default to when only an endpoint is set); the gRPC endpoint is for the node log
 * collector and clients that choose gRPC.
 */
export class Observability extends pulumi.ComponentResource {
  /** `http://<collector>:4317`: OTLP over gRPC. */
  public readonly otlpGrpcEndpoint: pulumi.Output<string>;
  /** `http://<collector>:4318`: OTLP over HTTP, the app's `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  public readonly otlpHttpEndpoint: pulumi.Output<string>;
  /** Where users open Grafana (`http(s)://<grafana.ingress.host>`). */
  public readonly grafanaUrl: pulumi.Output<string>;
  /** In-cluster URL of Prometheus's API and UI. */
  public readonly prometheusUrl: pulumi.Output<string>;
  /** In-cluster URL of Tempo's query API. */
  public readonly tempoUrl: pulumi.Output<string>;
  /** In-cluster URL of Loki's API. */
  public readonly lokiUrl: pulumi.Output<string>;
  /** In-cluster URL of Alertmanager's API and UI. */
  public readonly alertmanagerUrl: pulumi.Output<string>;
  /** The node log collector's namespace, or undefined when it is off. */
  public readonly nodeLogsNamespace: pulumi.Output<string | undefined>;
  /** The Grafana admin password, for `secretKeyRef`. */
  public readonly grafanaAdminPassword: SecretKey;
  /** Grafana's admin login (user, and password as a secret output); see {@link Grafana.admin}. */
  public readonly grafanaAdmin: Grafana["admin"];
  /** Labels of each workload's pods. */
  public readonly identities: ObservabilityIdentities;
  /**
   * Service names and container ports. The edges a network policy must allow: apps and the node
   * log collector (from its own namespace) → collector 4317/4318; collector → Tempo 4317, Loki
   * 3100, Prometheus 9090; Tempo → Prometheus 9090; Grafana → Prometheus 9090, Tempo 3200, Loki
   * 3100, Alertmanager 9093; Prometheus → Alertmanager 9093 (alerts, and its metrics);
   * Alertmanager → the receivers' ports outside the cluster; ingress controller → Grafana 3000;
   * Prometheus → every scraped pod's metrics port and
   * each node's kubelet on 10250; Prometheus and the collector → the API server; Loki and Tempo →
   * the object store (prod).
   */
  public readonly services: typeof OBSERVABILITY_SERVICES;

  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Observability", name, {}, opts);
    assertValidArgs("Observability", observabilityRules(args));
    // Read (and a clash with the generated file refused) before any child exists.
    const rules = ruleFiles(args);
    const at: Placement = {
      base: { namespace: args.namespace, instance: args.instance ?? name },
      stateful: { storageClass: args.storageClass, protect: args.protect ?? false },
      parent: { parent: this },
    };

    // The node log collector sends to the gateway's Service by its fixed name, so it can be
    // created first and Prometheus can be granted pod discovery in its namespace.
    const nodeLogs = args.nodeLogs?.enabled === false ? undefined : nodeLogCollector(args, at);
    const alertmanager = new Alertmanager(
      SERVICE_NAMES.alertmanager,
      { ...at.base, ...at.stateful, ...args.alertmanager },
      at.parent,
    );
    const kubeStateMetrics = kubeStateMetricsOf(args, at);
    const { prometheus, loki, tempo } = stores(args, at, nodeLogs, {
      rules,
      kubeStateMetrics: kubeStateMetrics.identity,
    });
    const collector = gatewayCollector(args, at, { prometheus, loki, tempo });
    const grafana = new Grafana(
      SERVICE_NAMES.grafana,
      {
        ...at.base,
        ...at.stateful,
        ...args.grafana,
        datasources: pulumi
          .all([prometheus.url, tempo.url, loki.url, alertmanager.url])
          .apply(([prometheusUrl, tempoUrl, lokiUrl, alertmanagerUrl]) => ({
            prometheusUrl,
            tempoUrl,
            lokiUrl,
            alertmanagerUrl,
          })),
        dashboards: dashboardFiles(args.dashboardsDir),
      },
      at.parent,
    );

    this.otlpGrpcEndpoint = collector.otlpGrpcEndpoint;
    this.otlpHttpEndpoint = collector.otlpHttpEndpoint;
    this.grafanaUrl = grafana.url;
    this.prometheusUrl = prometheus.url;
    this.tempoUrl = tempo.url;
    this.lokiUrl = loki.url;
    this.alertmanagerUrl = alertmanager.url;
    this.nodeLogsNamespace = nodeLogs ? nodeLogs.namespace : pulumi.output(undefined);
    this.grafanaAdminPassword = grafana.adminPassword;
    this.grafanaAdmin = grafana.admin;
    this.services = OBSERVABILITY_SERVICES;
    this.identities = {
      collector: collector.identity,
      nodeLogCollector: nodeLogs?.identity ?? identityOf("nodeLogCollector", at.base.instance),
      tempo: tempo.identity,
      loki: loki.identity,
      prometheus: prometheus.identity,
      grafana: grafana.identity,
      alertmanager: alertmanager.identity,
      kubeStateMetrics: kubeStateMetrics.identity,
    };

    this.registerOutputs({
      otlpGrpcEndpoint: this.otlpGrpcEndpoint,
      otlpHttpEndpoint: this.otlpHttpEndpoint,
      grafanaUrl: this.grafanaUrl,
      prometheusUrl: this.prometheusUrl,
      tempoUrl: this.tempoUrl,
      lokiUrl: this.lokiUrl,
      alertmanagerUrl: this.alertmanagerUrl,
      nodeLogsNamespace: this.nodeLogsNamespace,
    });
  }
}

/** The gateway collector, exporting traces to Tempo, logs to Loki and metrics to Prometheus. */
function gatewayCollector(
  args: ObservabilityArgs,
  at: Placement,
  { prometheus, loki, tempo }: ReturnType<typeof stores>,
): OtelCollector {
  return new OtelCollector(
    SERVICE_NAMES.collector,
    {
      ...at.base,
      ...args.collector,
      exporters: pulumi
        .all([tempo.otlpGrpcAddress, loki.otlpUrl, prometheus.otlpUrl])
        .apply(([tempoOtlpGrpc, lokiOtlpHttp, prometheusOtlpHttp]) => ({
          tempoOtlpGrpc,
          lokiOtlpHttp,
          prometheusOtlpHttp,
        })),
    },
    at.parent,
  );
}

/** The node log collector, sending to the gateway's Service in the platform namespace. */
function nodeLogCollector(args: ObservabilityArgs, at: Placement): NodeLogCollector {
  return new NodeLogCollector(
    SERVICE_NAMES.nodeLogCollector,
    {
      ...at.base,
      // `enabled` is the composer's setting, not the component's.
      image: args.nodeLogs?.image,
      resources: args.nodeLogs?.resources,
      gatewayOtlpGrpc: pulumi
        .output(args.namespace)
        .apply((ns) => `${shortServiceHost(SERVICE_NAMES.collector, ns)}:${PORTS.otlpGrpc}`),
    },
    at.parent,
  );
}

/** kube-state-metrics, reporting the Jobs and CronJobs of the platform's namespace. */
function kubeStateMetricsOf(args: ObservabilityArgs, at: Placement): KubeStateMetrics {
  return new KubeStateMetrics(
    SERVICE_NAMES.kubeStateMetrics,
    { ...at.base, ...args.kubeStateMetrics },
    at.parent,
  );
}

/** Prometheus, scraping the platform's namespace and the node log collector's; Loki; Tempo. */
function stores(
  args: ObservabilityArgs,
  at: Placement,
  nodeLogs: NodeLogCollector | undefined,
  prometheusInputs: { rules: Record<string, string>; kubeStateMetrics: WorkloadIdentity },
): { prometheus: Prometheus; loki: Loki; tempo: Tempo } {
  const buckets = objectBuckets(args.objectStorage, at);
  const prometheus = new Prometheus(
    SERVICE_NAMES.prometheus,
    {
      ...at.base,
      ...at.stateful,
      ...args.prometheus,
      scrapeNamespaces: nodeLogs ? [args.namespace, nodeLogs.namespace] : [args.namespace],
      ruleFiles: prometheusInputs.rules,
      kubeStateMetrics: selectorFor(prometheusInputs.kubeStateMetrics),
      // By the Service's name, as the node log collector addresses the gateway: the Service's
      // own outputs wait for Alertmanager's pod, which Prometheus has no reason to wait for.
      alertmanagers: [
        pulumi
          .output(args.namespace)
          .apply(
            (ns) => `${shortServiceHost(SERVICE_NAMES.alertmanager, ns)}:${PORTS.alertmanagerHttp}`,
          ),
      ],
    },
    at.parent,
  );
  const loki = new Loki(
    SERVICE_NAMES.loki,
    { ...at.base, ...at.stateful, ...args.loki, objectStorage: buckets?.loki },
    at.parent,
  );
  const tempo = new Tempo(
    SERVICE_NAMES.tempo,
    {
      ...at.base,
      ...at.stateful,
      ...args.tempo,
      prometheusRemoteWriteUrl: prometheus.remoteWriteUrl,
      objectStorage: buckets?.tempo,
    },
    at.parent,
  );
  return { prometheus, loki, tempo };
}

/** The alert rule files, and the backup schedule's recording rule when backups run. */
function ruleFiles(args: ObservabilityArgs): Record<string, string> {
  const files = alertRuleFiles(args.alertsDir);
  if (!args.backupSchedules || args.backupSchedules.length === 0) return files;
  if (BACKUP_RULE_FILE in files) {
    throw new Error(
      `Observability: alertsDir has a file named ${BACKUP_RULE_FILE}, the name of the generated ` +
        `backup schedule rule; rename it`,
    );
  }
  return { ...files, [BACKUP_RULE_FILE]: backupRuleFile(args.backupSchedules) };
}

/**
 * Loki's and Tempo's buckets with the endpoint parsed once, and key pairs given as values kept in
 * a Secret per consumer (`loki-s3`, `tempo-s3`). An endpoint that is an output is checked by the
 * same rule as a plain one, once it is known.
 */
function objectBuckets(
  storage: ObjectStorageArgs | undefined,
  at: Placement,
): { loki: ObjectBucket; tempo: ObjectBucket } | undefined {
  if (!storage) return undefined;
  const endpoint = pulumi.output(storage.endpoint).apply((url) => {
    assertValidArgs(
      "Observability",
      nestedErrors("objectStorage", objectStorageRules({ endpoint: url })),
    );
    return parseS3Endpoint(url);
  });
  const shared = {
    endpoint,
    url: storage.endpoint,
    region: storage.region ?? OBJECT_STORAGE_DEFAULTS.region,
    pathStyle: storage.pathStyle ?? OBJECT_STORAGE_DEFAULTS.pathStyle,
    dependsOn: storage.dependsOn,
  };
  const resolved = (consumer: "loki" | "tempo"): ObjectBucket => ({
    ...shared,
    bucket: storage[consumer].bucket,
    credentials: keyPairOf(consumer, storage[consumer].credentials, at),
  });
  return { loki: resolved("loki"), tempo: resolved("tempo") };
}

/** A key pair as Secret keys: given ones, or values kept in a Secret `<consumer>-s3`. */
function keyPairOf(consumer: "loki" | "tempo", given: GivenS3KeyPair, at: Placement): S3KeyPair {
  return s3SecretKeys(given, {
    name: `${SERVICE_NAMES[consumer]}-s3`,
    namespace: at.base.namespace,
    labels: labelsFor(identityOf(consumer, at.base.instance)),
    parent: at.parent.parent,
  });
}
