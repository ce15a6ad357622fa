/**
 * The app's telemetry through our prod configs, for real on loopback: a Node.js program on the
 * OpenTelemetry SDK, configured only by the OTEL_ variables of the rendered `app-web` Deployment,
 * sends a span, a log record inside it and a counter to our gateway Collector config (core-only
 * copy, contrib components removed and listed), which exports metrics to a real Prometheus 3 on
 * our config. Loki (AGPL, which this environment's package notes say not to use) and Tempo (not
 * on the module proxy) cannot run here: a second core collector stands in for both, receiving
 * what our config sends them at their OTLP paths and printing every record, which the test reads.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { alertRuleFiles } from "../../components/observability";
import {
  coreOnly,
  loopbackCollector,
  printedLogRecords,
  printedSpans,
  standInCollector,
  type CollectorConfig,
} from "./lib/collector-config";
import { binaryPath, ensureGoTool } from "./lib/go-tools";
import { configFile, localPrometheusConfig, prometheusArgs } from "./lib/observability-render";
import { ensureCollector } from "./lib/otelcol-core";
import { freePort } from "./lib/process";
import {
  loopbackArgs,
  startPrometheus,
  startServer,
  type LoopbackServer,
} from "./lib/prometheus-server";
import { renderStackToDir, type RenderedStack } from "./lib/rendered-stack";
import { otelcolCoreTool, prometheusTool } from "./lib/test-tools";
import { EMITTED, type EmitReport } from "./telemetry-program/emitted";

const BUILD_TIMEOUT = 30 * 60_000;
const EMIT_PROGRAM = path.join(__dirname, "telemetry-program", "emit.ts");
/** What the kubelet would put in the downward-API variables; the namespace is the render's. */
const POD = { name: "app-web-7d9f8c6b5-x2x4q", node: "k3s-node-1" };

const work = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-telemetry-"));
const servers: LoopbackServer[] = [];
let render: RenderedStack | undefined;
let prometheus: LoopbackServer | undefined;
let standIn: LoopbackServer | undefined;
let report: EmitReport | undefined;
let programEnv: Record<string, string> = {};

/**
 * Starts a collector on a config written to the work dir, its own metrics moved to a free loopback
 * port (listed), and ready when they answer.
 */
async function startCollector(name: string, config: CollectorConfig): Promise<LoopbackServer> {
  const telemetryPort = await freePort();
  console.log(`${name}: own metrics on 127.0.0.1:${telemetryPort}`);
  const withTelemetry = {
    ...config,
    service: {
      ...config.service,
      telemetry: {
        ...config.service.telemetry,
        metrics: {
          readers: [
            { pull: { exporter: { prometheus: { host: "127.0.0.1", port: telemetryPort } } } },
          ],
        },
      },
    },
  };
  const file = path.join(work, `${name}.yaml`);
  fs.writeFileSync(file, stringify(withTelemetry, { lineWidth: 0 }));
  const metricsUrl = `http://127.0.0.1:${telemetryPort}/metrics`;
  const binary = await ensureCollector(otelcolCoreTool());
  const server = await startServer(binary, [`--config=${file}`], metricsUrl, metricsUrl);
  servers.push(server);
  return server;
}

/**
 * The app-web container's OTEL_ variables as the kubelet would hand them over: `$(VAR)` expanded
 * from the downward-API variables (pod and node names from {@link POD}), and the Collector's
 * in-cluster address replaced by the loopback gateway. Returns what was replaced, for the log.
 */
function webOtelEnv(
  stack: RenderedStack,
  gatewayHttp: string,
): {
  env: Record<string, string>;
  rewrites: string[];
} {
  const web = stack.container("Deployment", "app-web");
  const vars = web.env ?? [];
  const fields: Record<string, string> = {
    "metadata.name": POD.name,
    "metadata.namespace": web.namespace,
    "spec.nodeName": POD.node,
  };
  const downward = Object.fromEntries(
    vars.flatMap((v) =>
      v.valueFrom?.fieldRef ? [[v.name, fields[v.valueFrom.fieldRef.fieldPath]]] : [],
    ),
  );
  const rewrites = Object.entries(downward).map(([name, value]) => `$(${name}) -> ${value}`);
  const env: Record<string, string> = {};
  for (const v of vars.filter((v) => v.name.startsWith("OTEL_"))) {
    env[v.name] = (v.value ?? "").replace(/\$\((\w+)\)/g, (_, name: string) => downward[name]);
  }
  rewrites.push(
    `OTEL_EXPORTER_OTLP_ENDPOINT: ${env.OTEL_EXPORTER_OTLP_ENDPOINT} -> ${gatewayHttp}`,
  );
  env.OTEL_EXPORTER_OTLP_ENDPOINT = gatewayHttp;
  return { env, rewrites };
}

/** Polls `find` every 100 ms until it returns a value; throws after `timeoutMs`. */
async function eventually<T>(
  what: string,
  find: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function renderedStack(): RenderedStack {
  if (!render) throw new Error("the prod stack was not rendered");
  return render;
}

function emitted(): EmitReport {
  if (!report) throw new Error("the telemetry program did not report");
  return report;
}

beforeAll(async () => {
  await ensureGoTool(prometheusTool());
  render = await renderStackToDir("prod");

  const { file } = localPrometheusConfig(render, path.join(work, "prometheus"));
  const args = loopbackArgs(prometheusArgs(render), {
    configFile: file,
    dataDir: fs.mkdtempSync(path.join(work, "tsdb-")),
    port: await freePort(),
  });
  prometheus = await startPrometheus(binaryPath(prometheusTool(), "prometheus"), args);
  servers.push(prometheus);

  const gatewayConfig = configFile(render, "otel-collector-config", "config.yaml");
  const exporters = gatewayConfig.exporters as Record<string, { endpoint: string }>;
  const lokiExporter = (gatewayConfig.service as CollectorConfig["service"]).pipelines.logs
    .exporters[0];
  // The OTLP/HTTP exporter appends /v1/logs to its endpoint's path (`/otlp` for Loki).
  const logsPath = `${new URL(exporters[lokiExporter].endpoint).pathname}/v1/logs`;
  const [standInHttp, standInGrpc] = [await freePort(), await freePort()];
  standIn = await startCollector(
    "stand-in",
    standInCollector({ httpPort: standInHttp, grpcPort: standInGrpc, logsPath }),
  );

  const { config, changes } = coreOnly(gatewayConfig as unknown as CollectorConfig);
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const local = loopbackCollector(
    config,
    {
      prometheus: prometheus.url,
      loki: `http://127.0.0.1:${standInHttp}`,
      tempo: `127.0.0.1:${standInGrpc}`,
    },
    { grpcPort, httpPort },
  );
  console.log(
    `gateway, core-only and on loopback (logs and traces to the stand-in at ${logsPath} and ` +
      `gRPC):\n  ${[...changes, ...local.changes].join("\n  ")}`,
  );
  await startCollector("gateway", local.config);

  const { env, rewrites } = webOtelEnv(render, `http://127.0.0.1:${httpPort}`);
  console.log(`the program's environment, from app-web:\n  ${rewrites.join("\n  ")}`);
  programEnv = env;
  // Only the Deployment's OTEL_ variables: none of this process's own reach the program.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("OTEL_")),
  ) as Record<string, string>;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", EMIT_PROGRAM],
    { env: { ...inherited, ...env } },
  );
  report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as EmitReport;
}, BUILD_TIMEOUT);

afterAll(async () => {
  for (const server of servers.reverse()) await server.stop();
  render?.remove();
  fs.rmSync(work, { recursive: true, force: true });
});

describe("a real Prometheus 3 on our prod config", () => {
  it("loads every alert of charts/alerts", async () => {
    const response = await fetch(`${prometheus?.url}/api/v1/rules?type=alert`);
    const body = (await response.json()) as {
      data: { groups: { rules: { name: string }[] }[] };
    };
    const loaded = body.data.groups.flatMap((group) => group.rules.map((rule) => rule.name));
    const expected = Object.values(alertRuleFiles()).flatMap((text) =>
      (parse(text) as { groups: { rules: { alert?: string }[] }[] }).groups
        .flatMap((group) => group.rules)
        .flatMap((rule) => (rule.alert ? [rule.alert] : [])),
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(loaded.sort()).toEqual([...expected].sort());
  });
});

describe("an app's telemetry through our prod Collector config", () => {
  it("is configured by the app-web Deployment's three OTEL_ variables alone", () => {
    expect(Object.keys(programEnv).sort()).toEqual([
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "OTEL_RESOURCE_ATTRIBUTES",
      "OTEL_SERVICE_NAME",
    ]);
    expect(emitted().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("delivers the log record to Loki's OTLP endpoint carrying the span's trace id", async () => {
    const { traceId, spanId, emittedAtMs } = emitted();
    const record = await eventually("the log record at the Loki stand-in", () =>
      printedLogRecords(standIn?.log() ?? "").find((r) => r.body === EMITTED.logBody),
    );
    console.log(`span emitted -> log record at Loki's endpoint: ${Date.now() - emittedAtMs} ms`);
    expect(record.traceId).toBe(traceId);
    expect(record.spanId).toBe(spanId);
    expect(record.attributes["http.route"]).toBe(EMITTED.route);
    // Loki makes index labels of these (service_name, k8s_namespace_name): our log queries use them.
    expect(record.resource).toMatchObject({
      "service.name": "web",
      "k8s.namespace.name": "platform",
      "k8s.pod.name": POD.name,
    });
  });

  it("delivers the span to Tempo's OTLP endpoint", async () => {
    const { traceId, spanId } = emitted();
    const span = await eventually("the span at the Tempo stand-in", () =>
      printedSpans(standIn?.log() ?? "").find((s) => s.traceId === traceId),
    );
    expect(span).toMatchObject({ name: EMITTED.span, spanId });
    expect(span.resource["service.name"]).toBe("web");
  });

  it("stores the counter in Prometheus with the labels our queries filter on", async () => {
    const query = encodeURIComponent(`${EMITTED.counter.replaceAll(".", "_")}_total`);
    type Result = { metric: Record<string, string>; value: [number, string] }[];
    const [series] = await eventually("the counter in Prometheus", async () => {
      const answer = await fetch(`${prometheus?.url}/api/v1/query?query=${query}`);
      const { data } = (await answer.json()) as { data: { result: Result } };
      return data.result.length > 0 ? data.result : undefined;
    });
    console.log(
      `span emitted -> counter queryable in Prometheus: ${Date.now() - emitted().emittedAtMs} ms`,
    );
    console.log(`Prometheus stored: ${JSON.stringify(series.metric)} = ${series.value[1]}`);
    expect(series.value[1]).toBe("1");
    const resource = Object.fromEntries(
      programEnv.OTEL_RESOURCE_ATTRIBUTES.split(",").map((pair) => pair.split("=", 2)),
    ) as Record<string, string>;
    // Prometheus's OTLP receiver names the job <service.namespace>/<service.name>.
    expect(series.metric).toMatchObject({
      job: `${resource["service.namespace"]}/web`,
      http_route: EMITTED.route,
      deployment_environment_name: "prod",
      k8s_namespace_name: "platform",
      k8s_pod_name: POD.name,
      k8s_node_name: POD.node,
      k8s_deployment_name: "app-web",
    });
  });
});

describe("Grafana's trace links from Loki", () => {
  type DerivedField = { name: string; matcherType: string; matcherRegex: string };
  /** The Loki datasource's derived fields, from the rendered provisioning file. */
  const derivedFields = (): DerivedField[] => {
    const provisioning = configFile(renderedStack(), "grafana-config", "datasources.yaml") as {
      datasources: { type: string; jsonData: { derivedFields?: DerivedField[] } }[];
    };
    const loki = provisioning.datasources.find((d) => d.type === "loki");
    // Grafana reads `$$` in provisioning files as a literal `$`.
    return (loki?.jsonData.derivedFields ?? []).map((field) => ({
      ...field,
      matcherRegex: field.matcherRegex.replaceAll("$$", "$"),
    }));
  };

  it("read the OTLP record's trace id from the field Loki stores it in", () => {
    // Loki keeps an OTLP record's trace id as structured metadata named trace_id (not run here).
    const byLabel = derivedFields().filter((f) => f.matcherType === "label");
    expect(byLabel.map((f) => f.matcherRegex)).toEqual(["trace_id"]);
  });

  it("extract the SDK's trace id from log lines that print it", () => {
    const { traceId } = emitted();
    const [inLine] = derivedFields().filter((f) => f.matcherType === "regex");
    // Grafana applies the regex in the browser: JavaScript's RegExp is the engine that runs it.
    const regex = new RegExp(inLine.matcherRegex);
    for (const line of [
      `level=info msg="order placed" trace_id=${traceId} span_id=${emitted().spanId}`,
      JSON.stringify({ level: "info", msg: EMITTED.logBody, trace_id: traceId }),
      JSON.stringify({ level: "info", msg: EMITTED.logBody, traceId }),
    ]) {
      expect(regex.exec(line)?.[1], line).toBe(traceId);
    }
  });
});
