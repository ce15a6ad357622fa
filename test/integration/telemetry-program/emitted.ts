/** What the telemetry program (`emit.ts`) emits, for the test that looks for it. */

/** What the test looks for; the names follow OTel's semantic conventions. */
export const EMITTED = {
  scope: "k3s-platform-telemetry-check",
  span: "POST /api/orders",
  counter: "k3s.platform.check.orders",
  route: "/api/orders",
  logBody: "order placed",
} as const;

export interface EmitReport {
  traceId: string;
  spanId: string;
  /** When the span ended, in ms since the epoch: the start of the end-to-end clock. */
  emittedAtMs: number;
}
