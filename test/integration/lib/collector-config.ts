/**
 * Copies of our rendered Collector configs that a core-only collector can run: the contrib
 * components removed (and listed), and, for running on loopback, only addresses changed.
 */

/** Components of the contrib distribution our image runs that the core-only build lacks. */
export const CONTRIB_ONLY = {
  // file_storage keeps the node log collector's filelog offsets (read by filelog only).
  extensions: ["health_check", "file_storage"],
  receivers: ["filelog"],
  processors: ["k8sattributes"],
} as const;

export interface CollectorConfig {
  extensions?: Record<string, unknown>;
  receivers: Record<string, unknown>;
  processors?: Record<string, unknown>;
  exporters: Record<string, unknown>;
  service: {
    extensions?: string[];
    telemetry?: Record<string, unknown>;
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
  };
}

/**
 * A copy of a Collector config with the contrib-only components removed (from their section and
 * from every pipeline); a pipeline left without a receiver gets a core `otlp` receiver instead.
 * Returns what was changed, one line each, for the test to print.
 */
export function coreOnly(config: CollectorConfig): { config: CollectorConfig; changes: string[] } {
  const copy = structuredClone(config);
  const changes: string[] = [];
  for (const [section, names] of Object.entries(CONTRIB_ONLY) as [
    keyof typeof CONTRIB_ONLY,
    readonly string[],
  ][]) {
    // A component id is `type` or `type/name`: every id of a contrib-only type goes.
    const components = copy[section] as Record<string, unknown> | undefined;
    const ids = Object.keys(components ?? {}).filter((id) => names.includes(id.split("/")[0]));
    for (const name of ids) {
      if (!components) continue;
      delete components[name];
      changes.push(`removed ${section}.${name}`);
      if (section === "extensions") {
        copy.service.extensions = copy.service.extensions?.filter((e) => e !== name);
        continue;
      }
      for (const [pipelineName, pipeline] of Object.entries(copy.service.pipelines)) {
        const list = pipeline[section] ?? [];
        if (!list.includes(name)) continue;
        pipeline[section] = list.filter((n) => n !== name);
        changes.push(`removed ${name} from pipeline ${pipelineName}`);
        if (section === "receivers" && pipeline.receivers.length === 0) {
          copy.receivers.otlp ??= { protocols: { grpc: { endpoint: "127.0.0.1:4317" } } };
          pipeline.receivers = ["otlp"];
          changes.push(`pipeline ${pipelineName} receives from a stand-in otlp receiver instead`);
        }
      }
    }
  }
  return { config: copy, changes };
}

/** Where the loopback gateway sends each signal instead of the in-cluster Services. */
export interface LoopbackTargets {
  /** Base URL of the Prometheus standing in for `prometheus.platform.svc:9090`. */
  prometheus: string;
  /** Base URL of what receives Loki's OTLP requests (`loki.platform.svc:3100`). */
  loki: string;
  /** `host:port` of what receives Tempo's OTLP gRPC (`tempo.platform.svc:4317`). */
  tempo: string;
}

/**
 * The core-only gateway config on loopback: receivers on free loopback ports, and each pipeline's
 * exporters pointed at the loopback stand-in for its backend, with only the
 * scheme and host part of the endpoint replaced (paths kept: `/api/v1/otlp`, `/otlp`).
 */
export function loopbackCollector(
  config: CollectorConfig,
  targets: LoopbackTargets,
  ports: { grpcPort: number; httpPort: number },
): { config: CollectorConfig; changes: string[] } {
  const copy = structuredClone(config) as CollectorConfig & {
    receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
    exporters: Record<string, { endpoint?: string }>;
  };
  const changes: string[] = [];
  copy.receivers.otlp.protocols.grpc.endpoint = `127.0.0.1:${ports.grpcPort}`;
  copy.receivers.otlp.protocols.http.endpoint = `127.0.0.1:${ports.httpPort}`;
  changes.push(`otlp receiver on 127.0.0.1:${ports.grpcPort} (grpc), :${ports.httpPort} (http)`);
  const targetOf = { metrics: targets.prometheus, logs: targets.loki, traces: targets.tempo };
  for (const [pipeline, target] of Object.entries(targetOf)) {
    for (const name of copy.service.pipelines[pipeline]?.exporters ?? []) {
      const exporter = copy.exporters[name];
      if (!exporter.endpoint) continue;
      const local = /^https?:\/\//.test(exporter.endpoint)
        ? exporter.endpoint.replace(/^https?:\/\/[^/]+/, target)
        : target;
      changes.push(`exporters.${name}.endpoint: ${exporter.endpoint} -> ${local}`);
      exporter.endpoint = local;
    }
  }
  return { config: copy, changes };
}

/**
 * A core collector standing in for Loki and Tempo, which cannot run here: it receives OTLP logs
 * over HTTP at Loki's OTLP path and traces over gRPC, as the gateway sends them, and prints every
 * record in full (the debug exporter, `detailed`), which the test reads.
 */
export function standInCollector(ports: {
  httpPort: number;
  grpcPort: number;
  /** The path Loki takes OTLP logs on, e.g. `/otlp/v1/logs`. */
  logsPath: string;
}): CollectorConfig {
  return {
    receivers: {
      otlp: {
        protocols: {
          http: { endpoint: `127.0.0.1:${ports.httpPort}`, logs_url_path: ports.logsPath },
          grpc: { endpoint: `127.0.0.1:${ports.grpcPort}` },
        },
      },
    },
    exporters: { debug: { verbosity: "detailed" } },
    service: {
      pipelines: {
        logs: { receivers: ["otlp"], exporters: ["debug"] },
        traces: { receivers: ["otlp"], exporters: ["debug"] },
      },
    },
  };
}

/** One log record as the debug exporter (`verbosity: detailed`) printed it. */
export interface PrintedLogRecord {
  body: string;
  traceId: string;
  spanId: string;
  attributes: Record<string, string>;
  resource: Record<string, string>;
}

/** One span as the debug exporter printed it. */
export interface PrintedSpan {
  name: string;
  traceId: string;
  spanId: string;
  resource: Record<string, string>;
}

/** `-> key: Type(value)` lines: the debug exporter's attribute lists. */
function printedAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [, key, value] of text.matchAll(/^\s*-> ([^:]+): \w+\((.*)\)$/gm)) {
    attributes[key] = value;
  }
  return attributes;
}

/** The `Resource attributes:` block that opens a resource's chunk. */
function printedResource(chunk: string): Record<string, string> {
  const block = /Resource attributes:\n((?:\s*->.*\n)*)/.exec(chunk)?.[1] ?? "";
  return printedAttributes(block);
}

/**
 * The items of one signal in a collector's output (`ResourceLog #0` … `LogRecord #0` …), each read
 * by `read` from its own lines, with the attributes of the resource it came under.
 */
function printedItems<T>(
  output: string,
  markers: { resource: string; item: string },
  read: (item: string, resource: Record<string, string>) => T,
): T[] {
  return output
    .split(new RegExp(`${markers.resource} #\\d+\n`))
    .slice(1)
    .flatMap((chunk) => {
      const resource = printedResource(chunk);
      return chunk
        .split(new RegExp(`${markers.item} #\\d+\n`))
        .slice(1)
        .map((item) => read(item, resource));
    });
}

/** Every log record in a collector's output, with the resource it came under. */
export function printedLogRecords(output: string): PrintedLogRecord[] {
  return printedItems(
    output,
    { resource: "ResourceLog", item: "LogRecord" },
    (record, resource) => ({
      body: /^Body: \w+\((.*)\)$/m.exec(record)?.[1] ?? "",
      traceId: /^Trace ID: (\w*)$/m.exec(record)?.[1] ?? "",
      spanId: /^Span ID: (\w*)$/m.exec(record)?.[1] ?? "",
      attributes: printedAttributes(/^Attributes:\n((?:\s*->.*\n)*)/m.exec(record)?.[1] ?? ""),
      resource,
    }),
  );
}

/** Every span in a collector's output, with the resource it came under. */
export function printedSpans(output: string): PrintedSpan[] {
  return printedItems(output, { resource: "ResourceSpans", item: "Span" }, (span, resource) => ({
    name: /^\s*Name\s*: (.*)$/m.exec(span)?.[1] ?? "",
    traceId: /^\s*Trace ID\s*: (\w*)$/m.exec(span)?.[1] ?? "",
    spanId: /^\s*ID\s*: (\w*)$/m.exec(span)?.[1] ?? "",
    resource,
  }));
}
