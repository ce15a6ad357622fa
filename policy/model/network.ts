import { parseCidr, rangeContains, type IpBlock } from "./cidr";
import { PART_OF, selectorFor, type WorkloadIdentity } from "./labels";
import { validateEdges, WIRING_FORMAT, wiringAnnotation, type WiringDocument } from "./wiring";

export {
  formatWiringTable,
  parseWiring,
  peerLabel,
  validateEdges,
  WIRING_ANNOTATION,
  WIRING_FORMAT,
  type EdgeIssue,
  type WiringDocument,
} from "./wiring";

/**
 * Network access declared as relationships (cdk8s-plus `connections`): the platform lists its
 * edges ("web reaches pgbouncer on 5432, because ..."), and the NetworkPolicies of both ends
 * follow from that one list, so the two ends of an edge can never disagree.
 *
 * Facts about K3s this relies on (checked against kube-router's netpol controller and K3s's
 * manifests):
 * - K3s enforces NetworkPolicy with kube-router's controller, on the address AFTER kube-proxy's
 *   DNAT: a connection to a Service is judged as one to the chosen pod and its container port.
 *   Edge ports are therefore container ports, never Service ports.
 * - The same holds for the API server: pods dial the `kubernetes` Service (10.43.0.1:443), which
 *   is DNATed to a server node's address on 6443. The policy must allow the node on 6443.
 * - A peer with both `namespaceSelector` and `podSelector` selects those pods in those
 *   namespaces (AND; kube-router since PR #479). Namespaces carry `kubernetes.io/metadata.name`.
 * - CoreDNS runs in `kube-system` with `k8s-app: kube-dns`, on 53/UDP and 53/TCP; Traefik runs
 *   in `kube-system` with `app.kubernetes.io/name: traefik` and dials backend pods directly.
 * - kube-router always admits traffic from a pod's own node, so kubelet probes need no edge.
 */

/** The label the API server sets on every namespace (Kubernetes ≥ 1.22). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** Where K3s runs the parts of the cluster the platform's pods talk to. */
export const K3S_NETWORK = {
  systemNamespace: "kube-system",
  dnsSelector: { "k8s-app": "kube-dns" },
  dnsPort: 53,
  ingressControllerSelector: { "app.kubernetes.io/name": "traefik" },
  /** K3s's `--https-listen-port`: the port the `kubernetes` Service is DNATed to. */
  apiServerPort: 6443,
  podCidr: "10.42.0.0/16",
  serviceCidr: "10.43.0.0/16",
} as const;

/** Transport protocols an edge may use. */
export const Protocol = { TCP: "TCP", UDP: "UDP" } as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];

/** A destination port: the container port the connection reaches after DNAT. */
export interface PortSpec {
  port: number;
  /** @default "TCP" */
  protocol?: Protocol;
}

/** Port factories, so edges read `port.tcp(5432)`. */
export const port = {
  tcp: (number: number): PortSpec => ({ port: number, protocol: Protocol.TCP }),
  udp: (number: number): PortSpec => ({ port: number, protocol: Protocol.UDP }),
};

/** The selector subset of a workload identity: what a peer is matched by. */
export type PeerIdentity = Omit<WorkloadIdentity, "version">;

/** Pods of one of the platform's workloads, in a namespace. */
export interface WorkloadPeer {
  kind: "workload";
  namespace: string;
  identity: PeerIdentity;
}

/** Pods of a cluster add-on the platform does not manage (Traefik, CoreDNS). */
export interface AddonPeer {
  kind: "ingress-controller" | "dns";
  namespace: string;
  selector: Record<string, string>;
}

/** The API server: a server node's address on the API port. */
export interface KubernetesApiPeer {
  kind: "kubernetes-api";
  /** Addresses of the server nodes. @default every address outside the pod and Service CIDRs */
  cidrs?: string[];
}

/** Addresses outside the cluster. */
export interface InternetPeer {
  kind: "internet";
  /** Ranges to keep out besides the cluster's pod and Service CIDRs. @default none */
  except?: string[];
}

/** One end of an edge. */
export type Peer = WorkloadPeer | AddonPeer | KubernetesApiPeer | InternetPeer;

/** Peer factories. */
export const peer = {
  /** The pods of a workload, by the same selector its Deployment and Service use. */
  workload(identity: WorkloadIdentity, namespace: string): WorkloadPeer {
    const { name, component, instance } = identity;
    // The version is left out: it is no part of a selector, and would churn the wiring annotation.
    return { kind: "workload", namespace, identity: { name, component, instance } };
  },
  /** K3s's Traefik. */
  ingressController(
    options: { namespace?: string; selector?: Record<string, string> } = {},
  ): AddonPeer {
    return {
      kind: "ingress-controller",
      namespace: options.namespace ?? K3S_NETWORK.systemNamespace,
      selector: options.selector ?? { ...K3S_NETWORK.ingressControllerSelector },
    };
  },
  /** K3s's CoreDNS. */
  dns(options: { namespace?: string; selector?: Record<string, string> } = {}): AddonPeer {
    return {
      kind: "dns",
      namespace: options.namespace ?? K3S_NETWORK.systemNamespace,
      selector: options.selector ?? { ...K3S_NETWORK.dnsSelector },
    };
  },
  /** The Kubernetes API server; pass the server nodes' CIDRs to narrow it. */
  kubernetesApi(options: { cidrs?: string[] } = {}): KubernetesApiPeer {
    return { kind: "kubernetes-api", ...(options.cidrs ? { cidrs: [...options.cidrs] } : {}) };
  },
  /** Anything outside the cluster. */
  internet(options: { except?: string[] } = {}): InternetPeer {
    return { kind: "internet", ...(options.except ? { except: [...options.except] } : {}) };
  },
};

/** One allowed connection: `from` may open connections to `to` on `ports`, for the reason `why`. */
export interface Edge {
  from: Peer;
  to: Peer;
  ports: PortSpec[];
  /** Why the platform needs it; shown in the wiring table and in reachability findings. */
  why: string;
}

/** An edge, positionally. */
export function edge(from: Peer, to: Peer, ports: PortSpec[], why: string): Edge {
  return { from, to, ports, why };
}

/** The cluster's address plan, from the stack config. */
export interface ClusterCidrs {
  podCidr: string;
  serviceCidr: string;
}

/** What {@link networkPoliciesFor} writes policies for. */
export interface NetworkPolicyOptions extends ClusterCidrs {
  /** The namespace whose workloads get policies; edges may reach into others. */
  namespace: string;
}

/** A label selector as written in a policy. */
export interface MatchLabels {
  matchLabels: Record<string, string>;
}

/** A `NetworkPolicyPeer`. */
export interface PolicyPeer {
  podSelector?: MatchLabels;
  namespaceSelector?: MatchLabels;
  ipBlock?: IpBlock;
}

/** A `NetworkPolicyPort`. */
export interface PolicyPort {
  port: number;
  protocol: Protocol;
}

/** A NetworkPolicy as plain data; assignable to the provider's input type. */
export interface NetworkPolicyManifest {
  apiVersion: "networking.k8s.io/v1";
  kind: "NetworkPolicy";
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    podSelector: MatchLabels | Record<string, never>;
    policyTypes: ("Ingress" | "Egress")[];
    ingress?: { from: PolicyPeer[]; ports?: PolicyPort[] }[];
    egress?: { to: PolicyPeer[]; ports?: PolicyPort[] }[];
  };
}

/** A stable text key of a peer, for grouping and de-duplication. */
export function peerKey(end: Peer): string {
  switch (end.kind) {
    case "workload":
      return `workload:${end.namespace}/${end.identity.name}/${end.identity.component}/${end.identity.instance}`;
    case "ingress-controller":
    case "dns":
      return `${end.kind}:${end.namespace}/${JSON.stringify(sorted(end.selector))}`;
    case "kubernetes-api":
      return `kubernetes-api:${(end.cidrs ?? []).join(",")}`;
    case "internet":
      return `internet:${(end.except ?? []).join(",")}`;
  }
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

const DNS_WHY = "name resolution (CoreDNS)";

/**
 * The complete wiring table: the declared edges plus DNS for every workload that appears in one
 * (unless it declares its own DNS edge), without exact duplicates.
 */
export function wiringTable(edges: readonly Edge[]): Edge[] {
  const workloads = new Map<string, WorkloadPeer>();
  const hasDns = new Set<string>();
  for (const { from, to } of edges) {
    for (const end of [from, to]) if (end.kind === "workload") workloads.set(peerKey(end), end);
    if (from.kind === "workload" && to.kind === "dns") hasDns.add(peerKey(from));
  }
  const dnsEdges = [...workloads.entries()]
    .filter(([key]) => !hasDns.has(key))
    .map(([, workload]) =>
      edge(
        workload,
        peer.dns(),
        [port.udp(K3S_NETWORK.dnsPort), port.tcp(K3S_NETWORK.dnsPort)],
        DNS_WHY,
      ),
    );
  const seen = new Set<string>();
  return [...edges, ...dnsEdges].filter((candidate) => {
    const key = JSON.stringify([peerKey(candidate.from), peerKey(candidate.to), candidate.ports]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The rows of the wiring table that start or end at a workload of `namespace`. */
export function namespaceWiring(edges: readonly Edge[], namespace: string): Edge[] {
  const here = (end: Peer) => end.kind === "workload" && end.namespace === namespace;
  return wiringTable(edges).filter((entry) => here(entry.from) || here(entry.to));
}

/** The `ipBlock`s an address-based peer stands for; the cluster's own ranges are never in them. */
export function ipBlocksFor(end: KubernetesApiPeer | InternetPeer, cidrs: ClusterCidrs): IpBlock[] {
  const cluster = [cidrs.podCidr, cidrs.serviceCidr];
  const wanted = end.kind === "kubernetes-api" ? (end.cidrs ?? ["0.0.0.0/0"]) : ["0.0.0.0/0"];
  const extra = end.kind === "internet" ? (end.except ?? []) : [];
  return wanted.map((cidr) => {
    const range = parseCidr(cidr);
    // The API server rejects an `except` that is not inside its `cidr`.
    const except = [...cluster, ...extra].filter((inner) => {
      const innerRange = parseCidr(inner);
      return range && innerRange && rangeContains(range, innerRange) && inner !== cidr;
    });
    return except.length > 0 ? { cidr, except } : { cidr };
  });
}

/** The policy peer(s) that select `end`, as seen from a policy in `namespace`. */
export function policyPeersFor(end: Peer, namespace: string, cidrs: ClusterCidrs): PolicyPeer[] {
  switch (end.kind) {
    case "workload": {
      const podSelector = { matchLabels: selectorFor({ ...end.identity }) };
      if (end.namespace === namespace) return [{ podSelector }];
      // One peer with both selectors: those pods in that namespace (AND), never either alone.
      return [{ namespaceSelector: namespaceSelector(end.namespace), podSelector }];
    }
    case "ingress-controller":
    case "dns":
      return [
        {
          namespaceSelector: namespaceSelector(end.namespace),
          podSelector: { matchLabels: { ...end.selector } },
        },
      ];
    case "kubernetes-api":
    case "internet":
      return ipBlocksFor(end, cidrs).map((ipBlock) => ({ ipBlock }));
  }
}

function namespaceSelector(namespace: string): MatchLabels {
  return { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } };
}

function policyPorts(ports: readonly PortSpec[]): PolicyPort[] {
  return ports.map((spec) => ({ port: spec.port, protocol: spec.protocol ?? Protocol.TCP }));
}

const POLICY_LABELS = {
  "app.kubernetes.io/part-of": PART_OF,
  "app.kubernetes.io/managed-by": "pulumi",
};

/** The policy name of each workload: `allow-<name>`, longer only where two workloads share a name. */
function policyNames(workloads: WorkloadPeer[]): Map<string, string> {
  const byName = new Map<string, number>();
  for (const { identity } of workloads)
    byName.set(identity.name, (byName.get(identity.name) ?? 0) + 1);
  return new Map(
    workloads.map((workload) => {
      const { name, component, instance } = workload.identity;
      const unique = byName.get(name) === 1;
      return [
        peerKey(workload),
        unique ? `allow-${name}` : `allow-${name}-${component}-${instance}`,
      ];
    }),
  );
}

/**
 * The NetworkPolicies of one namespace: `default-deny` (every pod, both directions, carrying the
 * wiring annotation), then per workload of the namespace one `allow-<name>` policy with an egress
 * rule for each edge it starts and an ingress rule for each edge it ends. Throws on invalid edges.
 */
export function networkPoliciesFor(
  edges: readonly Edge[],
  options: NetworkPolicyOptions,
): NetworkPolicyManifest[] {
  const issues = validateEdges(edges, options);
  if (issues.length > 0) {
    throw new Error(issues.map((issue) => `${issue.propertyPath}: ${issue.reason}`).join("\n"));
  }
  const { namespace } = options;
  const relevant = namespaceWiring(edges, namespace);
  const local = new Map<string, WorkloadPeer>();
  for (const { from, to } of relevant) {
    for (const end of [from, to]) {
      if (end.kind === "workload" && end.namespace === namespace) local.set(peerKey(end), end);
    }
  }
  const document: WiringDocument = {
    format: WIRING_FORMAT,
    namespace,
    podCidr: options.podCidr,
    serviceCidr: options.serviceCidr,
    edges: relevant,
  };
  const defaultDeny: NetworkPolicyManifest = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: "default-deny",
      namespace,
      labels: { ...POLICY_LABELS },
      annotations: wiringAnnotation(document),
    },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  };
  const names = policyNames([...local.values()]);
  const allows = [...local.entries()].map(([key, workload]): NetworkPolicyManifest => {
    const ingress = relevant
      .filter((candidate) => peerKey(candidate.to) === key)
      .map((candidate) => ({
        from: policyPeersFor(candidate.from, namespace, options),
        ports: policyPorts(candidate.ports),
      }));
    const egress = relevant
      .filter((candidate) => peerKey(candidate.from) === key)
      .map((candidate) => ({
        to: policyPeersFor(candidate.to, namespace, options),
        ports: policyPorts(candidate.ports),
      }));
    return {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: {
        name: names.get(key) ?? `allow-${workload.identity.name}`,
        namespace,
        labels: { ...POLICY_LABELS },
      },
      spec: {
        podSelector: { matchLabels: selectorFor({ ...workload.identity }) },
        policyTypes: ["Ingress", "Egress"],
        // An empty list is left out, not written: the API server drops it, so a manifest that
        // kept it would differ from the stored object and be re-applied on every `up`.
        ...(ingress.length > 0 ? { ingress } : {}),
        ...(egress.length > 0 ? { egress } : {}),
      },
    };
  });
  return [defaultDeny, ...allows.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))];
}
