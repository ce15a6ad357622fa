/**
 * Sets of (protocol, port) as sorted, merged ranges: what a NetworkPolicy rule allows, and what a
 * wiring edge expects, compared by set arithmetic.
 */

/** Every port from `from` to `to` (inclusive) of one protocol. */
export interface PortRange {
  protocol: string;
  from: number;
  to: number;
}

/** A normalised list of ranges: sorted by protocol then port, never overlapping or adjacent. */
export type PortSet = readonly PortRange[];

/** The protocols NetworkPolicy knows; "every port" means all of them. */
export const POLICY_PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

export const NO_PORTS: PortSet = [];

/** Every port of every protocol: what a rule without `ports` allows. */
export const ALL_PORTS: PortSet = normalise(
  POLICY_PROTOCOLS.map((protocol) => ({ protocol, from: 1, to: 65535 })),
);

/** Every port of one protocol (a policy port with a protocol and no port). */
export function allPortsOf(protocol: string): PortSet {
  return [{ protocol, from: 1, to: 65535 }];
}

/** One port, or the range `port`–`endPort`. */
export function portRange(protocol: string, port: number, endPort?: number): PortSet {
  return [{ protocol, from: port, to: endPort !== undefined && endPort >= port ? endPort : port }];
}

/** Sorts and merges. */
export function normalise(ranges: readonly PortRange[]): PortSet {
  const ordered = [...ranges].sort((a, b) =>
    a.protocol === b.protocol ? a.from - b.from : a.protocol.localeCompare(b.protocol),
  );
  const merged: PortRange[] = [];
  for (const range of ordered) {
    const last = merged[merged.length - 1];
    if (last && last.protocol === range.protocol && range.from <= last.to + 1) {
      last.to = Math.max(last.to, range.to);
    } else {
      merged.push({ ...range });
    }
  }
  return merged;
}

export function union(...sets: PortSet[]): PortSet {
  return normalise(sets.flat());
}

export function intersect(a: PortSet, b: PortSet): PortSet {
  const result: PortRange[] = [];
  for (const left of a) {
    for (const right of b) {
      if (left.protocol !== right.protocol) continue;
      const from = Math.max(left.from, right.from);
      const to = Math.min(left.to, right.to);
      if (from <= to) result.push({ protocol: left.protocol, from, to });
    }
  }
  return normalise(result);
}

/** The ports of `a` that are not in `b`. */
export function subtract(a: PortSet, b: PortSet): PortSet {
  let remaining: PortRange[] = a.map((range) => ({ ...range }));
  for (const removed of b) {
    remaining = remaining.flatMap((range) => {
      if (
        range.protocol !== removed.protocol ||
        removed.to < range.from ||
        range.to < removed.from
      ) {
        return [range];
      }
      const parts: PortRange[] = [];
      if (range.from < removed.from) parts.push({ ...range, to: removed.from - 1 });
      if (removed.to < range.to) parts.push({ ...range, from: removed.to + 1 });
      return parts;
    });
  }
  return normalise(remaining);
}

export function isEmpty(set: PortSet): boolean {
  return set.length === 0;
}

/**
 * How a set reads after `from → to`: `:5432`, `:53/UDP`, `:8000-8100`, ` on every port`,
 * ` on every TCP port`. TCP is the default and goes unsaid.
 */
export function describePorts(set: PortSet): string[] {
  const everyProtocol = POLICY_PROTOCOLS.every((protocol) =>
    set.some((range) => range.protocol === protocol && range.from === 1 && range.to === 65535),
  );
  if (everyProtocol) return [" on every port"];
  return set.map((range) => {
    if (range.from === 1 && range.to === 65535) return ` on every ${range.protocol} port`;
    const ports = range.from === range.to ? `${range.from}` : `${range.from}-${range.to}`;
    return `:${ports}${range.protocol === "TCP" ? "" : `/${range.protocol}`}`;
  });
}
