import type * as pulumi from "@pulumi/pulumi";
import type { PlatformMocks } from "../../tools/lib/mocks";

/** The key by which Pulumi marks a secret value inside resolved inputs. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Resolved inputs with Pulumi's secret envelopes removed, for assertions on the values. */
export function plain<T = unknown>(value: unknown): T {
  if (Array.isArray(value)) return value.map((item) => plain(item)) as T;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (SECRET_SIG in record) return plain(record.value);
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, plain(v)])) as T;
  }
  return value as T;
}

/** One registered resource: its type, logical name, resolved inputs and resource options. */
export interface Recorded {
  type: string;
  name: string;
  // Resolved inputs are arbitrary JSON; tests navigate them with optional chaining.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: any;
  opts: pulumi.CustomResourceOptions;
}

/**
 * Records the resource options of a component's children (the mocks see inputs only) through a
 * transformation on the component, which Pulumi applies to every child.
 */
export function optionRecorder(): {
  transformations: pulumi.ResourceTransformation[];
  /** Options by `type::name`. */
  opts: Map<string, pulumi.CustomResourceOptions>;
  /** Every child in creation order, with its options. */
  seen: { type: string; name: string; opts: pulumi.CustomResourceOptions }[];
} {
  const opts = new Map<string, pulumi.CustomResourceOptions>();
  const seen: { type: string; name: string; opts: pulumi.CustomResourceOptions }[] = [];
  return {
    opts,
    seen,
    transformations: [
      (args) => {
        const childOpts = args.opts as pulumi.CustomResourceOptions;
        opts.set(`${args.type}::${args.name}`, childOpts);
        seen.push({ type: args.type, name: args.name, opts: childOpts });
        return undefined;
      },
    ],
  };
}

/** Every resource registered so far whose logical name starts with `prefix`, once settled. */
export async function registeredUnder(
  mocks: PlatformMocks,
  prefix: string,
  opts: Map<string, pulumi.CustomResourceOptions> = new Map(),
): Promise<Recorded[]> {
  await new Promise((resolve) => setTimeout(resolve, 100));
  return mocks.registered
    .filter((r) => r.name === prefix || r.name.startsWith(`${prefix}-`))
    .map((r) => ({ ...r, inputs: plain(r.inputs), opts: opts.get(`${r.type}::${r.name}`) ?? {} }));
}

/** The one resource of a type and name; fails loudly when it is missing. */
export function pick(resources: Recorded[], kind: string, name: string): Recorded {
  const found = resources.find((r) => r.type.endsWith(`:${kind}`) && r.name === name);
  if (!found) {
    throw new Error(
      `no ${kind} "${name}"; have: ${resources.map((r) => `${r.type} ${r.name}`).join(", ")}`,
    );
  }
  return found;
}
