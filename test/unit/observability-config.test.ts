import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  collectorClusterRoleRules,
  collectorConfig,
  DATASOURCE_UIDS,
  escapeProvisioning,
  grafanaDatasources,
  grafanaIni,
  lokiConfig,
  lokiRules,
  nodeLogCollectorConfig,
  prometheusArgs,
  prometheusClusterRoleRules,
  prometheusConfig,
  prometheusPodRoleRules,
  prometheusRules,
  retentionHours,
  retentionSize,
  tempoConfig,
  tempoRules,
  TRACE_TO_LOGS_QUERY,
} from "../../components/observability";
import {
  BACKUP_MAX_AGE_SERIES,
  BACKUP_RULE_FILE,
  backupRuleFile,
  kubeStateMetricsArgs,
  kubeStateMetricsRoleRules,
} from "../../components/observability";
import { NODE_LOG_CHECKPOINTS_DIR } from "../../components/observability/collector-config";
import { toYaml } from "../../components/observability/common";
import { scrapeAnnotations } from "../../components/lib/scrape";
import { unwrap } from "../mocks";

/* The config builders are pure functions: these tests need no mocks. */

type Config = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML

const s3 = { hostPort: "minio.platform.svc:9000", insecure: true };
const exporters = {
  tempoOtlpGrpc: "tempo.platform.svc:4317",
  lokiOtlpHttp: "http://loki.platform.svc:3100/otlp",
  prometheusOtlpHttp: "http://prometheus.platform.svc:9090/api/v1/otlp",
};
const tempoArgs = {
  retention: "168h",
  prometheusRemoteWriteUrl: "http://prometheus.platform.svc:9090/api/v1/write",
};

/** The YAML a component writes, read back. */
function roundTrip(value: unknown): Config {
  return parse(toYaml(value)) as Config;
}

describe("the OTel Collector config", () => {
  it("receives OTLP on 0.0.0.0:4317 (gRPC) and 0.0.0.0:4318 (HTTP)", () => {
    const config = roundTrip(collectorConfig(exporters));
    expect(config.receivers.otlp.protocols).toEqual({
      grpc: { endpoint: "0.0.0.0:4317" },
      http: { endpoint: "0.0.0.0:4318" },
    });
  });

  it("sends traces to Tempo, metrics to Prometheus's OTLP receiver and logs to Loki's", () => {
    const config = roundTrip(collectorConfig(exporters));
    const exporterOf = (signal: string) => {
      const [name] = config.service.pipelines[signal].exporters as string[];
      return { type: name.split("/")[0], ...config.exporters[name] };
    };
    expect(exporterOf("traces")).toMatchObject({
      type: "otlp_grpc",
      endpoint: exporters.tempoOtlpGrpc,
    });
    expect(exporterOf("metrics")).toMatchObject({
      type: "otlp_http",
      endpoint: "http://prometheus.platform.svc:9090/api/v1/otlp",
    });
    expect(exporterOf("logs")).toMatchObject({
      type: "otlp_http",
      endpoint: "http://loki.platform.svc:3100/otlp",
    });
  });

  it("every pipeline limits memory first and batches last", () => {
    const config = roundTrip(collectorConfig(exporters));
    for (const pipeline of Object.values(config.service.pipelines) as Config[]) {
      expect(pipeline.processors[0]).toBe("memory_limiter");
      expect(pipeline.processors.at(-1)).toBe("batch");
      expect(pipeline.processors).toContain("k8sattributes");
    }
  });

  it("exposes its own metrics and health check on all interfaces, for Prometheus and the kubelet", () => {
    const config = roundTrip(collectorConfig(exporters));
    expect(config.extensions.health_check.endpoint).toBe("0.0.0.0:13133");
    const reader = config.service.telemetry.metrics.readers[0].pull.exporter.prometheus;
    expect(reader).toEqual({ host: "0.0.0.0", port: 8888 });
  });

  it("the node log collector tails /var/log/pods, skips its own namespace and forwards to the gateway", () => {
    const config = roundTrip(
      nodeLogCollectorConfig({
        gatewayOtlpGrpc: "otel-collector.platform.svc:4317",
        ownNamespace: "platform-node-logs",
      }),
    );
    expect(config.receivers.filelog.include).toEqual(["/var/log/pods/*/*/*.log"]);
    expect(config.receivers.filelog.exclude).toEqual([
      "/var/log/pods/platform-node-logs_*/*/*.log",
    ]);
    expect(config.receivers.filelog.operators).toEqual([
      { type: "container", id: "container-parser" },
    ]);
    expect(config.exporters["otlp_grpc/gateway"].endpoint).toBe("otel-collector.platform.svc:4317");
  });

  it("the node log collector keeps its file offsets in file_storage, so a restart loses no lines", () => {
    const config = roundTrip(
      nodeLogCollectorConfig({
        gatewayOtlpGrpc: "otel-collector.platform.svc:4317",
        ownNamespace: "platform-node-logs",
      }),
    );
    const storage = config.receivers.filelog.storage;
    expect(storage).toMatch(/^file_storage(\/|$)/);
    expect(config.service.extensions).toContain(storage);
    expect(config.extensions[storage].directory).toBe(NODE_LOG_CHECKPOINTS_DIR);
    // Compaction writes a temporary database: beside the real one, not on the read-only root.
    expect(config.extensions[storage].compaction.directory).toBe(NODE_LOG_CHECKPOINTS_DIR);
  });

  it("k8sattributes may only read pods and namespaces", () => {
    const rules = collectorClusterRoleRules();
    expect(rules.flatMap((rule) => rule.resources)).toEqual(["pods", "namespaces"]);
    for (const rule of rules) expect(rule.verbs).toEqual(["get", "list", "watch"]);
  });
});

describe("the Tempo config", () => {
  it("Tempo receivers bind 0.0.0.0", () => {
    const config = roundTrip(tempoConfig({ ...tempoArgs, storage: { backend: "local" } }));
    expect(config.distributor.receivers.otlp.protocols).toEqual({
      grpc: { endpoint: "0.0.0.0:4317" },
      http: { endpoint: "0.0.0.0:4318" },
    });
  });

  it("the metrics-generator remote-writes span metrics and service graphs to Prometheus", () => {
    const config = roundTrip(tempoConfig({ ...tempoArgs, storage: { backend: "local" } }));
    expect(config.metrics_generator.storage.remote_write).toEqual([
      { url: tempoArgs.prometheusRemoteWriteUrl, send_exemplars: true },
    ]);
    expect(config.overrides.defaults.metrics_generator.processors).toEqual(
      expect.arrayContaining(["span-metrics", "service-graphs"]),
    );
  });

  it("keeps blocks for the retention it is given, where the backend worker applies it", () => {
    const config = roundTrip(tempoConfig({ ...tempoArgs, storage: { backend: "local" } }));
    expect(config.backend_worker.compaction.block_retention).toBe("168h");
    expect(config.storage.trace.backend).toBe("local");
  });
});

describe("the Loki config", () => {
  it("Loki retention deletes (compactor retention_enabled + delete_request_store)", () => {
    for (const storage of [
      { backend: "filesystem" as const },
      {
        backend: "s3" as const,
        bucket: "loki",
        endpoint: s3,
        region: "us-east-1",
        pathStyle: true,
      },
    ]) {
      const config = roundTrip(lokiConfig({ retention: "336h", storage }));
      expect(config.limits_config.retention_period).toBe("336h");
      expect(config.compactor.retention_enabled).toBe(true);
      expect(config.compactor.delete_request_store).toBe(
        config.schema_config.configs[0].object_store,
      );
    }
  });

  it("stores on schema v13 with the tsdb index and keeps OTLP attributes as structured metadata", () => {
    const config = roundTrip(lokiConfig({ retention: "168h", storage: { backend: "filesystem" } }));
    expect(config.schema_config.configs).toEqual([
      expect.objectContaining({ store: "tsdb", schema: "v13", object_store: "filesystem" }),
    ]);
    expect(config.limits_config.allow_structured_metadata).toBe(true);
  });
});

describe("object storage (prod)", () => {
  it("prod Loki and Tempo use the object store", () => {
    const loki = roundTrip(
      lokiConfig({
        retention: "168h",
        storage: {
          backend: "s3",
          bucket: "loki",
          endpoint: s3,
          region: "us-east-1",
          pathStyle: true,
        },
      }),
    );
    expect(loki.common.storage.s3).toMatchObject({
      endpoint: "minio.platform.svc:9000",
      bucketnames: "loki",
      insecure: true,
      s3forcepathstyle: true,
    });
    expect(loki.schema_config.configs[0].object_store).toBe("s3");
    const tempo = roundTrip(
      tempoConfig({
        ...tempoArgs,
        storage: {
          backend: "s3",
          bucket: "tempo",
          endpoint: s3,
          region: "us-east-1",
          pathStyle: true,
        },
      }),
    );
    expect(tempo.storage.trace.backend).toBe("s3");
    expect(tempo.storage.trace.s3).toMatchObject({
      endpoint: "minio.platform.svc:9000",
      bucket: "tempo",
      insecure: true,
      forcepathstyle: true,
    });
  });

  it("S3 keys appear in the config files only as ${ENV} references for -config.expand-env", () => {
    const storage = {
      backend: "s3" as const,
      bucket: "b",
      endpoint: s3,
      region: "us-east-1",
      pathStyle: true,
    };
    const loki = roundTrip(lokiConfig({ retention: "168h", storage })).common.storage.s3;
    const tempo = roundTrip(tempoConfig({ ...tempoArgs, storage })).storage.trace.s3;
    expect([loki.access_key_id, loki.secret_access_key]).toEqual([
      "${S3_ACCESS_KEY_ID}",
      "${S3_SECRET_ACCESS_KEY}",
    ]);
    expect([tempo.access_key, tempo.secret_key]).toEqual([
      "${S3_ACCESS_KEY_ID}",
      "${S3_SECRET_ACCESS_KEY}",
    ]);
  });
});

describe("retention values", () => {
  it("accepts hours, days and weeks and writes hours, the unit all three stores read", () => {
    expect(retentionHours("168h")).toBe("168h");
    expect(retentionHours("7d")).toBe("168h");
    expect(retentionHours("2w")).toBe("336h");
    for (const rules of [lokiRules, tempoRules, prometheusRules]) {
      for (const retention of ["168h", "7d", "2w"]) expect(rules({ retention })).toEqual([]);
    }
  });

  it("refuses anything else, naming the field", () => {
    for (const rules of [lokiRules, tempoRules, prometheusRules]) {
      for (const retention of ["1 week", "0d", "90m", "30m"]) {
        expect(rules({ retention })).toEqual([
          {
            propertyPath: "retention",
            reason: expect.stringMatching(/hours, days or weeks.*got "/),
          },
        ]);
      }
    }
  });
});

/** Prometheus relabelling, enough of it to run our rules against discovered labels. */
function relabel(
  labels: Record<string, string>,
  rules: Config[],
): Record<string, string> | undefined {
  const result = { ...labels };
  for (const rule of rules) {
    const value = (rule.source_labels as string[]).map((name) => result[name] ?? "").join(";");
    const regex = new RegExp(`^(?:${rule.regex ?? "(.*)"})$`);
    const action = rule.action ?? "replace";
    if (action === "keep" && !regex.test(value)) return undefined;
    if (action === "drop" && regex.test(value)) return undefined;
    if (action === "replace" && regex.test(value)) {
      result[rule.target_label] = value.replace(regex, rule.replacement ?? "$1");
    }
  }
  return result;
}

/** What Kubernetes pod discovery gives a container port of a pod with these annotations. */
function discoveredPod(annotations: Record<string, string>, ip = "10.42.0.7") {
  const meta: Record<string, string> = {
    __address__: `${ip}:5432`,
    __metrics_path__: "/metrics",
    __meta_kubernetes_namespace: "platform",
    __meta_kubernetes_pod_name: "postgres-0",
    __meta_kubernetes_pod_ip: ip,
    __meta_kubernetes_pod_phase: "Running",
    __meta_kubernetes_pod_container_init: "false",
    __meta_kubernetes_pod_node_name: "node-1",
    __meta_kubernetes_pod_label_app_kubernetes_io_name: "postgres",
    __meta_kubernetes_pod_label_app_kubernetes_io_component: "database",
  };
  for (const [key, value] of Object.entries(annotations)) {
    meta[`__meta_kubernetes_pod_annotation_${key.replace(/[^a-zA-Z0-9_]/g, "_")}`] = value;
  }
  return meta;
}

describe("the Prometheus config", () => {
  const config = roundTrip(
    prometheusConfig({
      scrapeInterval: "30s",
      scrapeNamespaces: ["platform", "platform-node-logs"],
      retention: "360h",
      retentionSize: "17408MB",
      ruleFiles: ["app.yaml", "data.yaml"],
    }),
  );
  const podJob = (config.scrape_configs as Config[]).find(
    (job) => job.job_name === "kubernetes-pods",
  );

  it("Prometheus scrapes pods by the lib/scrape annotations", () => {
    const target = relabel(
      discoveredPod(scrapeAnnotations(9187, "/probe")),
      podJob?.relabel_configs,
    );
    expect(target).toMatchObject({
      __address__: "10.42.0.7:9187",
      __metrics_path__: "/probe",
      namespace: "platform",
      pod: "postgres-0",
      app: "postgres",
      component: "database",
    });
    const v6 = relabel(
      discoveredPod(scrapeAnnotations(9187), "fd00:42::7"),
      podJob?.relabel_configs,
    );
    expect(v6?.__address__).toBe("[fd00:42::7]:9187");
  });

  it("skips pods without the scrape annotation, and finished Job pods", () => {
    expect(relabel(discoveredPod({}), podJob?.relabel_configs)).toBeUndefined();
    const done = {
      ...discoveredPod(scrapeAnnotations(8080)),
      __meta_kubernetes_pod_phase: "Succeeded",
    };
    expect(relabel(done, podJob?.relabel_configs)).toBeUndefined();
  });

  it("discovers pods only in the platform's namespaces", () => {
    expect(podJob?.kubernetes_sd_configs).toEqual([
      { role: "pod", namespaces: { names: ["platform", "platform-node-logs"] } },
    ]);
  });

  it("has no scrape job for the control-plane parts K3s embeds", () => {
    const jobs = config.scrape_configs as Config[];
    expect(jobs.map((job) => job.job_name)).toEqual([
      "kubernetes-pods",
      "kubelet",
      "kubelet-cadvisor",
    ]);
    const roles = jobs.flatMap((job) =>
      (job.kubernetes_sd_configs as Config[]).map((sd) => sd.role),
    );
    expect(roles).not.toContain("endpoints");
    expect(JSON.stringify(jobs)).not.toMatch(
      /apiserver|scheduler|controller-manager|etcd|kube-proxy/,
    );
  });

  it("loads the rule files from the mounted directory and keeps data by time and size", () => {
    expect(config.rule_files).toEqual([
      "/etc/prometheus/rules/app.yaml",
      "/etc/prometheus/rules/data.yaml",
    ]);
    expect(config.storage.tsdb.retention).toEqual({ time: "360h", size: "17408MB" });
    expect(retentionSize("20Gi")).toBe("17408MB");
  });

  it("receives OTLP and remote writes", () => {
    expect(prometheusArgs()).toEqual(
      expect.arrayContaining(["--web.enable-otlp-receiver", "--web.enable-remote-write-receiver"]),
    );
  });

  it("may read only nodes and kubelet metrics cluster-wide, and pods per namespace", () => {
    const cluster = prometheusClusterRoleRules();
    expect(cluster.flatMap((rule) => rule.resources)).toEqual(["nodes", "nodes/metrics"]);
    expect(prometheusPodRoleRules()).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
    ]);
    for (const rule of [...cluster, ...prometheusPodRoleRules()]) {
      expect(["get", "list", "watch"]).toEqual(expect.arrayContaining(rule.verbs as string[]));
    }
  });
});

describe("kube-state-metrics", () => {
  const selector = {
    "app.kubernetes.io/name": "kube-state-metrics",
    "app.kubernetes.io/instance": "platform",
    "app.kubernetes.io/component": "cluster-state-metrics",
  };
  const config = roundTrip(
    prometheusConfig({
      scrapeInterval: "30s",
      scrapeNamespaces: ["platform"],
      retention: "360h",
      retentionSize: "17408MB",
      ruleFiles: [],
      kubeStateMetrics: { namespace: "platform", selector, port: 8080 },
    }),
  );
  const job = (config.scrape_configs as Config[]).find(
    (candidate) => candidate.job_name === "kube-state-metrics",
  );
  const discovered = (labels: Record<string, string>, port = "8080") => ({
    __address__: `10.42.0.12:${port}`,
    __meta_kubernetes_namespace: "platform",
    __meta_kubernetes_pod_name: "kube-state-metrics-7c9d-x2k4p",
    __meta_kubernetes_pod_phase: "Running",
    __meta_kubernetes_pod_container_port_number: port,
    ...Object.fromEntries(
      Object.entries(labels).map(([key, value]) => [
        `__meta_kubernetes_pod_label_${key.replace(/[^a-zA-Z0-9_]/g, "_")}`,
        value,
      ]),
    ),
  });

  it("is scraped by a job of its own that keeps the reported objects' labels", () => {
    expect(job?.honor_labels).toBe(true);
    expect(job?.kubernetes_sd_configs).toEqual([
      { role: "pod", namespaces: { names: ["platform"] } },
    ]);
    expect(relabel(discovered(selector), job?.relabel_configs)).toMatchObject({
      __address__: "10.42.0.12:8080",
      namespace: "platform",
      pod: "kube-state-metrics-7c9d-x2k4p",
    });
  });

  it("keeps only its own pods' metrics port", () => {
    expect(relabel(discovered(selector, "8081"), job?.relabel_configs)).toBeUndefined();
    const other = { ...selector, "app.kubernetes.io/instance": "staging" };
    expect(relabel(discovered(other), job?.relabel_configs)).toBeUndefined();
    const { "app.kubernetes.io/component": _component, ...partial } = selector;
    expect(relabel(discovered(partial), job?.relabel_configs)).toBeUndefined();
  });

  it("watches only the alerts' resources, in the platform namespace, by a namespaced Role", async () => {
    const args = await Promise.all(
      kubeStateMetricsArgs("platform").map((arg) => unwrap(pulumi.output(arg))),
    );
    expect(args).toEqual([
      "--port=8080",
      "--telemetry-port=8081",
      "--resources=jobs,cronjobs",
      "--namespaces=platform",
      "--metric-labels-allowlist=jobs=[app.kubernetes.io/component]",
    ]);
    expect(kubeStateMetricsRoleRules()).toEqual([
      { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: ["list", "watch"] },
    ]);
  });
});

describe("the backup schedule rule", () => {
  it("records the CronJob's threshold as a series the static alert compares against", () => {
    const file = parse(backupRuleFile([{ cronJob: "postgres-backup", maxAgeSeconds: 108000 }]));
    expect(BACKUP_RULE_FILE).toBe("backup-schedule.yaml");
    expect(file).toEqual({
      groups: [
        {
          name: "backup-schedule",
          rules: [
            {
              record: BACKUP_MAX_AGE_SERIES,
              expr: "vector(108000)",
              labels: { cronjob: "postgres-backup" },
            },
          ],
        },
      ],
    });
  });

  it("refuses a threshold that is not a whole positive number of seconds", () => {
    expect(() => backupRuleFile([{ cronJob: "postgres-backup", maxAgeSeconds: 0 }])).toThrow(
      /maxAgeSeconds must be a whole number of seconds, at least 1 \(got 0\)/,
    );
    expect(() => backupRuleFile([{ cronJob: "postgres-backup", maxAgeSeconds: 1.5 }])).toThrow(
      /got 1.5/,
    );
  });
});

describe("Grafana provisioning", () => {
  const urls = {
    prometheusUrl: "http://prometheus.platform.svc:9090",
    tempoUrl: "http://tempo.platform.svc:3200",
    lokiUrl: "http://loki.platform.svc:3100",
    alertmanagerUrl: "http://alertmanager.platform.svc:9093",
  };

  it("Grafana provisioning escapes $", () => {
    const text = toYaml(escapeProvisioning(grafanaDatasources(urls)));
    // Grafana expands $VAR and ${VAR}; an escaped literal is always an even run of dollars.
    for (const run of text.match(/\$+/g) ?? []) expect(run.length % 2).toBe(0);
    const tempo = (parse(text).datasources as Config[]).find((ds) => ds.uid === "tempo");
    expect(tempo?.jsonData.tracesToLogsV2.query.replace(/\$\$/g, "$")).toBe(TRACE_TO_LOGS_QUERY);
  });

  it("defines the fixed UIDs and links trace → logs, trace → metrics, service map and logs → trace", () => {
    const sources = grafanaDatasources(urls).datasources as Config[];
    const byUid = Object.fromEntries(sources.map((ds) => [ds.uid, ds]));
    expect(Object.keys(byUid).sort()).toEqual(Object.values(DATASOURCE_UIDS).sort());
    const tempo = byUid.tempo.jsonData;
    expect(tempo.tracesToLogsV2.datasourceUid).toBe("loki");
    expect(tempo.tracesToMetrics.datasourceUid).toBe("prometheus");
    expect(tempo.serviceMap.datasourceUid).toBe("prometheus");
    expect(byUid.loki.jsonData.derivedFields.map((f: Config) => f.datasourceUid)).toEqual([
      "tempo",
      "tempo",
    ]);
    expect(byUid.prometheus.jsonData.exemplarTraceIdDestinations[0].datasourceUid).toBe("tempo");
    expect(sources.map((ds) => ds.url)).toEqual([
      urls.prometheusUrl,
      urls.tempoUrl,
      urls.lokiUrl,
      urls.alertmanagerUrl,
    ]);
    expect(byUid.alertmanager.jsonData).toEqual({
      implementation: "prometheus",
      handleGrafanaManagedAlerts: false,
    });
  });

  it("the Loki derived fields find a trace ID as structured metadata or in a log line", () => {
    const fields = (grafanaDatasources(urls).datasources as Config[]).find(
      (ds) => ds.uid === "loki",
    )?.jsonData.derivedFields as Config[];
    expect(fields[0]).toMatchObject({ matcherType: "label", matcherRegex: "trace_id" });
    const id = "4bf92f3577b34da6a3ce929d0e0e4736";
    const regex = new RegExp(fields[1].matcherRegex);
    for (const line of [`level=info trace_id=${id} msg=ok`, `{"traceId":"${id}","msg":"ok"}`]) {
      expect(regex.exec(line)?.[1]).toBe(id);
    }
  });

  it("anonymous Grafana is Viewer only and off unless asked", () => {
    const base = { rootUrl: "http://grafana.localhost/", https: false, adminUser: "admin" };
    const off = grafanaIni({ ...base, anonymousViewer: false });
    expect(off).toMatch(/\[auth\.anonymous\]\nenabled = false\n/);
    const on = grafanaIni({ ...base, anonymousViewer: true });
    expect(on).toMatch(/\[auth\.anonymous\]\nenabled = true\norg_role = Viewer\n/);
    expect(on).not.toMatch(/org_role = (Admin|Editor)/);
  });

  it("grafana.ini holds no password and calls nothing outside the cluster", () => {
    const ini = grafanaIni({
      rootUrl: "https://g.example.com/",
      https: true,
      anonymousViewer: false,
      adminUser: "admin",
    });
    expect(ini).not.toMatch(/password/i);
    expect(ini).toMatch(/check_for_updates = false/);
    expect(ini).toMatch(/reporting_enabled = false/);
    expect(ini).toMatch(/cookie_secure = true/);
  });
});
