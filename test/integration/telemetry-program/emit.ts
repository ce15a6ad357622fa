/**
 * A stand-in for the app's telemetry: the OpenTelemetry Node.js SDK configured only by the
 * environment the platform gives the app's containers (`OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`; nothing in code), as an app built on the SDK's
 * defaults would be. Emits one span, a log record inside it (so the record carries the span's
 * trace id) and a counter, flushes all three through the SDK's shutdown, and prints what a test
 * needs to find them, as one JSON line on stdout.
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT=… OTEL_SERVICE_NAME=web npx tsx emit.ts
 */
import { metrics, trace } from "@opentelemetry/api";
import { logs, SeverityNumber } from "@opentelemetry/api-logs";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { EMITTED, type EmitReport } from "./emitted";

async function main(): Promise<void> {
  const sdk = new NodeSDK();
  sdk.start();
  const tracer = trace.getTracer(EMITTED.scope);
  const orders = metrics.getMeter(EMITTED.scope).createCounter(EMITTED.counter, {
    description: "Orders placed (emitted once by the telemetry check)",
  });
  const logger = logs.getLogger(EMITTED.scope);
  const report = tracer.startActiveSpan(EMITTED.span, (span): EmitReport => {
    orders.add(1, { "http.route": EMITTED.route });
    // Emitted inside the active span: the SDK stamps the record with its trace and span id.
    logger.emit({
      severityNumber: SeverityNumber.INFO,
      severityText: "INFO",
      body: EMITTED.logBody,
      attributes: { "http.route": EMITTED.route },
    });
    span.end();
    const { traceId, spanId } = span.spanContext();
    return { traceId, spanId, emittedAtMs: Date.now() };
  });
  await sdk.shutdown();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
