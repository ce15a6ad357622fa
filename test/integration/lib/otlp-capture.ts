import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { freePort } from "./process";

/**
 * A loopback OTLP/HTTP receiver that keeps what a collector exports, for tests that check what
 * arrives: the collector's `otlp_http` exporter with `encoding: json` posts `/v1/logs`,
 * `/v1/traces` and `/v1/metrics` here (gzip-compressed by default).
 */

/** An attribute as OTLP/JSON writes it. */
interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean };
}

/** One exported resource: its attributes, and the log bodies or span names under it. */
export interface CapturedResource {
  signal: "logs" | "traces" | "metrics";
  attributes: Record<string, string>;
  /** Log record bodies (logs) or span names (traces). */
  items: string[];
}

export interface OtlpCapture {
  /** `http://127.0.0.1:<port>`, the exporter's endpoint. */
  url: string;
  /** Everything received so far, one entry per resource. */
  resources(): CapturedResource[];
  close(): Promise<void>;
}

function flatten(attributes: KeyValue[] | undefined): Record<string, string> {
  return Object.fromEntries(
    (attributes ?? []).map(({ key, value }) => [
      key,
      String(value.stringValue ?? value.intValue ?? value.boolValue ?? ""),
    ]),
  );
}

interface ExportRequest {
  resourceLogs?: {
    resource?: { attributes?: KeyValue[] };
    scopeLogs?: { logRecords?: { body?: { stringValue?: string } }[] }[];
  }[];
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: { name?: string }[] }[];
  }[];
  resourceMetrics?: { resource?: { attributes?: KeyValue[] } }[];
}

function resourcesOf(request: ExportRequest): CapturedResource[] {
  return [
    ...(request.resourceLogs ?? []).map((entry) => ({
      signal: "logs" as const,
      attributes: flatten(entry.resource?.attributes),
      items: (entry.scopeLogs ?? []).flatMap((scope) =>
        (scope.logRecords ?? []).map((record) => record.body?.stringValue ?? ""),
      ),
    })),
    ...(request.resourceSpans ?? []).map((entry) => ({
      signal: "traces" as const,
      attributes: flatten(entry.resource?.attributes),
      items: (entry.scopeSpans ?? []).flatMap((scope) =>
        (scope.spans ?? []).map((span) => span.name ?? ""),
      ),
    })),
    ...(request.resourceMetrics ?? []).map((entry) => ({
      signal: "metrics" as const,
      attributes: flatten(entry.resource?.attributes),
      items: [],
    })),
  ];
}

export async function startOtlpCapture(): Promise<OtlpCapture> {
  const received: CapturedResource[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      try {
        const raw = Buffer.concat(chunks);
        const body = request.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
        received.push(...resourcesOf(JSON.parse(body.toString("utf8")) as ExportRequest));
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      } catch (error) {
        response.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    resources: () => [...received],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The parts of a collector config {@link exportToCapture} rewrites. */
export interface CapturedCollectorConfig {
  extensions: Record<string, unknown>;
  exporters: Record<string, unknown>;
  service: {
    telemetry: { metrics: unknown };
    pipelines: Record<string, { exporters: string[] }>;
  };
}

/**
 * Points every pipeline of a collector config at `capture` (one `otlp_http` exporter, JSON
 * encoded) and moves the collector's own endpoints, health check and telemetry, to free loopback
 * ports. Returns the health check's URL, which answers once the collector is ready.
 */
export async function exportToCapture(
  config: CapturedCollectorConfig,
  capture: OtlpCapture,
): Promise<string> {
  const healthPort = await freePort();
  config.extensions.health_check = { endpoint: `127.0.0.1:${healthPort}` };
  config.exporters = { "otlp_http/capture": { endpoint: capture.url, encoding: "json" } };
  for (const pipeline of Object.values(config.service.pipelines)) {
    pipeline.exporters = ["otlp_http/capture"];
  }
  const metricsPort = await freePort();
  config.service.telemetry.metrics = {
    readers: [{ pull: { exporter: { prometheus: { host: "127.0.0.1", port: metricsPort } } } }],
  };
  return `http://127.0.0.1:${healthPort}/`;
}
