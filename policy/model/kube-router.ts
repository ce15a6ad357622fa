import { blockMeets, type AddressRange, type IpBlock } from "./cidr";
import * as ports from "./port-set";
import type { PortSet } from "./port-set";
import type { Manifest } from "./render-model";

/**
 * NetworkPolicy evaluation as K3s's kube-router enforces it (pkg/controllers/netpol/policy.go):
 *
 * - A pod that no policy of a direction selects is open in that direction; otherwise the union
 *   of the selecting policies' rules of that direction applies. hostNetwork pods are neither
 *   governed nor matched by selectors. Policies are judged after the Service DNAT, so ports are
 *   container ports.
 * - A peer with `namespaceSelector` and `podSelector` is their AND; `podSelector` alone means the
 *   policy's own namespace; `ipBlock` counts only in a peer without selectors.
 * - A named port resolves per pod: for ingress on the policy's own pods, for egress on the peer's
 *   pods (every pod of the policy's namespace when `to` is empty); never for an `ipBlock`.
 * - kube-router's quirk, kept because it is what runs: a rule whose ports are all named and
 *   resolve on no pod matches its pod peers on EVERY port (the rule degenerates to IPs only).
 */

/** What an endpoint of the matrix is. */
export type EndpointKind =
  "workload" | "ingress-controller" | "dns" | "kubernetes-api" | "internet";

/** A declared container port, for named-port resolution. */
export interface ContainerPort {
  name?: string;
  port: number;
  protocol: string;
}

/** One source or destination: the pods of a pod template, an add-on, or an outside address. */
export interface Endpoint {
  /** `Deployment/platform/web`, or the kind for the outside ones. */
  id: string;
  /** How findings name it: the `app.kubernetes.io/name` label, else the object name. */
  label: string;
  kind: EndpointKind;
  namespace?: string;
  labels: Record<string, string>;
  containerPorts: ContainerPort[];
  /** The addresses its traffic carries: the pod CIDR for pods, one sample address otherwise. */
  addresses: AddressRange;
  /** Whether the render's policies apply to it (workloads that are not hostNetwork). */
  governed: boolean;
  /** Whether pod and namespace selectors can match it. */
  selectable: boolean;
}

/** A `metav1.LabelSelector`. */
export type Selector = {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
};
interface RulePeer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: IpBlock;
}
interface RulePort {
  port?: number | string;
  endPort?: number;
  protocol?: string;
}
interface Rule {
  peers: RulePeer[];
  ports: RulePort[];
}
/** A NetworkPolicy as the enforcer holds it, with the pods it selects (`targets`). */
export interface Policy {
  namespace: string;
  podSelector: Selector;
  types: { ingress: boolean; egress: boolean };
  ingress: Rule[];
  egress: Rule[];
  targets: Endpoint[];
}

/** A plain object, or an empty one for anything else (absent, redacted, an array). */
export function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
/** An array, or an empty one for anything else. */
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
/** The string-valued entries of an object (labels, matchLabels). */
export function stringRecord(value: unknown): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record(value)).filter(([, v]) => typeof v === "string"),
  ) as Record<string, string>;
}

/** A label selector (matchLabels AND matchExpressions) against labels; `{}` matches all. */
export function selectorMatches(selector: Selector, labels: Record<string, string>): boolean {
  const equal = Object.entries(selector.matchLabels ?? {}).every(
    ([key, value]) => labels[key] === value,
  );
  return (
    equal &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const present = key in labels;
      if (operator === "Exists") return present;
      if (operator === "DoesNotExist") return !present;
      if (operator === "In") return present && values.includes(labels[key]);
      if (operator === "NotIn") return !present || !values.includes(labels[key]);
      return false;
    })
  );
}

function selectorOf(value: unknown): Selector | undefined {
  if (value === undefined || value === null) return undefined;
  const selector = record(value);
  return {
    matchLabels: stringRecord(selector.matchLabels),
    matchExpressions: list(selector.matchExpressions).map((entry) => {
      const expression = record(entry);
      return {
        key: String(expression.key),
        operator: String(expression.operator),
        values: list(expression.values).map(String),
      };
    }),
  };
}

function rulesOf(value: unknown, peersKey: "from" | "to"): Rule[] {
  return list(value).map((entry) => {
    const rule = record(entry);
    return {
      peers: list(rule[peersKey]).map((item) => {
        const peerSpec = record(item);
        const ipBlock = record(peerSpec.ipBlock);
        return {
          podSelector: selectorOf(peerSpec.podSelector),
          namespaceSelector: selectorOf(peerSpec.namespaceSelector),
          ...(typeof ipBlock.cidr === "string"
            ? { ipBlock: { cidr: ipBlock.cidr, except: list(ipBlock.except).map(String) } }
            : {}),
        };
      }),
      ports: list(rule.ports).map((item) => record(item) as RulePort),
    };
  });
}

/** The NetworkPolicies among the manifests; a policy without a known spec is undecidable. */
export function policiesOf(
  manifests: Manifest[],
  undecidable: string[],
): Omit<Policy, "targets">[] {
  return manifests
    .filter((manifest) => manifest.kind === "NetworkPolicy")
    .flatMap((manifest) => {
      const spec = manifest.spec;
      if (typeof spec !== "object" || spec === null) {
        undecidable.push(`NetworkPolicy ${manifest.metadata.name} has no known spec`);
        return [];
      }
      const fields = record(spec);
      const listed = list(fields.policyTypes).map(String);
      const egress = rulesOf(fields.egress, "to");
      // The API server's default: Ingress always, Egress when the policy has egress rules.
      const types =
        listed.length > 0
          ? { ingress: listed.includes("Ingress"), egress: listed.includes("Egress") }
          : { ingress: true, egress: egress.length > 0 };
      return [
        {
          namespace: manifest.metadata.namespace ?? "default",
          podSelector: selectorOf(fields.podSelector) ?? {},
          types,
          ingress: rulesOf(fields.ingress, "from"),
          egress,
        },
      ];
    });
}

/** Numeric entries of a rule's ports; an entry with a protocol and no port is all of them. */
function numericPorts(rule: Rule): PortSet {
  return ports.union(
    ...rule.ports.map((entry) => {
      const protocol = entry.protocol ?? "TCP";
      if (entry.port === undefined) return ports.allPortsOf(protocol);
      return typeof entry.port === "number"
        ? ports.portRange(protocol, entry.port, entry.endPort)
        : [];
    }),
  );
}

/** Named entries of a rule's ports resolved on each pod that declares them (by endpoint id). */
function namedPorts(rule: Rule, pods: readonly Endpoint[]): Map<string, PortSet> {
  const resolved = new Map<string, PortSet>();
  for (const entry of rule.ports) {
    if (typeof entry.port !== "string") continue;
    const protocol = entry.protocol ?? "TCP";
    for (const pod of pods) {
      for (const declared of pod.containerPorts) {
        if (declared.name !== entry.port || declared.protocol !== protocol) continue;
        const set = ports.portRange(protocol, declared.port);
        resolved.set(pod.id, ports.union(resolved.get(pod.id) ?? [], set));
      }
    }
  }
  return resolved;
}

/** Evaluates NetworkPolicies over a set of endpoints. */
export class Enforcer {
  private readonly policies: Policy[];
  constructor(
    private readonly endpoints: Endpoint[],
    policies: Omit<Policy, "targets">[],
    private readonly namespaceLabels: (namespace: string) => Record<string, string>,
  ) {
    this.policies = policies.map((policy) => ({
      ...policy,
      targets: endpoints.filter(
        (endpoint) =>
          endpoint.governed &&
          endpoint.namespace === policy.namespace &&
          selectorMatches(policy.podSelector, endpoint.labels),
      ),
    }));
  }

  private peerPods(policy: Policy, rulePeer: RulePeer): Endpoint[] {
    const { podSelector, namespaceSelector } = rulePeer;
    if (!podSelector && !namespaceSelector) return [];
    return this.endpoints.filter(
      (endpoint) =>
        endpoint.selectable &&
        endpoint.namespace !== undefined &&
        (namespaceSelector
          ? selectorMatches(namespaceSelector, this.namespaceLabels(endpoint.namespace))
          : endpoint.namespace === policy.namespace) &&
        (!podSelector || selectorMatches(podSelector, endpoint.labels)),
    );
  }

  private ipPeerMeets(rule: Rule, endpoint: Endpoint): boolean {
    return rule.peers.some(
      (rulePeer) =>
        !rulePeer.podSelector &&
        !rulePeer.namespaceSelector &&
        rulePeer.ipBlock !== undefined &&
        blockMeets(rulePeer.ipBlock, endpoint.addresses),
    );
  }

  private egressRule(policy: Policy, rule: Rule, to: Endpoint): PortSet {
    const hasPorts = rule.ports.length > 0;
    const numeric = numericPorts(rule);
    if (rule.peers.length === 0) {
      if (!hasPorts) return ports.ALL_PORTS;
      const local = this.endpoints.filter((e) => e.selectable && e.namespace === policy.namespace);
      return ports.union(numeric, ...namedPorts(rule, local).values());
    }
    let allowed: PortSet = ports.NO_PORTS;
    const pods = rule.peers.flatMap((rulePeer) => this.peerPods(policy, rulePeer));
    if (pods.includes(to)) {
      const named = namedPorts(rule, pods);
      const unresolved = ports.isEmpty(numeric) && named.size === 0;
      allowed =
        !hasPorts || unresolved ? ports.ALL_PORTS : ports.union(numeric, named.get(to.id) ?? []);
    }
    if (this.ipPeerMeets(rule, to))
      allowed = ports.union(allowed, hasPorts ? numeric : ports.ALL_PORTS);
    return allowed;
  }

  private ingressRule(policy: Policy, rule: Rule, from: Endpoint, to: Endpoint): PortSet {
    const hasPorts = rule.ports.length > 0;
    const numeric = numericPorts(rule);
    const named = namedPorts(rule, policy.targets);
    const own = ports.union(numeric, named.get(to.id) ?? []);
    if (rule.peers.length === 0) return hasPorts ? own : ports.ALL_PORTS;
    let allowed: PortSet = ports.NO_PORTS;
    if (rule.peers.some((rulePeer) => this.peerPods(policy, rulePeer).includes(from))) {
      const unresolved = ports.isEmpty(numeric) && named.size === 0;
      allowed = !hasPorts || unresolved ? ports.ALL_PORTS : own;
    }
    if (this.ipPeerMeets(rule, from))
      allowed = ports.union(allowed, hasPorts ? own : ports.ALL_PORTS);
    return allowed;
  }

  /** What the source's egress allows towards `to`. */
  egress(from: Endpoint, to: Endpoint): PortSet {
    const selecting = this.policies.filter((p) => p.types.egress && p.targets.includes(from));
    if (selecting.length === 0) return ports.ALL_PORTS;
    return ports.union(
      ...selecting.flatMap((p) => p.egress.map((rule) => this.egressRule(p, rule, to))),
    );
  }

  /** What the destination's ingress allows from `from`. */
  ingress(from: Endpoint, to: Endpoint): PortSet {
    const selecting = this.policies.filter((p) => p.types.ingress && p.targets.includes(to));
    if (selecting.length === 0) return ports.ALL_PORTS;
    return ports.union(
      ...selecting.flatMap((p) => p.ingress.map((rule) => this.ingressRule(p, rule, from, to))),
    );
  }
}
