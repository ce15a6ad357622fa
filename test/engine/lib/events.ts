import type { EngineEvent, OpType } from "@pulumi/pulumi/automation";

/**
 * Readings of the engine's event stream (the Automation API's `onEvent`, the same stream `pulumi
 * up --json` prints): which step the engine took for each resource and when it started and ended,
 * and what the policy pack found. Times are the events' `sequence` numbers, which order them.
 */

/** One step of the engine on one resource: a create, update, delete, replace half, … */
export interface Step {
  urn: string;
  /** Resource type, e.g. `kubernetes:batch/v1:Job`. */
  type: string;
  op: OpType;
  /** `sequence` of the step's `resourcePreEvent` (it is about to be applied). */
  start: number;
  /** `sequence` of its `resOutputsEvent` (applied, and awaited by the provider); unset if none. */
  end?: number;
  /** A `resOpFailedEvent` came instead of outputs. */
  failed: boolean;
  /** `protect` of the resource's old state (for deletes) or new state. */
  protect: boolean;
}

/** Every step, in the order they started. */
export function steps(events: EngineEvent[]): Step[] {
  const result: Step[] = [];
  const open = new Map<string, Step>();
  const sorted = [...events].sort((a, b) => a.sequence - b.sequence);
  for (const event of sorted) {
    const pre = event.resourcePreEvent?.metadata;
    if (pre) {
      const state = pre.new ?? pre.old;
      const step: Step = {
        urn: pre.urn,
        type: pre.type,
        op: pre.op,
        start: event.sequence,
        failed: false,
        protect: Boolean(pre.old?.protect ?? pre.new?.protect ?? state?.protect),
      };
      result.push(step);
      open.set(`${pre.op} ${pre.urn}`, step);
      continue;
    }
    const done = event.resOutputsEvent?.metadata;
    if (done) {
      const step = open.get(`${done.op} ${done.urn}`);
      if (step) step.end = event.sequence;
      continue;
    }
    const failed = event.resOpFailedEvent?.metadata;
    if (failed) {
      const step = open.get(`${failed.op} ${failed.urn}`);
      if (step) step.failed = true;
    }
  }
  return result;
}

/** The ops of a preview or update that replace a resource (each replace shows as several steps). */
export const REPLACE_OPS: readonly OpType[] = [
  "replace",
  "create-replacement",
  "delete-replaced",
  "discard-replaced",
];

/** URNs whose steps have one of `ops`. */
export function urnsWith(all: Step[], ops: readonly OpType[]): Set<string> {
  return new Set(all.filter((step) => ops.includes(step.op)).map((step) => step.urn));
}

/** The resource name a URN ends with, e.g. `migrations-f06e75e1`. */
export function urnName(urn: string): string {
  return urn.split("::").pop() as string;
}

/** The Kubernetes kind of a URN's type, e.g. `Job` for `…$kubernetes:batch/v1:Job::…`. */
export function urnKind(urn: string): string | undefined {
  const type = urn.split("::").at(-2) ?? "";
  const match = /(?:^|\$)kubernetes:[^:]+:(\w+)$/.exec(type);
  return match?.[1];
}

/** One finding of a policy pack, as the engine reported it. */
export interface PolicyFinding {
  /** Rule id, e.g. `image-pinned`. */
  policy: string;
  /** The engine says `mandatory` or `warning` (advisory). */
  level: "mandatory" | "advisory";
  /** The resource's URN; empty for a finding on the stack as a whole. */
  urn: string;
  message: string;
}

export function policyFindings(events: EngineEvent[]): PolicyFinding[] {
  return events.flatMap((event) => {
    const policy = event.policyEvent;
    if (!policy) return [];
    return [
      {
        policy: policy.policyName,
        level: policy.enforcementLevel === "mandatory" ? "mandatory" : "advisory",
        urn: policy.resourceUrn ?? "",
        message: policy.message,
      },
    ];
  });
}

/** The error diagnostics of an operation (e.g. why a step failed), of one resource if given. */
export function errors(events: EngineEvent[], urn?: string): string[] {
  return events.flatMap((event) => {
    const diagnostic = event.diagnosticEvent;
    if (diagnostic?.severity !== "error") return [];
    if (urn !== undefined && diagnostic.urn !== urn) return [];
    return [diagnostic.message];
  });
}
