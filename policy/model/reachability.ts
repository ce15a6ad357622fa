import { blockMeets, firstHost, isCidr, parseAddress, parseCidr, type AddressRange } from "./cidr";
import { selectorFor } from "./labels";
import {
  ipBlocksFor,
  K3S_NETWORK,
  NAMESPACE_NAME_LABEL,
  peer,
  peerKey,
  peerLabel,
  wiringTable,
  type ClusterCidrs,
  type Edge,
  type Peer,
} from "./network";
import {
  Enforcer,
  list,
  policiesOf,
  record,
  selectorMatches,
  stringRecord,
  type Endpoint,
  type EndpointKind,
} from "./kube-router";
import * as ports from "./port-set";
import type { PortSet } from "./port-set";
import type { Manifest, RenderedResource } from "./render-model";

export type { ContainerPort, Endpoint, EndpointKind } from "./kube-router";

/**
 * Who can open a connection to whom, computed from rendered NetworkPolicies and pod templates the
 * way K3s's kube-router enforces them (see kube-router.ts), and compared with the wiring table.
 * A connection is allowed iff the source's egress AND the destination's ingress allow it.
 *
 * Outside the render: Traefik and CoreDNS are pods in kube-system without policies (K3s ships
 * none), the API server is a server node's address (after DNAT), and the internet is a public
 * address. Every pair with at least one pod template of the render is judged.
 */

/** The ports `from` may open on `to` (never empty in a matrix). */
export interface MatrixEntry {
  from: string;
  to: string;
  ports: PortSet;
}

export interface ReachabilityMatrix extends ClusterCidrs {
  endpoints: Endpoint[];
  entries: MatrixEntry[];
  /** Facts not known yet (a preview): a caller must not judge the matrix when this is not empty. */
  undecidable: string[];
}

export interface MatrixOptions extends Partial<ClusterCidrs> {
  /** Outside peers to model, e.g. those the wiring names. @default K3s's Traefik, CoreDNS, API, internet */
  externals?: Peer[];
}

const WORKLOAD_KINDS = [
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "Job",
  "CronJob",
  "Pod",
];
/** A documentation address (RFC 5737) standing for "somewhere on the internet". */
const INTERNET_SAMPLES = ["203.0.113.10", "198.51.100.10"];
/** Typical node addresses, for an API server whose nodes are not named. */
const NODE_SAMPLES = ["192.168.1.10", "172.16.0.10", "10.0.0.10"];

function manifestsOf(objects: readonly (RenderedResource | Manifest)[]): Manifest[] {
  return objects.flatMap((object) => {
    if (!("urn" in object && "props" in object)) return [object as Manifest];
    const resource = object as RenderedResource;
    const isKube =
      resource.type.startsWith("kubernetes:") && typeof resource.props.kind === "string";
    return isKube ? [resource.props as unknown as Manifest] : [];
  });
}

function sampleAddress(candidates: string[], avoid: AddressRange[]): AddressRange {
  const address = candidates
    .map(parseAddress)
    .find(
      (value) => value !== undefined && !avoid.some((r) => r.first <= value && value <= r.last),
    );
  const value = address ?? parseAddress(candidates[0]) ?? 0;
  return { first: value, last: value };
}

function workloadEndpoints(manifests: Manifest[], podRange: AddressRange): Endpoint[] {
  const found = manifests.flatMap((manifest) => {
    if (!WORKLOAD_KINDS.includes(manifest.kind)) return [];
    const spec = record(manifest.spec);
    const template =
      manifest.kind === "Pod"
        ? { metadata: manifest.metadata, spec }
        : manifest.kind === "CronJob"
          ? record(record(record(spec.jobTemplate).spec).template)
          : record(spec.template);
    const podSpec = record(template.spec);
    const labels = stringRecord(record(template.metadata).labels);
    const namespace = manifest.metadata.namespace ?? "default";
    const containerPorts = [...list(podSpec.containers), ...list(podSpec.initContainers)].flatMap(
      (container) =>
        list(record(container).ports).map((entry) => {
          const port = record(entry);
          return {
            ...(typeof port.name === "string" ? { name: port.name } : {}),
            port: Number(port.containerPort),
            protocol: typeof port.protocol === "string" ? port.protocol : "TCP",
          };
        }),
    );
    const hostNetwork = podSpec.hostNetwork === true;
    const endpoint: Endpoint = {
      id: `${manifest.kind}/${namespace}/${manifest.metadata.name}`,
      label: labels["app.kubernetes.io/name"] ?? manifest.metadata.name,
      kind: "workload",
      namespace,
      labels,
      containerPorts,
      addresses: hostNetwork ? sampleAddress(NODE_SAMPLES, [podRange]) : podRange,
      governed: !hostNetwork,
      selectable: !hostNetwork,
    };
    return [endpoint];
  });
  // Where two templates share a label, findings name them by object instead.
  const counts = new Map<string, number>();
  for (const endpoint of found) counts.set(endpoint.label, (counts.get(endpoint.label) ?? 0) + 1);
  return found.map((endpoint) =>
    (counts.get(endpoint.label) ?? 0) > 1 ? { ...endpoint, label: endpoint.id } : endpoint,
  );
}

function externalEndpoints(externals: Peer[], cidrs: ClusterCidrs): Endpoint[] {
  const cluster = [cidrs.podCidr, cidrs.serviceCidr].flatMap((cidr) => parseCidr(cidr) ?? []);
  const podRange = cluster[0];
  const all = [
    ...externals,
    peer.ingressController(),
    peer.dns(),
    peer.kubernetesApi(),
    peer.internet(),
  ];
  const byKind = new Map<EndpointKind, Peer>();
  for (const end of all)
    if (end.kind !== "workload" && !byKind.has(end.kind)) byKind.set(end.kind, end);
  return [...byKind.values()].map((end): Endpoint => {
    const base = {
      id: end.kind,
      label: end.kind,
      kind: end.kind as EndpointKind,
      containerPorts: [],
    };
    if (end.kind === "ingress-controller" || end.kind === "dns") {
      const dnsPorts = [
        { name: "dns", port: K3S_NETWORK.dnsPort, protocol: "UDP" },
        { name: "dns-tcp", port: K3S_NETWORK.dnsPort, protocol: "TCP" },
      ];
      return {
        ...base,
        namespace: end.namespace,
        labels: { ...end.selector },
        containerPorts: end.kind === "dns" ? dnsPorts : [],
        addresses: podRange,
        governed: false,
        selectable: true,
      };
    }
    // The API server's sample is a host of its declared CIDRs, so a policy narrowed to the nodes
    // still reaches it; the internet's is a public address no cluster range holds.
    const candidates =
      end.kind === "kubernetes-api"
        ? [...(end.cidrs ?? []).filter(isCidr).map(firstHost), ...NODE_SAMPLES]
        : INTERNET_SAMPLES;
    return {
      ...base,
      labels: {},
      addresses: sampleAddress(candidates, cluster),
      governed: false,
      selectable: false,
    };
  });
}

/**
 * The reachability matrix of a render: for every pair of endpoints (at least one of them a pod
 * template of the render), the ports the source may open on the destination.
 */
export function reachabilityMatrix(
  objects: readonly (RenderedResource | Manifest)[],
  options: MatrixOptions = {},
): ReachabilityMatrix {
  const cidrs: ClusterCidrs = {
    podCidr: options.podCidr ?? K3S_NETWORK.podCidr,
    serviceCidr: options.serviceCidr ?? K3S_NETWORK.serviceCidr,
  };
  const podRange = parseCidr(cidrs.podCidr);
  if (!podRange) throw new Error(`podCidr "${cidrs.podCidr}" is not an IPv4 CIDR`);
  const manifests = manifestsOf(objects);
  const undecidable: string[] = [];
  const endpoints = [
    ...workloadEndpoints(manifests, podRange),
    ...externalEndpoints(options.externals ?? [], cidrs),
  ];
  const declared = new Map(
    manifests
      .filter((manifest) => manifest.kind === "Namespace")
      .map((manifest) => [manifest.metadata.name, manifest.metadata.labels ?? {}]),
  );
  const namespaceLabels = (namespace: string) => ({
    ...declared.get(namespace),
    [NAMESPACE_NAME_LABEL]: namespace,
  });
  const enforcer = new Enforcer(endpoints, policiesOf(manifests, undecidable), namespaceLabels);
  const entries: MatrixEntry[] = [];
  for (const from of endpoints) {
    for (const to of endpoints) {
      // Traffic between two things outside the render is not the platform's to judge.
      if (from.kind !== "workload" && to.kind !== "workload") continue;
      const allowed = ports.intersect(enforcer.egress(from, to), enforcer.ingress(from, to));
      if (!ports.isEmpty(allowed)) entries.push({ from: from.id, to: to.id, ports: allowed });
    }
  }
  return { ...cidrs, endpoints, entries, undecidable };
}

/** The ports `from` may open on `to` in the matrix (endpoint ids). */
export function allowedPorts(matrix: ReachabilityMatrix, from: string, to: string): PortSet {
  return matrix.entries.find((entry) => entry.from === from && entry.to === to)?.ports ?? [];
}

/** The endpoints of the matrix that a wiring peer stands for. */
export function endpointsOf(matrix: ReachabilityMatrix, end: Peer): Endpoint[] {
  switch (end.kind) {
    case "workload": {
      const selector = { matchLabels: selectorFor({ ...end.identity }) };
      return matrix.endpoints.filter(
        (e) =>
          e.kind === "workload" &&
          e.namespace === end.namespace &&
          selectorMatches(selector, e.labels),
      );
    }
    case "ingress-controller":
    case "dns":
      return matrix.endpoints.filter(
        (e) =>
          e.kind === end.kind &&
          e.namespace === end.namespace &&
          selectorMatches({ matchLabels: end.selector }, e.labels),
      );
    case "kubernetes-api":
    case "internet": {
      // Address peers stand for every endpoint whose address their blocks hold, as policies do.
      const blocks = ipBlocksFor(end, matrix);
      return matrix.endpoints.filter(
        (e) => !e.selectable && blocks.some((block) => blockMeets(block, e.addresses)),
      );
    }
  }
}

/** What the wiring expects of one pair of endpoints, edge by edge. */
interface ExpectedPair {
  from: Endpoint;
  to: Endpoint;
  /** `primary`: the edge is about this very endpoint (a missing port is reported here). */
  parts: { set: PortSet; why: string; primary: boolean }[];
}

/**
 * An address peer also stands for other outside endpoints its blocks hold (the default API peer
 * holds the internet sample too): those tolerate its ports, but a port it lacks is reported once,
 * at the endpoint of its own kind.
 */
function primaryOf(end: Peer, found: Endpoint[]): Endpoint[] {
  const own = found.filter((endpoint) => endpoint.kind === end.kind);
  return own.length > 0 ? own : found;
}

function describeEnd(end: Peer): string {
  const labels = (selector: Record<string, string>) =>
    Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(", ");
  if (end.kind === "workload") {
    return `${end.identity.name} (pods labelled ${labels(selectorFor({ ...end.identity }))} in ${end.namespace})`;
  }
  if (end.kind === "dns" || end.kind === "ingress-controller") {
    return `${end.kind} (pods labelled ${labels(end.selector)} in ${end.namespace})`;
  }
  return end.kind;
}

/**
 * The differences between the matrix and the wiring table (completed with DNS, as the policies
 * are): connections the policies allow that no edge asks for, and edges the policies do not
 * allow (or whose pods are not in the render).
 */
export function compareWithWiring(
  matrix: ReachabilityMatrix,
  edges: readonly Edge[],
): { unintended: string[]; missing: string[] } {
  const expected = new Map<string, ExpectedPair>();
  const unmatched = new Map<string, { end: Peer; edges: string[] }>();
  // The implicit DNS edges count as wired; for a table read from an annotation this adds nothing.
  for (const entry of wiringTable(edges)) {
    const sources = endpointsOf(matrix, entry.from);
    const targets = endpointsOf(matrix, entry.to);
    for (const [end, found] of [
      [entry.from, sources],
      [entry.to, targets],
    ] as const) {
      if (found.length > 0) continue;
      const key = peerKey(end);
      const named = unmatched.get(key) ?? { end, edges: [] };
      named.edges.push(`${peerLabel(entry.from)} → ${peerLabel(entry.to)} (${entry.why})`);
      unmatched.set(key, named);
    }
    const set = ports.union(
      ...entry.ports.map((p) => ports.portRange(p.protocol ?? "TCP", p.port)),
    );
    const fromPrimary = primaryOf(entry.from, sources);
    const toPrimary = primaryOf(entry.to, targets);
    for (const from of sources) {
      for (const to of targets) {
        const key = `${from.id}\u0000${to.id}`;
        const pair = expected.get(key) ?? { from, to, parts: [] };
        const primary = fromPrimary.includes(from) && toPrimary.includes(to);
        pair.parts.push({ set, why: entry.why, primary });
        expected.set(key, pair);
      }
    }
  }
  const missing = [...unmatched.values()].map(
    ({ end, edges: named }) =>
      `the wiring table connects ${describeEnd(end)}, but nothing in the render matches it: ` +
      named.join(", "),
  );
  const byId = new Map(matrix.endpoints.map((endpoint) => [endpoint.id, endpoint]));
  const unintended: string[] = [];
  for (const entry of matrix.entries) {
    const wanted = expected.get(`${entry.from}\u0000${entry.to}`);
    const extra = ports.subtract(
      entry.ports,
      ports.union(...(wanted?.parts.map((p) => p.set) ?? [])),
    );
    const label = `${byId.get(entry.from)?.label ?? entry.from} → ${byId.get(entry.to)?.label ?? entry.to}`;
    for (const text of ports.describePorts(extra)) {
      unintended.push(`${label}${text} is allowed but not in the wiring table`);
    }
  }
  for (const { from, to, parts } of expected.values()) {
    const allowed = allowedPorts(matrix, from.id, to.id);
    for (const { set, why } of parts.filter((part) => part.primary)) {
      for (const text of ports.describePorts(ports.subtract(set, allowed))) {
        missing.push(
          `${from.label} → ${to.label}${text} is in the wiring table but not allowed (${why})`,
        );
      }
    }
  }
  const tidy = (messages: string[]) => [...new Set(messages)].sort();
  return { unintended: tidy(unintended), missing: tidy(missing) };
}
