import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { securityExceptionFor } from "../../policy/model/security-exceptions";
import { SecretKey } from "../../components/lib/secrets";
import { MOCK_SECRET_PREFIX, registeredOfType, setupMocks, unwrap } from "../mocks";
import { parsedStackConfig, stackConfigIssues } from "./stack-config";

const mocks = setupMocks();
const load = () => import("../../components/observability");
const ROOT = path.resolve(__dirname, "..", "..");

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- resolved mock inputs
const WORKLOAD_TYPES = [
  "kubernetes:apps/v1:Deployment",
  "kubernetes:apps/v1:StatefulSet",
  "kubernetes:apps/v1:DaemonSet",
];

/** Records the options every child was created with (mocks do not see them). */
const seenOptions: { type: string; name: string; opts: pulumi.CustomResourceOptions }[] = [];
const recordOptions: pulumi.ResourceTransformation = ({ type, name, opts }) => {
  seenOptions.push({ type, name, opts });
  return undefined;
};

let stack: Awaited<ReturnType<typeof load>>["Observability"]["prototype"];

beforeAll(async () => {
  const { Observability } = await load();
  stack = new Observability(
    "observability",
    {
      namespace: "platform",
      storageClass: "local-path",
      protect: true,
      grafana: { ingress: { host: "grafana.platform.localhost" }, anonymousViewer: true },
    },
    { transformations: [recordOptions] },
  );
  await unwrap(stack.grafanaUrl);
});

async function all(type: string): Promise<Obj[]> {
  return (await registeredOfType(mocks, type)).map((resource) => resource.inputs as Obj);
}

async function one(type: string, name: string): Promise<Obj> {
  const found = (await all(type)).find((inputs) => inputs.metadata?.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
}

async function configOf(configMap: string, key: string): Promise<Obj> {
  return parse((await one("kubernetes:core/v1:ConfigMap", configMap)).data[key]) as Obj;
}

/** Every workload and its pod template. */
async function workloads(): Promise<{ kind: string; object: Obj; pod: Obj }[]> {
  const found = [];
  for (const type of WORKLOAD_TYPES) {
    for (const object of await all(type)) {
      found.push({ kind: type.split(":").at(-1) as string, object, pod: object.spec.template });
    }
  }
  return found;
}

describe("the Observability stack", () => {
  it("exports the OTLP endpoints of the collector Service and where Grafana and Prometheus are", async () => {
    expect(await unwrap(stack.otlpGrpcEndpoint)).toBe("http://otel-collector.platform.svc:4317");
    expect(await unwrap(stack.otlpHttpEndpoint)).toBe("http://otel-collector.platform.svc:4318");
    expect(await unwrap(stack.grafanaUrl)).toBe("http://grafana.platform.localhost");
    expect(await unwrap(stack.prometheusUrl)).toBe("http://prometheus.platform.svc:9090");
  });

  it("the collector exports to the Services the stack creates", async () => {
    const services = await all("kubernetes:core/v1:Service");
    const exists = (hostPort: string) => {
      const [host, port] = hostPort
        .replace(/^https?:\/\//, "")
        .split("/")[0]
        .split(":");
      const [name, namespace] = host.split(".");
      return services.some(
        (svc) =>
          svc.metadata.name === name &&
          svc.metadata.namespace === namespace &&
          !svc.spec.clusterIP &&
          (svc.spec.ports as Obj[]).some((p) => p.port === Number(port)),
      );
    };
    const config = await configOf("otel-collector-config", "config.yaml");
    const endpoints = Object.values(config.exporters as Obj).map((e) => e.endpoint as string);
    expect(endpoints).toHaveLength(3);
    for (const endpoint of endpoints) expect(exists(endpoint), endpoint).toBe(true);
    const nodeConfig = await configOf("node-log-collector-config", "config.yaml");
    expect(nodeConfig.exporters["otlp_grpc/gateway"].endpoint).toBe(
      "otel-collector.platform.svc:4317",
    );
    expect(exists(nodeConfig.exporters["otlp_grpc/gateway"].endpoint)).toBe(true);
    const tempo = await configOf("tempo-config", "tempo.yaml");
    expect(exists(tempo.metrics_generator.storage.remote_write[0].url)).toBe(true);
  });

  it("Grafana's datasources point at the Services the stack creates", async () => {
    const text = (await one("kubernetes:core/v1:ConfigMap", "grafana-config")).data[
      "datasources.yaml"
    ];
    const urls = (parse(text).datasources as Obj[]).map((ds) => ds.url);
    expect(urls).toEqual([
      "http://prometheus.platform.svc:9090",
      "http://tempo.platform.svc:3200",
      "http://loki.platform.svc:3100",
      "http://alertmanager.platform.svc:9093",
    ]);
  });

  it("exposes each workload's identity for network policies, matching its pod labels", async () => {
    for (const { pod } of await workloads()) {
      const identity = Object.values(stack.identities).find(
        (id) => id.name === pod.metadata.labels["app.kubernetes.io/name"],
      );
      expect(identity, pod.metadata.labels["app.kubernetes.io/name"]).toBeDefined();
      expect(pod.metadata.labels["app.kubernetes.io/component"]).toBe(identity?.component);
    }
    expect(Object.keys(stack.identities).sort()).toEqual(
      [
        "alertmanager",
        "collector",
        "grafana",
        "kubeStateMetrics",
        "loki",
        "nodeLogCollector",
        "prometheus",
        "tempo",
      ].sort(),
    );
  });

  it("every workload has probes, requests and limits, a config hash and scrape annotations", async () => {
    const found = await workloads();
    expect(found).toHaveLength(8);
    for (const { object, pod } of found) {
      const name = object.metadata.name;
      // No config to hash, and scraped by a job of its own (honor_labels), not the annotation.
      if (name === "kube-state-metrics") {
        expect(pod.metadata.annotations).toBeUndefined();
        continue;
      }
      expect(pod.metadata.annotations["k3s-platform/config-hash"], name).toMatch(/^[0-9a-f]{16}$/);
      expect(pod.metadata.annotations["prometheus.io/scrape"], name).toBe("true");
      for (const container of pod.spec.containers as Obj[]) {
        expect(container.readinessProbe, name).toBeDefined();
        expect(container.livenessProbe, name).toBeDefined();
        expect(container.resources.requests.memory, name).toBeDefined();
        expect(container.resources.limits.memory, name).toBeDefined();
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
        const metricsPort = Number(pod.metadata.annotations["prometheus.io/port"]);
        expect(
          (container.ports as Obj[]).map((p) => p.containerPort),
          name,
        ).toContain(metricsPort);
      }
    }
  });

  it("only Prometheus, the collector gateway and kube-state-metrics mount a service-account token", async () => {
    const withToken = (await workloads())
      .filter(({ pod }) => pod.spec.automountServiceAccountToken !== false)
      .map(({ object }) => object.metadata.name)
      .sort();
    expect(withToken).toEqual(["kube-state-metrics", "otel-collector", "prometheus"]);
  });

  it("every workload but the node log collector runs as non-root in the platform namespace", async () => {
    for (const { object, pod } of await workloads()) {
      if (object.metadata.name === "node-log-collector") continue;
      expect(object.metadata.namespace).toBe("platform");
      expect(pod.spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.spec.securityContext.runAsUser).toBeGreaterThan(0);
    }
  });

  it("the node log collector runs alone in a privileged namespace, as the named exception allows", async () => {
    const namespace = await one("kubernetes:core/v1:Namespace", "platform-node-logs");
    expect(namespace.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    const daemonSet = await one("kubernetes:apps/v1:DaemonSet", "node-log-collector");
    expect(daemonSet.metadata.namespace).toBe("platform-node-logs");
    const pod = daemonSet.spec.template;
    const exception = securityExceptionFor({
      kind: "DaemonSet",
      namespace: daemonSet.metadata.namespace,
      labels: pod.metadata.labels,
    });
    expect(exception?.id).toBe("node-log-collector");
    expect(pod.metadata.labels["app.kubernetes.io/component"]).toBe("node-log-collector");
    expect(pod.spec.volumes).toContainEqual({
      name: "pod-logs",
      hostPath: { path: "/var/log/pods", type: "Directory" },
    });
    const [container] = pod.spec.containers as Obj[];
    expect(container.volumeMounts).toContainEqual({
      name: "pod-logs",
      mountPath: "/var/log/pods",
      readOnly: true,
    });
    // Its offsets: the one writable host path, its own, mounted where file_storage writes.
    expect(pod.spec.volumes).toContainEqual({
      name: "checkpoints",
      hostPath: { path: "/var/lib/k3s-platform/otel-node-logs", type: "DirectoryOrCreate" },
    });
    const checkpoints = (container.volumeMounts as Obj[]).find((m) => m.name === "checkpoints");
    expect(checkpoints?.readOnly).toBeUndefined();
    const nodeConfig = await configOf("node-log-collector-config", "config.yaml");
    const storage = nodeConfig.receivers.filelog.storage as string;
    expect(nodeConfig.extensions[storage].directory).toBe(checkpoints?.mountPath);
    expect(container.securityContext).toMatchObject({
      runAsUser: 0,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.securityContext.capabilities.add).toBeUndefined();
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    const others = (await workloads()).filter(
      ({ object }) => object.metadata.namespace === "platform-node-logs",
    );
    expect(others).toHaveLength(1);
  });

  it("RBAC grants get/list/watch only, never Secrets, and pod discovery per namespace", async () => {
    for (const type of [
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
      "kubernetes:rbac.authorization.k8s.io/v1:Role",
    ]) {
      for (const role of await all(type)) {
        for (const rule of role.rules as Obj[]) {
          expect(["get", "list", "watch"]).toEqual(expect.arrayContaining(rule.verbs));
          expect(rule.resources).not.toContain("secrets");
          expect(rule.resources).not.toContain("*");
        }
      }
    }
    const roles = await all("kubernetes:rbac.authorization.k8s.io/v1:Role");
    expect(roles.map((role) => role.metadata.namespace).sort()).toEqual([
      "platform",
      "platform",
      "platform-node-logs",
    ]);
    // kube-state-metrics: exactly list/watch of Jobs and CronJobs, in its own namespace only.
    const ksm = await one("kubernetes:rbac.authorization.k8s.io/v1:Role", "kube-state-metrics");
    expect(ksm.metadata.namespace).toBe("platform");
    expect(ksm.rules).toEqual([
      { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: ["list", "watch"] },
    ]);
    const ksmBinding = await one(
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
      "kube-state-metrics",
    );
    expect(ksmBinding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "kube-state-metrics",
    });
    expect(ksmBinding.subjects).toEqual([
      { kind: "ServiceAccount", name: "kube-state-metrics", namespace: "platform" },
    ]);
    const bindings = await all("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding");
    expect(bindings.map((b) => b.subjects[0].name).sort()).toEqual([
      "otel-collector",
      "prometheus",
    ]);
  });

  it("the Grafana admin password is only in a Secret", async () => {
    const grafana = await one("kubernetes:apps/v1:StatefulSet", "grafana");
    const env = grafana.spec.template.spec.containers[0].env as Obj[];
    expect(env).toContainEqual({
      name: "GF_SECURITY_ADMIN_PASSWORD",
      valueFrom: { secretKeyRef: { name: "grafana-admin", key: "admin-password" } },
    });
    const password = `${MOCK_SECRET_PREFIX}grafana-admin-password`;
    const secret = await one("kubernetes:core/v1:Secret", "grafana-admin");
    expect(JSON.stringify(secret)).toContain(password);
    const elsewhere = [
      ...(await all("kubernetes:core/v1:ConfigMap")),
      ...(await workloads()).map((w) => w.object),
    ];
    for (const object of elsewhere) expect(JSON.stringify(object)).not.toContain(password);
  });

  it("anonymous visitors get Viewer when the args ask for it", async () => {
    const ini = (await one("kubernetes:core/v1:ConfigMap", "grafana-config")).data[
      "grafana.ini"
    ] as string;
    expect(ini).toContain("[auth.anonymous]\nenabled = true\norg_role = Viewer\n");
  });

  it("Grafana keeps anonymous access off unless asked, and serves TLS when asked", async () => {
    const { Grafana } = await load();
    new Grafana("grafana-default", {
      namespace: "platform",
      ingress: { host: "grafana.example.com", tlsSecretName: "grafana-tls" },
      datasources: { prometheusUrl: "p", tempoUrl: "t", lokiUrl: "l", alertmanagerUrl: "a" },
    });
    const config = await one("kubernetes:core/v1:ConfigMap", "grafana-default-config");
    expect(config.data["grafana.ini"]).toContain("[auth.anonymous]\nenabled = false\n");
    const ingress = await one("kubernetes:networking.k8s.io/v1:Ingress", "grafana-default");
    expect(ingress.spec.tls).toEqual([
      { hosts: ["grafana.example.com"], secretName: "grafana-tls" },
    ]);
  });

  it("Grafana is reached at its host through the ingress controller", async () => {
    const ingress = await one("kubernetes:networking.k8s.io/v1:Ingress", "grafana");
    expect(ingress.spec).toMatchObject({
      ingressClassName: "traefik",
      rules: [
        {
          host: "grafana.platform.localhost",
          http: {
            paths: [
              { path: "/", backend: { service: { name: "grafana", port: { name: "http" } } } },
            ],
          },
        },
      ],
    });
    expect(ingress.spec.tls).toBeUndefined();
  });

  it("provisions every dashboard of charts/dashboards and loads every rule file of charts/alerts", async () => {
    const dashboards = await one("kubernetes:core/v1:ConfigMap", "grafana-dashboards");
    const dashboardFiles = fs
      .readdirSync(path.join(ROOT, "charts/dashboards"))
      .filter((f) => f.endsWith(".json"));
    expect(Object.keys(dashboards.data).sort()).toEqual(dashboardFiles.sort());
    const rules = await one("kubernetes:core/v1:ConfigMap", "prometheus-rules");
    const ruleFiles = fs
      .readdirSync(path.join(ROOT, "charts/alerts"))
      .filter((f) => f.endsWith(".yaml"));
    expect(Object.keys(rules.data).sort()).toEqual(ruleFiles.sort());
    const prometheus = await configOf("prometheus-config", "prometheus.yml");
    expect(prometheus.rule_files).toHaveLength(ruleFiles.length);
  });

  it("keeps the documented defaults: 168h of traces and logs, 15d of metrics", async () => {
    const tempo = await configOf("tempo-config", "tempo.yaml");
    expect(tempo.backend_worker.compaction.block_retention).toBe("168h");
    const loki = await configOf("loki-config", "loki.yaml");
    expect(loki.limits_config.retention_period).toBe("168h");
    const prometheus = await configOf("prometheus-config", "prometheus.yml");
    expect(prometheus.storage.tsdb.retention).toEqual({ time: "360h", size: "17408MB" });
    expect(prometheus.global.scrape_interval).toBe("30s");
    const collector = await one("kubernetes:apps/v1:Deployment", "otel-collector");
    expect(collector.spec.replicas).toBe(1);
  });

  it("dev Loki and Tempo keep their data on their volumes", async () => {
    expect((await configOf("tempo-config", "tempo.yaml")).storage.trace.backend).toBe("local");
    expect((await configOf("loki-config", "loki.yaml")).common.storage.filesystem).toBeDefined();
  });

  it("protects the stateful pieces and retains them on delete when asked", async () => {
    const protectedSets = seenOptions
      .filter((entry) => entry.type === "kubernetes:apps/v1:StatefulSet")
      .filter((entry) => entry.opts.protect === true && entry.opts.retainOnDelete === true)
      .map((entry) => entry.name)
      .sort();
    expect(protectedSets).toEqual(["alertmanager", "grafana", "loki", "prometheus", "tempo"]);
  });
});

describe("the collector gateway in prod", () => {
  it("two or more replicas are spread across nodes and kept available by a PDB", async () => {
    const { OtelCollector } = await load();
    new OtelCollector("collector-ha", {
      namespace: "platform",
      replicas: 2,
      exporters: {
        tempoOtlpGrpc: "t:4317",
        lokiOtlpHttp: "http://l/otlp",
        prometheusOtlpHttp: "http://p",
      },
    });
    const deployment = await one("kubernetes:apps/v1:Deployment", "collector-ha");
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.topologySpreadConstraints).toHaveLength(1);
    const pdb = await one("kubernetes:policy/v1:PodDisruptionBudget", "collector-ha");
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: deployment.spec.selector });
  });
});

describe("Loki and Tempo on object storage (prod)", () => {
  it("prod Loki and Tempo use the object store, with the key pair from secretKeyRef", async () => {
    const { Loki, Tempo } = await load();
    const keys = (bucket: string) => ({
      bucket,
      credentials: {
        accessKey: new SecretKey(`store-${bucket}-credentials`, "accessKey"),
        secretKey: new SecretKey(`store-${bucket}-credentials`, "secretKey"),
      },
    });
    const endpoint = { hostPort: "minio.platform.svc:9000", insecure: true };
    const url = "http://minio.platform.svc:9000";
    new Loki("prod-loki", {
      namespace: "platform",
      objectStorage: { ...keys("loki"), endpoint, url, region: "us-east-1", pathStyle: true },
    });
    new Tempo("prod-tempo", {
      namespace: "platform",
      prometheusRemoteWriteUrl: "http://prometheus.platform.svc:9090/api/v1/write",
      objectStorage: { ...keys("tempo"), endpoint, url, region: "us-east-1", pathStyle: true },
    });
    const loki = await configOf("prod-loki-config", "loki.yaml");
    expect(loki.common.storage.s3).toMatchObject({
      endpoint: "minio.platform.svc:9000",
      bucketnames: "loki",
    });
    const tempo = await configOf("prod-tempo-config", "tempo.yaml");
    expect(tempo.storage.trace.s3).toMatchObject({
      endpoint: "minio.platform.svc:9000",
      bucket: "tempo",
    });
    for (const [name, bucket] of [
      ["prod-loki", "loki"],
      ["prod-tempo", "tempo"],
    ]) {
      const set = await one("kubernetes:apps/v1:StatefulSet", name);
      const [container] = set.spec.template.spec.containers as Obj[];
      expect(container.args).toContain("-config.expand-env=true");
      expect(container.env).toEqual([
        // The render's sign of where the pod may go, which the internet-egress rule reads.
        { name: "S3_ENDPOINT", value: "http://minio.platform.svc:9000" },
        {
          name: "S3_ACCESS_KEY_ID",
          valueFrom: { secretKeyRef: { name: `store-${bucket}-credentials`, key: "accessKey" } },
        },
        {
          name: "S3_SECRET_ACCESS_KEY",
          valueFrom: { secretKeyRef: { name: `store-${bucket}-credentials`, key: "secretKey" } },
        },
      ]);
    }
  });

  it("refuses an S3 endpoint that is not http(s)://host:port", async () => {
    const { objectStorageRules, parseS3Endpoint } = await load();
    expect(parseS3Endpoint("https://s3.example.com")).toEqual({
      hostPort: "s3.example.com",
      insecure: false,
    });
    expect(objectStorageRules({ endpoint: "https://s3.example.com" })).toEqual([]);
    for (const endpoint of ["minio:9000", "http://minio:9000/bucket"]) {
      expect(objectStorageRules({ endpoint })).toEqual([
        { propertyPath: "endpoint", reason: expect.stringMatching(/http\(s\):\/\/host:port/) },
      ]);
    }
  });
});

const GRAFANA = { ingress: { host: "grafana.example.com" } };

describe("the observability rules", () => {
  it("the collector gateway runs at least one whole replica", async () => {
    const { otelCollectorRules } = await load();
    expect(otelCollectorRules({})).toEqual([]);
    expect(otelCollectorRules({ replicas: 2 })).toEqual([]);
    for (const replicas of [0, 1.5]) {
      expect(otelCollectorRules({ replicas })).toEqual([
        { propertyPath: "replicas", reason: expect.stringMatching(/whole number of at least 1/) },
      ]);
    }
  });

  it("kube-state-metrics runs at least one whole replica", async () => {
    const { kubeStateMetricsRules, KubeStateMetrics } = await load();
    expect(kubeStateMetricsRules({})).toEqual([]);
    expect(kubeStateMetricsRules({ replicas: 2 })).toEqual([]);
    expect(kubeStateMetricsRules({ replicas: 0 })).toEqual([
      { propertyPath: "replicas", reason: expect.stringMatching(/whole number of at least 1/) },
    ]);
    const bad = () => new KubeStateMetrics("bad-ksm", { namespace: "platform", replicas: 1.5 });
    expect(catchError(bad)).toMatchObject({
      errors: [expect.objectContaining({ propertyPath: "replicas" })],
    });
  });

  it("refuses a chart file named like the generated backup threshold, before any child exists", async () => {
    const { Observability, BACKUP_RULE_FILE } = await load();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alerts-"));
    try {
      fs.writeFileSync(path.join(dir, BACKUP_RULE_FILE), "groups: []\n");
      const count = async () =>
        (await registeredOfType(mocks, "kubernetes:core/v1:ConfigMap")).length;
      const before = await count();
      const clash = () =>
        new Observability("clash", {
          namespace: "platform",
          grafana: GRAFANA,
          alertsDir: dir,
          backupSchedules: [{ cronJob: "postgres-backup", maxAgeSeconds: 108000 }],
        });
      expect(clash).toThrow(/alertsDir has a file named backup-schedule\.yaml.*rename it/);
      expect(await count()).toBe(before);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every store's volume size is a quantity", async () => {
    const { grafanaRules, lokiRules, prometheusRules, tempoRules } = await load();
    for (const rules of [lokiRules, tempoRules, prometheusRules]) {
      expect(rules({ storageSize: "20Gi" })).toEqual([]);
      expect(rules({ storageSize: "20 GB" })).toEqual([
        { propertyPath: "storageSize", reason: expect.stringMatching(/quantity.*got "20 GB"/) },
      ]);
    }
    expect(grafanaRules({ ...GRAFANA, storageSize: "lots" })).toEqual([
      { propertyPath: "storageSize", reason: expect.stringMatching(/quantity/) },
    ]);
  });

  it("Grafana's host is a lowercase DNS name", async () => {
    const { grafanaRules } = await load();
    expect(grafanaRules(GRAFANA)).toEqual([]);
    for (const host of ["Grafana.example.com", "grafana_example.com", "grafana.example.com."]) {
      expect(grafanaRules({ ingress: { host } })).toEqual([
        {
          propertyPath: "ingress.host",
          reason: expect.stringMatching(/lowercase DNS name/),
        },
      ]);
    }
  });

  it("the stack's rules are its components', each under its key", async () => {
    const { observabilityRules } = await load();
    expect(observabilityRules({ grafana: GRAFANA })).toEqual([]);
    const problems = observabilityRules({
      collector: { replicas: 0 },
      tempo: { retention: "30m" },
      loki: { retention: "0d", storageSize: "big" },
      prometheus: { retention: "15d", storageSize: "20Gi" },
      grafana: { ingress: { host: "Grafana" } },
      objectStorage: {
        endpoint: "minio:9000",
        loki: { bucket: "loki", credentials: keyPair("loki") },
        tempo: { bucket: "tempo", credentials: keyPair("tempo") },
      },
    });
    expect(problems.map((problem) => problem.propertyPath)).toEqual([
      "collector.replicas",
      "tempo.retention",
      "loki.retention",
      "loki.storageSize",
      "grafana.ingress.host",
      "objectStorage.endpoint",
    ]);
  });

  it("the constructors refuse bad args with every problem, before any child exists", async () => {
    const { Grafana, Observability, OtelCollector } = await load();
    const count = async () =>
      (await registeredOfType(mocks, "kubernetes:core/v1:ConfigMap")).length;
    const before = await count();
    expect(
      () =>
        new Observability("bad-stack", {
          namespace: "platform",
          tempo: { retention: "30m" },
          grafana: { ingress: { host: "Bad_Host" } },
        }),
    ).toThrow(
      expect.objectContaining({
        errors: [
          expect.objectContaining({ propertyPath: "tempo.retention" }),
          expect.objectContaining({ propertyPath: "grafana.ingress.host" }),
        ],
      }),
    );
    const grafana = () =>
      new Grafana("bad-grafana", {
        namespace: "platform",
        ingress: { host: "Bad_Host" },
        datasources: { prometheusUrl: "p", tempoUrl: "t", lokiUrl: "l", alertmanagerUrl: "a" },
      });
    expect(pulumi.InputPropertiesError.isInstance(catchError(grafana))).toBe(true);
    const collector = () =>
      new OtelCollector("bad-collector", {
        namespace: "platform",
        replicas: 0,
        exporters: { tempoOtlpGrpc: "t:4317", lokiOtlpHttp: "http://l", prometheusOtlpHttp: "p" },
      });
    expect(catchError(collector)).toMatchObject({
      errors: [expect.objectContaining({ propertyPath: "replicas" })],
    });
    expect(await count()).toBe(before);
  });
});

describe("the observability check", () => {
  it("reports a retention the stores cannot read at its stack key", () => {
    const issues = stackConfigIssues({
      observability: { retention: { metrics: "30m", logs: "0d", traces: "90m" } },
    });
    for (const signal of ["metrics", "logs", "traces"]) {
      expect(issues).toContainEqual({
        key: `k3s-platform:observability.retention.${signal}`,
        message: expect.stringMatching(/hours, days or weeks/),
      });
    }
  });

  it("maps every argument its rules check to the stack key it comes from", async () => {
    const { componentProblems } = await import("../../platform/validate");
    const config = parsedStackConfig();
    const { observability } = config;
    const problems = componentProblems({
      ...config,
      observability: {
        ...observability,
        collectorReplicas: 0,
        retention: { metrics: "1y", logs: "1y", traces: "1y" },
        storage: { prometheus: "a", loki: "b", tempo: "c", grafana: "d" },
        grafana: { ...observability.grafana, host: "Grafana" },
      },
    });
    expect(problems.map((problem) => problem.key).sort()).toEqual(
      [
        "observability.collectorReplicas",
        "observability.grafana.host",
        "observability.retention.logs",
        "observability.retention.metrics",
        "observability.retention.traces",
        "observability.storage.grafana",
        "observability.storage.loki",
        "observability.storage.prometheus",
        "observability.storage.tempo",
      ].sort(),
    );
  });

  it("the shipped defaults pass it", async () => {
    const { componentProblems } = await import("../../platform/validate");
    const { observabilityCheck } = await import("../../platform/args/observability");
    for (const profile of ["dev", "prod"]) {
      const config = parsedStackConfig({ profile });
      expect(observabilityCheck.rules(config)).toEqual([]);
      expect(componentProblems(config).filter((p) => p.key.startsWith("observability"))).toEqual(
        [],
      );
    }
  });
});

function keyPair(name: string) {
  return {
    accessKey: new SecretKey(`store-${name}-credentials`, "accessKey"),
    secretKey: new SecretKey(`store-${name}-credentials`, "secretKey"),
  };
}

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
