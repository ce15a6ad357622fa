/**
 * Copies of our rendered Collector configs that a core-only collector can run: the contrib
 * components removed (and listed), and, for running on loopback, only addresses changed.
 */

/** Components of the contrib distribution our image runs that the core-only build lacks. */
export const CONTRIB_ONLY = {
  extensions: ["health_check"],
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
    for (const name of names) {
      const components = copy[section] as Record<string, unknown> | undefined;
      if (!components || !(name in components)) continue;
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

/**
 * The core-only gateway config on loopback: receivers and its own metrics on free loopback ports,
 * the Prometheus exporter at the loopback Prometheus (same path), and the logs and traces
 * pipelines into the debug exporter (Loki is not run here, Tempo cannot be built).
 */
export function loopbackCollector(
  config: CollectorConfig,
  prometheusUrl: string,
  ports: { grpcPort: number; httpPort: number; telemetryPort: number },
): { config: CollectorConfig; changes: string[] } {
  const copy = structuredClone(config) as CollectorConfig & {
    receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
    exporters: Record<string, { endpoint?: string; verbosity?: string }>;
    service: { telemetry?: { metrics?: { readers?: unknown[] } } };
  };
  const changes: string[] = [];
  copy.receivers.otlp.protocols.grpc.endpoint = `127.0.0.1:${ports.grpcPort}`;
  copy.receivers.otlp.protocols.http.endpoint = `127.0.0.1:${ports.httpPort}`;
  changes.push(`otlp receiver on 127.0.0.1:${ports.grpcPort} (grpc), :${ports.httpPort} (http)`);
  copy.service.telemetry = {
    ...copy.service.telemetry,
    metrics: {
      readers: [
        { pull: { exporter: { prometheus: { host: "127.0.0.1", port: ports.telemetryPort } } } },
      ],
    },
  };
  changes.push(`own metrics on 127.0.0.1:${ports.telemetryPort}`);
  for (const name of copy.service.pipelines.metrics.exporters) {
    const exporter = copy.exporters[name];
    if (!exporter.endpoint) continue;
    const local = exporter.endpoint.replace(/^https?:\/\/[^/]+/, prometheusUrl);
    changes.push(`exporters.${name}.endpoint: ${exporter.endpoint} -> ${local}`);
    exporter.endpoint = local;
  }
  copy.exporters.debug = { verbosity: "basic" };
  for (const pipeline of ["logs", "traces"]) {
    const list = copy.service.pipelines[pipeline];
    if (!list) continue;
    changes.push(`pipeline ${pipeline} exports to debug instead of ${list.exporters.join(", ")}`);
    list.exporters = ["debug"];
  }
  return { config: copy, changes };
}
