import { isCidr } from "./cidr";
import type { ClusterCidrs, Edge, Peer, PortSpec } from "./network";

/**
 * The wiring table as data that travels with the render: validated before policies are written,
 * stored as an annotation on each namespace's `default-deny` policy, and read back by the
 * `reachability` policy, which compares it with what the policies actually allow.
 */

/**
 * The annotation on each namespace's `default-deny` NetworkPolicy whose value is the JSON of a
 * {@link WiringDocument}: the edges that start or end in that namespace, DNS included.
 */
export const WIRING_ANNOTATION = "k3s-platform/wiring";

/** Version of the {@link WiringDocument} format; a reader refuses any other. */
export const WIRING_FORMAT = 1;

/** The wiring annotation's content. */
export interface WiringDocument extends ClusterCidrs {
  format: typeof WIRING_FORMAT;
  /** The namespace of the policy that carries it. */
  namespace: string;
  edges: Edge[];
}

/** One problem with the edges, at a property path of the component's args. */
export interface EdgeIssue {
  propertyPath: string;
  reason: string;
}

const PROTOCOLS: readonly string[] = ["TCP", "UDP"];

function portIssues(ports: readonly PortSpec[], at: string): EdgeIssue[] {
  if (ports.length === 0) {
    const reason = "list the destination's container ports; an edge without ports opens them all";
    return [{ propertyPath: `${at}.ports`, reason }];
  }
  return ports.flatMap((spec, index) => {
    const issues: EdgeIssue[] = [];
    if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) {
      const reason = `must be a port number 1–65535 (got ${spec.port})`;
      issues.push({ propertyPath: `${at}.ports[${index}].port`, reason });
    }
    if (spec.protocol !== undefined && !PROTOCOLS.includes(spec.protocol)) {
      const reason = `must be TCP or UDP (got ${String(spec.protocol)})`;
      issues.push({ propertyPath: `${at}.ports[${index}].protocol`, reason });
    }
    return issues;
  });
}

function cidrIssues(end: Peer, at: string): EdgeIssue[] {
  const blocks =
    end.kind === "kubernetes-api" ? end.cidrs : end.kind === "internet" ? end.except : undefined;
  return (blocks ?? [])
    .filter((cidr) => !isCidr(cidr))
    .map((cidr) => ({
      propertyPath: at,
      reason: `"${cidr}" is not an IPv4 CIDR; for one address write ${cidr}/32`,
    }));
}

/** Every problem with the edges and the address plan; empty when policies can be written. */
export function validateEdges(edges: readonly Edge[], cidrs: ClusterCidrs): EdgeIssue[] {
  const issues: EdgeIssue[] = [];
  for (const key of ["podCidr", "serviceCidr"] as const) {
    if (!isCidr(cidrs[key])) {
      const reason = `must be an IPv4 CIDR such as 10.42.0.0/16 (got "${cidrs[key]}")`;
      issues.push({ propertyPath: key, reason });
    }
  }
  edges.forEach((candidate, index) => {
    const at = `edges[${index}]`;
    if (candidate.from.kind !== "workload" && candidate.to.kind !== "workload") {
      issues.push({
        propertyPath: at,
        reason:
          `${candidate.from.kind} → ${candidate.to.kind} has no platform workload at either ` +
          "end; policies are only written for the platform's own pods",
      });
    }
    if (candidate.why.trim() === "") {
      const reason = "say why the platform needs this connection";
      issues.push({ propertyPath: `${at}.why`, reason });
    }
    issues.push(...portIssues(candidate.ports, at));
    issues.push(
      ...cidrIssues(candidate.from, `${at}.from`),
      ...cidrIssues(candidate.to, `${at}.to`),
    );
  });
  return issues;
}

/** The annotation value of a wiring document. */
export function wiringAnnotation(document: WiringDocument): Record<string, string> {
  return { [WIRING_ANNOTATION]: JSON.stringify(document) };
}

/** The wiring document of an annotation value; throws with the reason when it is not one. */
export function parseWiring(text: string): WiringDocument {
  const value: unknown = JSON.parse(text);
  const document = value as Partial<WiringDocument> | null;
  if (
    document === null ||
    typeof document !== "object" ||
    document.format !== WIRING_FORMAT ||
    typeof document.namespace !== "string" ||
    typeof document.podCidr !== "string" ||
    typeof document.serviceCidr !== "string" ||
    !Array.isArray(document.edges)
  ) {
    throw new Error(
      `not a format-${WIRING_FORMAT} wiring document {format, namespace, podCidr, serviceCidr, edges}`,
    );
  }
  for (const candidate of document.edges as unknown[]) {
    const entry = candidate as Partial<Edge> | null;
    const valid =
      entry !== null &&
      typeof entry.from?.kind === "string" &&
      typeof entry.to?.kind === "string" &&
      Array.isArray(entry.ports);
    if (!valid) throw new Error(`wiring edge ${JSON.stringify(candidate)} lacks from, to or ports`);
  }
  return document as WiringDocument;
}

/** How a peer reads in tables and findings: `web`, `platform-node-logs/collector`, `dns`. */
export function peerLabel(end: Peer, namespace?: string): string {
  if (end.kind !== "workload") return end.kind;
  return namespace === undefined || end.namespace === namespace
    ? end.identity.name
    : `${end.namespace}/${end.identity.name}`;
}

/** The wiring table as Markdown, for the README and the component's output. */
export function formatWiringTable(edges: readonly Edge[], namespace?: string): string {
  const ports = (specs: readonly PortSpec[]) =>
    specs.map((spec) => `${spec.port}/${spec.protocol ?? "TCP"}`).join(", ");
  const row = (entry: Edge) =>
    `| ${peerLabel(entry.from, namespace)} | ${peerLabel(entry.to, namespace)} | ` +
    `${ports(entry.ports)} | ${entry.why} |`;
  return ["| from | to | ports | why |", "|---|---|---|---|", ...edges.map(row)].join("\n");
}
