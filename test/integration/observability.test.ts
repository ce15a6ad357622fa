/**
 * Our observability configs, as rendered for the dev and prod stacks, read by the real programs at
 * the versions the image catalogue pins: promtool and Prometheus built from their Go module, and a
 * core-only OpenTelemetry Collector built with the collector builder. Loki is not run: its module
 * (`github.com/grafana/loki/v3`) is AGPL-licensed and this environment's package notes say not to
 * use it, so its config is asserted structurally, as are Tempo's (not on the module proxy) and the
 * parts of the Collector's config that need contrib components. The signals' path through these
 * configs, from an app's SDK to storage, is `telemetry-pipeline.test.ts`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  alertRuleFiles,
  BACKUP_RULE_FILE,
  backupRuleFile,
  DEFAULT_ALERTS_DIR,
} from "../../components/observability";
import { binaryPath, ensureGoTool } from "./lib/go-tools";
import { coreOnly, type CollectorConfig } from "./lib/collector-config";
import {
  configFile as renderedConfigFile,
  localPrometheusConfig as localConfigIn,
  prometheusArgs as renderedPrometheusArgs,
} from "./lib/observability-render";
import { ensureCollector } from "./lib/otelcol-core";
import { renderStackToDir, run, serviceAddress, type RenderedStack } from "./lib/rendered-stack";
import { otelcolCoreTool, prometheusTool } from "./lib/test-tools";

const STACKS = ["dev", "prod"] as const;
const BUILD_TIMEOUT = 30 * 60_000;
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

/** The stack's `prometheus.yml` and rules in a scratch dir of their own, pod paths rewritten. */
function localPrometheusConfig(stack: string, use: string): { file: string; rewrites: string[] } {
  return localConfigIn(render(stack), path.join(work, `prometheus-${stack}-${use}`));
}

function configFile(stack: string, configMap: string, key: string): Record<string, unknown> {
  return renderedConfigFile(render(stack), configMap, key);
}

function prometheusArgs(stack: string): string[] {
  return renderedPrometheusArgs(render(stack));
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
  it("loads exactly the rule files in charts/alerts, and the backup threshold when backups run", async () => {
    const { [BACKUP_RULE_FILE]: backupRules, ...files } =
      render(stack).configMap("prometheus-rules");
    expect(files).toEqual(alertRuleFiles());
    // dev runs no backups; prod's daily dumps (0 3 * * *) and daily base backups (30 1 * * *)
    // each allow 24 h plus a 6 h run.
    if (stack === "dev") {
      expect(backupRules).toBeUndefined();
      return;
    }
    expect(backupRules).toBe(
      backupRuleFile([
        { cronJob: "postgres-backup", maxAgeSeconds: 30 * 3600 },
        { cronJob: "postgres-basebackup", maxAgeSeconds: 30 * 3600 },
      ]),
    );
    const file = path.join(work, `${stack}-${BACKUP_RULE_FILE}`);
    fs.writeFileSync(file, backupRules);
    await run(promtool, ["check", "rules", "--lint-fatal", file]);
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
