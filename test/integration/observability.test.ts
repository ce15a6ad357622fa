/**
 * Our observability configs, as rendered for the dev and prod stacks, read by the real programs at
 * the versions the image catalogue pins: promtool and Prometheus built from their Go module, and a
 * core-only OpenTelemetry Collector built with the collector builder. Loki is not run: its module
 * (`github.com/grafana/loki/v3`) is AGPL-licensed and this environment's package notes say not to
 * use it, so its config is asserted structurally, as are Tempo's (not on the module proxy) and the
 * parts of the Collector's config that need contrib components.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { alertRuleFiles, DEFAULT_ALERTS_DIR, RULES_DIR } from "../../components/observability";
import { binaryPath, ensureGoTool } from "./lib/go-tools";
import { coreOnly, loopbackCollector, type CollectorConfig } from "./lib/collector-config";
import { ensureCollector } from "./lib/otelcol-core";
import {
  freePort,
  loopbackArgs,
  startPrometheus,
  startServer,
  type LoopbackServer,
} from "./lib/prometheus-server";
import {
  renderStackToDir,
  rewritePodPaths,
  run,
  serviceAddress,
  type RenderedStack,
} from "./lib/rendered-stack";
import { otelcolCoreTool, prometheusTool } from "./lib/test-tools";

const STACKS = ["dev", "prod"] as const;
const BUILD_TIMEOUT = 30 * 60_000;
/** The service account mount Prometheus's kubelet jobs read in the pod. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const TESTS_DIR = path.join(DEFAULT_ALERTS_DIR, "tests");

const prometheus = prometheusTool();
const promtool = binaryPath(prometheus, "promtool");
const renders = new Map<string, RenderedStack>();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-observability-"));

beforeAll(async () => {
  // Normally built by test/integration/lib/build-all.ts before vitest; this is the fallback.
  await ensureGoTool(prometheus);
  const rendered = await Promise.all(STACKS.map((stack) => renderStackToDir(stack)));
  for (const render of rendered) renders.set(render.stack, render);
}, BUILD_TIMEOUT);

afterAll(() => {
  for (const render of renders.values()) render.remove();
  fs.rmSync(work, { recursive: true, force: true });
});

function render(stack: string): RenderedStack {
  const found = renders.get(stack);
  if (!found) throw new Error(`the ${stack} stack was not rendered`);
  return found;
}

/**
 * The stack's `prometheus.yml` and rule files written to a local dir, with the pod paths it names
 * (rule files, the service account token and CA) rewritten to local files and nothing else
 * changed. The CA is the system bundle: Prometheus parses it when it builds the kubelet jobs.
 */
function localPrometheusConfig(stack: string, use: string): { file: string; rewrites: string[] } {
  const dir = path.join(work, `prometheus-${stack}-${use}`);
  const rulesDir = path.join(dir, "rules");
  const accountDir = path.join(dir, "serviceaccount");
  fs.mkdirSync(rulesDir, { recursive: true });
  fs.mkdirSync(accountDir, { recursive: true });
  for (const [name, text] of Object.entries(render(stack).configMap("prometheus-rules"))) {
    fs.writeFileSync(path.join(rulesDir, name), text);
  }
  fs.writeFileSync(path.join(accountDir, "token"), "not-a-real-token\n");
  fs.copyFileSync("/etc/ssl/certs/ca-certificates.crt", path.join(accountDir, "ca.crt"));
  const rendered = parse(render(stack).configMap("prometheus-config")["prometheus.yml"]) as unknown;
  const { config, rewrites } = rewritePodPaths(rendered, {
    [RULES_DIR]: rulesDir,
    [SERVICE_ACCOUNT_DIR]: accountDir,
  });
  const file = path.join(dir, "prometheus.yml");
  fs.writeFileSync(file, stringify(config, { lineWidth: 0 }));
  return { file, rewrites };
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string }[] }[];
}
interface RuleTestFile {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

const ruleFileNames = Object.keys(alertRuleFiles());
const ruleTestFiles = fs.readdirSync(TESTS_DIR).filter((file) => file.endsWith(".yaml"));

describe("Prometheus rules, read by promtool at the pinned version", () => {
  it.each(ruleFileNames)("promtool accepts the alert rule file %s", async (file) => {
    await run(promtool, ["check", "rules", "--lint-fatal", path.join(DEFAULT_ALERTS_DIR, file)]);
  });

  it.each(ruleTestFiles)("the alert unit tests in %s pass", async (file) => {
    await run(promtool, ["test", "rules", file], { cwd: TESTS_DIR });
  });

  it("every alert has a unit test that fires it and one that expects silence", () => {
    const alerts = ruleFileNames.flatMap((file) =>
      (parse(fs.readFileSync(path.join(DEFAULT_ALERTS_DIR, file), "utf8")) as RuleFile).groups
        .flatMap((group) => group.rules)
        .flatMap((rule) => (rule.alert ? [rule.alert] : [])),
    );
    const cases = ruleTestFiles.flatMap((file) =>
      (parse(fs.readFileSync(path.join(TESTS_DIR, file), "utf8")) as RuleTestFile).tests.flatMap(
        (test) => test.alert_rule_test ?? [],
      ),
    );
    expect(alerts.length).toBeGreaterThan(0);
    const untested = alerts.filter(
      (alert) =>
        !cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length > 0) ||
        !cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length === 0),
    );
    expect(untested).toEqual([]);
  });
});

describe.each(STACKS)("the %s stack's Prometheus config", (stack) => {
  it("loads exactly the rule files in charts/alerts", () => {
    expect(render(stack).configMap("prometheus-rules")).toEqual(alertRuleFiles());
  });

  it("promtool at the pinned version accepts the rendered prometheus.yml", async () => {
    const { file, rewrites } = localPrometheusConfig(stack, "promtool");
    console.log(
      `${stack} prometheus.yml, paths rewritten for promtool:\n  ${rewrites.join("\n  ")}`,
    );
    const { stdout } = await run(promtool, ["check", "config", file]);
    expect(stdout).toMatch(/SUCCESS/);
  });
});

/** A config ConfigMap's one file, parsed. */
function configFile(stack: string, configMap: string, key: string): Record<string, unknown> {
  return parse(render(stack).configMap(configMap)[key]) as Record<string, unknown>;
}

/** Every string in a parsed config that is an in-cluster Service address, with where it is. */
function serviceAddresses(config: unknown, at = ""): { at: string; address: string }[] {
  if (typeof config === "string") return serviceAddress(config) ? [{ at, address: config }] : [];
  if (Array.isArray(config))
    return config.flatMap((item, i) => serviceAddresses(item, `${at}[${i}]`));
  if (typeof config === "object" && config !== null) {
    return Object.entries(config).flatMap(([key, value]) =>
      serviceAddresses(value, at ? `${at}.${key}` : key),
    );
  }
  return [];
}

/** The args of the rendered Prometheus container. */
function prometheusArgs(stack: string): string[] {
  const statefulSet = render(stack)
    .manifests("StatefulSet")
    .find((m) => (m as { metadata: { name: string } }).metadata.name === "prometheus") as {
    spec: { template: { spec: { containers: { name: string; args: string[] }[] } } };
  };
  return statefulSet.spec.template.spec.containers.find((c) => c.name === "prometheus")?.args ?? [];
}

/** The configs whose addresses must resolve: ConfigMap, key. */
const ADDRESSED_CONFIGS = [
  ["otel-collector-config", "config.yaml"],
  ["node-log-collector-config", "config.yaml"],
  ["tempo-config", "tempo.yaml"],
  ["loki-config", "loki.yaml"],
  ["grafana-config", "datasources.yaml"],
] as const;

describe.each(STACKS)("the %s stack's telemetry wiring", (stack) => {
  it("every in-cluster address in the observability configs reaches a port a workload listens on", () => {
    const broken: string[] = [];
    let checked = 0;
    for (const [configMap, key] of ADDRESSED_CONFIGS) {
      for (const { at, address } of serviceAddresses(configFile(stack, configMap, key))) {
        const target = serviceAddress(address);
        checked += 1;
        if (
          !target ||
          render(stack).targetContainerPort(target.service, target.port) === undefined
        ) {
          broken.push(`${configMap}/${key} ${at}: ${address}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(5);
    expect(broken).toEqual([]);
  });

  it("the Collector receives OTLP on all interfaces where its Service sends it", () => {
    const config = configFile(stack, "otel-collector-config", "config.yaml") as {
      receivers: {
        otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } };
      };
    };
    expect(config.receivers.otlp.protocols.grpc.endpoint).toBe("0.0.0.0:4317");
    expect(config.receivers.otlp.protocols.http.endpoint).toBe("0.0.0.0:4318");
    expect(render(stack).targetContainerPort("otel-collector.platform", 4317)).toBe(4317);
    expect(render(stack).targetContainerPort("otel-collector.platform", 4318)).toBe(4318);
  });

  it("the Collector exports metrics to Prometheus's OTLP receiver, logs to Loki's and traces to Tempo's", () => {
    const { exporters, service } = configFile(stack, "otel-collector-config", "config.yaml") as {
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: Record<string, { exporters: string[] }> };
    };
    const endpoints = (pipeline: string) =>
      service.pipelines[pipeline].exporters.map((name) => exporters[name].endpoint);
    expect(endpoints("metrics")).toEqual([
      expect.stringMatching(
        /^http:\/\/prometheus\.platform\.svc(\.cluster\.local)?:9090\/api\/v1\/otlp$/,
      ),
    ]);
    expect(endpoints("logs")).toEqual([
      expect.stringMatching(/^http:\/\/loki\.platform\.svc(\.cluster\.local)?:3100\/otlp$/),
    ]);
    expect(endpoints("traces")).toEqual([
      expect.stringMatching(/^(http:\/\/)?tempo\.platform\.svc(\.cluster\.local)?:4317$/),
    ]);
    expect(prometheusArgs(stack)).toContain("--web.enable-otlp-receiver");
  });

  it("Tempo receives OTLP on all interfaces and writes span metrics to Prometheus's remote-write receiver", () => {
    const tempo = configFile(stack, "tempo-config", "tempo.yaml") as {
      distributor: { receivers: { otlp: { protocols: Record<string, { endpoint: string }> } } };
      metrics_generator: { storage: { remote_write: { url: string }[] } };
      overrides: { defaults: { metrics_generator: { processors: string[] } } };
    };
    const protocols = tempo.distributor.receivers.otlp.protocols;
    expect(protocols.grpc.endpoint).toBe("0.0.0.0:4317");
    expect(protocols.http.endpoint).toBe("0.0.0.0:4318");
    expect(tempo.metrics_generator.storage.remote_write.map((w) => w.url)).toEqual([
      expect.stringMatching(
        /^http:\/\/prometheus\.platform\.svc(\.cluster\.local)?:9090\/api\/v1\/write$/,
      ),
    ]);
    // The app SLO alerts and the RED dashboard read traces_spanmetrics_*; the service graph needs the other.
    expect(tempo.overrides.defaults.metrics_generator.processors).toEqual(
      expect.arrayContaining(["span-metrics", "service-graphs"]),
    );
    expect(prometheusArgs(stack)).toContain("--web.enable-remote-write-receiver");
  });

  it("Loki stores schema v13 on tsdb and its retention really deletes (a delete request store is set)", () => {
    const loki = configFile(stack, "loki-config", "loki.yaml") as {
      server: { http_listen_port: number };
      schema_config: { configs: { store: string; schema: string; object_store: string }[] };
      compactor: { retention_enabled: boolean; delete_request_store?: string };
      limits_config: { retention_period: string };
    };
    const schemas = loki.schema_config.configs;
    expect(schemas.map((c) => [c.store, c.schema])).toEqual(schemas.map(() => ["tsdb", "v13"]));
    expect(loki.compactor.retention_enabled).toBe(true);
    // Without it Loki 3 refuses to start with retention on; it must be the store the chunks use.
    expect(loki.compactor.delete_request_store).toBe(schemas[schemas.length - 1].object_store);
    expect(loki.limits_config.retention_period).toMatch(/^[1-9]\d*h$/);
    expect(render(stack).targetContainerPort("loki.platform", 3100)).toBe(
      loki.server.http_listen_port,
    );
  });
});

describe("the Collector configs, validated by a core-only collector at the pinned release", () => {
  const collector = otelcolCoreTool();
  let binary = "";

  beforeAll(async () => {
    binary = await ensureCollector(collector);
  }, BUILD_TIMEOUT);

  const cases = STACKS.flatMap((stack) =>
    ["otel-collector-config", "node-log-collector-config"].map((configMap) => ({
      stack,
      configMap,
    })),
  );

  it.each(cases)("otelcol validate accepts the $stack $configMap", async ({ stack, configMap }) => {
    const { config, changes } = coreOnly(
      configFile(stack, configMap, "config.yaml") as unknown as CollectorConfig,
    );
    console.log(
      `${stack} ${configMap}, core-only copy:\n  ${changes.join("\n  ") || "(unchanged)"}`,
    );
    const file = path.join(work, `${stack}-${configMap}.yaml`);
    fs.writeFileSync(file, stringify(config, { lineWidth: 0 }));
    await run(binary, ["validate", `--config=${file}`]);
  });
});

/** An OTLP/JSON attribute list. */
function otlpAttributes(attributes: Record<string, string>) {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } }));
}

describe("metrics through our Collector config into a real Prometheus on our config (prod)", () => {
  let prometheusServer: LoopbackServer | undefined;
  let collectorServer: LoopbackServer | undefined;
  let otlpHttp = "";

  beforeAll(async () => {
    // Prometheus with the StatefulSet's own flags (OTLP and remote-write receivers, features).
    const { file } = localPrometheusConfig("prod", "server");
    const dataDir = fs.mkdtempSync(path.join(work, "tsdb-"));
    const args = loopbackArgs(prometheusArgs("prod"), {
      configFile: file,
      dataDir,
      port: await freePort(),
    });
    console.log(`prometheus ${args.join(" ")}`);
    prometheusServer = await startPrometheus(binaryPath(prometheus, "prometheus"), args);

    // The gateway config, core-only, pointed at loopback: only addresses change, listed below.
    const binary = await ensureCollector(otelcolCoreTool());
    const { config, changes } = coreOnly(
      configFile("prod", "otel-collector-config", "config.yaml") as unknown as CollectorConfig,
    );
    const [grpcPort, httpPort, telemetryPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const local = loopbackCollector(config, prometheusServer.url, {
      grpcPort,
      httpPort,
      telemetryPort,
    });
    console.log(
      `collector, core-only and on loopback:\n  ${[...changes, ...local.changes].join("\n  ")}`,
    );
    const collectorFile = path.join(work, "collector-loopback.yaml");
    fs.writeFileSync(collectorFile, stringify(local.config, { lineWidth: 0 }));
    otlpHttp = `http://127.0.0.1:${httpPort}`;
    collectorServer = await startServer(
      binary,
      [`--config=${collectorFile}`],
      otlpHttp,
      `http://127.0.0.1:${telemetryPort}/metrics`,
    );
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await collectorServer?.stop();
    await prometheusServer?.stop();
  });

  function prometheusUrl(): string {
    if (!prometheusServer) throw new Error("prometheus did not start");
    return prometheusServer.url;
  }

  it("Prometheus loads every alert of charts/alerts", async () => {
    const response = await fetch(`${prometheusUrl()}/api/v1/rules?type=alert`);
    const body = (await response.json()) as {
      data: { groups: { rules: { name: string; health: string }[] }[] };
    };
    const loaded = body.data.groups.flatMap((group) => group.rules.map((rule) => rule.name));
    const expected = Object.values(alertRuleFiles()).flatMap((text) =>
      (parse(text) as RuleFile).groups
        .flatMap((group) => group.rules)
        .flatMap((rule) => (rule.alert ? [rule.alert] : [])),
    );
    expect(loaded.sort()).toEqual([...expected].sort());
  });

  it("an app's OTLP counter reaches Prometheus with the labels dashboards filter on", async () => {
    const nowNs = `${BigInt(Date.now()) * 1_000_000n}`;
    // What the app's OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME put on every signal.
    const resource = {
      "service.name": "web",
      "service.namespace": "k3s-platform",
      "service.instance.id": "web-7d9f-abcde",
      "deployment.environment.name": "prod",
      "k8s.namespace.name": "platform",
      "k8s.pod.name": "web-7d9f-abcde",
      "k8s.deployment.name": "web",
    };
    const payload = {
      resourceMetrics: [
        {
          resource: { attributes: otlpAttributes(resource) },
          scopeMetrics: [
            {
              scope: { name: "k3s-platform-integration" },
              metrics: [
                {
                  name: "k3s.platform.test.requests",
                  sum: {
                    aggregationTemporality: 2,
                    isMonotonic: true,
                    dataPoints: [
                      {
                        asInt: "3",
                        startTimeUnixNano: nowNs,
                        timeUnixNano: nowNs,
                        attributes: otlpAttributes({ "http.route": "/api/items" }),
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const posted = await fetch(`${otlpHttp}/v1/metrics`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
    });
    expect(posted.status, await posted.text()).toBe(200);
    const query = encodeURIComponent('{__name__=~"k3s_platform_test_requests.*"}');
    type Result = { metric: Record<string, string>; value: [number, string] }[];
    let result: Result = [];
    // The collector batches for up to 1 s before it exports.
    for (let attempt = 0; attempt < 60 && result.length === 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      const answer = await fetch(`${prometheusUrl()}/api/v1/query?query=${query}`);
      result = ((await answer.json()) as { data: { result: Result } }).data.result;
    }
    expect(result, collectorServer?.log()).toHaveLength(1);
    const [{ metric, value }] = result;
    console.log(`Prometheus stored: ${JSON.stringify(metric)} = ${value[1]}`);
    expect(value[1]).toBe("3");
    expect(metric).toMatchObject({
      __name__: "k3s_platform_test_requests_total",
      job: "k3s-platform/web",
      instance: "web-7d9f-abcde",
      http_route: "/api/items",
      deployment_environment_name: "prod",
      k8s_namespace_name: "platform",
      k8s_pod_name: "web-7d9f-abcde",
      k8s_deployment_name: "web",
    });
  });
});
