import * as pulumi from "@pulumi/pulumi";
import type { WorkloadIdentity } from "../../core/labels";
import type { SecretKey } from "../lib/secrets";
import { alertRuleFiles, dashboardFiles } from "./charts";
import {
  identityOf,
  PORTS,
  SERVICE_NAMES,
  parseS3Endpoint,
  serviceHost,
  type ObjectStorageArgs,
  type ObservabilityWorkload,
} from "./common";
import { Grafana, type GrafanaArgs } from "./grafana";
import { Loki, type LokiArgs } from "./loki";
import { NodeLogCollector, type NodeLogCollectorArgs } from "./node-logs";
import { OtelCollector, type OtelCollectorArgs } from "./otel-collector";
import { Prometheus, type PrometheusArgs } from "./prometheus";
import type { ObjectBucket } from "./store";
import { Tempo, type TempoArgs } from "./tempo";

/** Settings every workload takes: image, requests and limits. */
type WorkloadSettings = "image" | "resources";

/** Arguments of {@link Observability}; every default is documented on the component's own args. */
export interface ObservabilityArgs {
  /** Namespace of every workload except the node log collector (Pod Security `restricted`). */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of every label. @default the component's name */
  instance?: string;
  /** StorageClass of every volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /**
   * Protect the StatefulSets (Prometheus, Loki, Tempo, Grafana) and retain them on delete.
   * @default false
   */
  protect?: boolean;
  /** The OTLP gateway. @default 1 replica, DEFAULT_RESOURCES.collector, the catalogue image */
  collector?: Pick<OtelCollectorArgs, WorkloadSettings | "replicas">;
  /** Container logs from every node. @default enabled, DEFAULT_RESOURCES.nodeLogCollector */
  nodeLogs?: Pick<NodeLogCollectorArgs, WorkloadSettings> & {
    /** Run the DaemonSet (and its privileged namespace). @default true */
    enabled?: boolean;
  };
  /** Traces. @default TEMPO_DEFAULTS (168h, 10Gi), DEFAULT_RESOURCES.tempo */
  tempo?: Pick<TempoArgs, WorkloadSettings | "retention" | "storageSize">;
  /** Logs. @default LOKI_DEFAULTS (168h, 10Gi), DEFAULT_RESOURCES.loki */
  loki?: Pick<LokiArgs, WorkloadSettings | "retention" | "storageSize">;
  /**
   * Metrics and alerts.
   * @default PROMETHEUS_DEFAULTS (15d, 20Gi, 30s), DEFAULT_RESOURCES.prometheus
   */
  prometheus?: Pick<
    PrometheusArgs,
    WorkloadSettings | "retention" | "storageSize" | "scrapeInterval"
  >;
  /** Dashboards. `host` is required; the rest defaults as GRAFANA_DEFAULTS says. */
  grafana: Pick<
    GrafanaArgs,
    | WorkloadSettings
    | "host"
    | "anonymousViewer"
    | "ingressClassName"
    | "tls"
    | "adminUser"
    | "storageSize"
  >;
  /** S3 buckets for Loki and Tempo (prod). @default none: both keep their data on their PVC */
  objectStorage?: ObjectStorageArgs;
  /** Prometheus rule files. @default the repository's `charts/alerts` */
  alertsDir?: string;
  /** Grafana dashboards. @default the repository's `charts/dashboards` */
  dashboardsDir?: string;
}

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
  Exclude<ObservabilityWorkload, "nodeLogCollector">,
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
};

/**
 * The observability stack: an OTel Collector gateway and a node log collector, Tempo, Loki,
 * Prometheus and Grafana, wired so that a developer goes from a slow request's trace to its logs
 * and metrics without configuring anything. Apps send OTLP to {@link otlpGrpcEndpoint}.
 */
export class Observability extends pulumi.ComponentResource {
  /** `http://<collector>:4317`: the app's `OTEL_EXPORTER_OTLP_ENDPOINT` (gRPC). */
  public readonly otlpGrpcEndpoint: pulumi.Output<string>;
  /** `http://<collector>:4318`: for OTLP over HTTP. */
  public readonly otlpHttpEndpoint: pulumi.Output<string>;
  /** Where users open Grafana (`http(s)://<grafana.host>`). */
  public readonly grafanaUrl: pulumi.Output<string>;
  /** In-cluster URL of Prometheus's API and UI. */
  public readonly prometheusUrl: pulumi.Output<string>;
  /** In-cluster URL of Tempo's query API. */
  public readonly tempoUrl: pulumi.Output<string>;
  /** In-cluster URL of Loki's API. */
  public readonly lokiUrl: pulumi.Output<string>;
  /** The node log collector's namespace, or undefined when it is off. */
  public readonly nodeLogsNamespace: pulumi.Output<string | undefined>;
  /** The Grafana admin password, for `secretKeyRef`. */
  public readonly grafanaAdminPassword: SecretKey;
  /** Labels of each workload's pods. */
  public readonly identities: ObservabilityIdentities;
  /**
   * Service names and container ports. The edges a network policy must allow: apps and the node
   * log collector (from its own namespace) → collector 4317/4318; collector → Tempo 4317, Loki
   * 3100, Prometheus 9090; Tempo → Prometheus 9090; Grafana → Prometheus 9090, Tempo 3200, Loki
   * 3100; ingress controller → Grafana 3000; Prometheus → every scraped pod's metrics port and
   * each node's kubelet on 10250; Prometheus and the collector → the API server; Loki and Tempo →
   * the object store (prod).
   */
  public readonly services: typeof OBSERVABILITY_SERVICES;

  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Observability", name, {}, opts);
    const parent = { parent: this };
    const base = { namespace: args.namespace, instance: args.instance ?? name };
    const stateful = { storageClass: args.storageClass, protect: args.protect ?? false };
    const buckets = objectBuckets(args.objectStorage);

    // The node log collector sends to the gateway's Service by its fixed name, so it can be
    // created first and Prometheus can be granted pod discovery in its namespace.
    const nodeLogs =
      args.nodeLogs?.enabled === false
        ? undefined
        : new NodeLogCollector(
            SERVICE_NAMES.nodeLogCollector,
            {
              ...base,
              ...pick(args.nodeLogs),
              gatewayOtlpGrpc: pulumi
                .output(args.namespace)
                .apply((ns) => `${serviceHost(SERVICE_NAMES.collector, ns)}:${PORTS.otlpGrpc}`),
            },
            parent,
          );
    const prometheus = new Prometheus(
      SERVICE_NAMES.prometheus,
      {
        ...base,
        ...stateful,
        ...args.prometheus,
        scrapeNamespaces: nodeLogs ? [args.namespace, nodeLogs.namespace] : [args.namespace],
        ruleFiles: alertRuleFiles(args.alertsDir),
      },
      parent,
    );
    const loki = new Loki(
      SERVICE_NAMES.loki,
      { ...base, ...stateful, ...args.loki, objectStorage: buckets?.loki },
      parent,
    );
    const tempo = new Tempo(
      SERVICE_NAMES.tempo,
      {
        ...base,
        ...stateful,
        ...args.tempo,
        prometheusRemoteWriteUrl: prometheus.remoteWriteUrl,
        objectStorage: buckets?.tempo,
      },
      parent,
    );
    const collector = new OtelCollector(
      SERVICE_NAMES.collector,
      {
        ...base,
        ...args.collector,
        exporters: pulumi
          .all([tempo.otlpGrpcAddress, loki.otlpUrl, prometheus.otlpUrl])
          .apply(([tempoOtlpGrpc, lokiOtlpHttp, prometheusOtlpHttp]) => ({
            tempoOtlpGrpc,
            lokiOtlpHttp,
            prometheusOtlpHttp,
          })),
      },
      parent,
    );
    const grafana = new Grafana(
      SERVICE_NAMES.grafana,
      {
        ...base,
        ...stateful,
        ...args.grafana,
        datasources: pulumi
          .all([prometheus.url, tempo.url, loki.url])
          .apply(([prometheusUrl, tempoUrl, lokiUrl]) => ({ prometheusUrl, tempoUrl, lokiUrl })),
        dashboards: dashboardFiles(args.dashboardsDir),
      },
      parent,
    );

    this.otlpGrpcEndpoint = collector.otlpGrpcEndpoint;
    this.otlpHttpEndpoint = collector.otlpHttpEndpoint;
    this.grafanaUrl = grafana.url;
    this.prometheusUrl = prometheus.url;
    this.tempoUrl = tempo.url;
    this.lokiUrl = loki.url;
    this.nodeLogsNamespace = nodeLogs ? nodeLogs.namespace : pulumi.output(undefined);
    this.grafanaAdminPassword = grafana.adminPassword;
    this.services = OBSERVABILITY_SERVICES;
    this.identities = {
      collector: collector.identity,
      nodeLogCollector: nodeLogs?.identity ?? identityOf("nodeLogCollector", base.instance),
      tempo: tempo.identity,
      loki: loki.identity,
      prometheus: prometheus.identity,
      grafana: grafana.identity,
    };

    this.registerOutputs({
      otlpGrpcEndpoint: this.otlpGrpcEndpoint,
      otlpHttpEndpoint: this.otlpHttpEndpoint,
      grafanaUrl: this.grafanaUrl,
      prometheusUrl: this.prometheusUrl,
      tempoUrl: this.tempoUrl,
      lokiUrl: this.lokiUrl,
      nodeLogsNamespace: this.nodeLogsNamespace,
    });
  }
}

/** The node log settings without `enabled`, which is the composer's, not the component's. */
function pick(
  settings: ObservabilityArgs["nodeLogs"],
): Pick<NodeLogCollectorArgs, WorkloadSettings> {
  return { image: settings?.image, resources: settings?.resources };
}

/** Loki's and Tempo's buckets with the endpoint parsed once. */
function objectBuckets(
  storage: ObjectStorageArgs | undefined,
): { loki: ObjectBucket; tempo: ObjectBucket } | undefined {
  if (!storage) return undefined;
  const endpoint = pulumi.output(storage.endpoint).apply(parseS3Endpoint);
  const shared = { endpoint, region: storage.region ?? "us-east-1", dependsOn: storage.dependsOn };
  return { loki: { ...storage.loki, ...shared }, tempo: { ...storage.tempo, ...shared } };
}
