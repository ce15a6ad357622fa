import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { WorkloadIdentity } from "../../policy/model/labels";
import {
  edge,
  networkPoliciesFor,
  parseWiring,
  peer,
  port,
  validateEdges,
  WIRING_ANNOTATION,
  wiringTable,
  type Edge,
  type NetworkPolicyManifest,
  type PolicyPeer,
} from "../../policy/model/network";
import { registeredOfType, setupMocks, unwrap } from "../mocks";
import { parsedStackConfig, stackConfigIssues } from "./stack-config";

const mocks = setupMocks();

const NAMESPACE = "platform";
const CIDRS = { podCidr: "10.42.0.0/16", serviceCidr: "10.43.0.0/16" };
const OPTIONS = { namespace: NAMESPACE, ...CIDRS };

const identity = (name: string, component: string): WorkloadIdentity => ({
  name,
  component,
  instance: "platform",
  version: "1.0.0",
});
const web = peer.workload(identity("web", "web"), NAMESPACE);
const pgbouncer = peer.workload(identity("pgbouncer", "pooler"), NAMESPACE);
const postgres = peer.workload(identity("postgres", "database"), NAMESPACE);
const worker = peer.workload(identity("worker", "worker"), NAMESPACE);
const collector = peer.workload(
  identity("node-log-collector", "node-log-collector"),
  "platform-node-logs",
);
const otel = peer.workload(identity("otel-collector", "telemetry"), NAMESPACE);

const EDGES: Edge[] = [
  edge(peer.ingressController(), web, [port.tcp(3000)], "Traefik serves the app"),
  edge(web, pgbouncer, [port.tcp(5432)], "queries go through the pooler"),
  edge(pgbouncer, postgres, [port.tcp(5432)], "the pooler's server connections"),
  edge(web, peer.internet(), [port.tcp(443)], "Arcjet's API"),
  edge(worker, peer.kubernetesApi(), [port.tcp(6443)], "deploys users' services"),
  edge(collector, otel, [port.tcp(4317)], "node logs over OTLP"),
];

function policy(policies: NetworkPolicyManifest[], name: string): NetworkPolicyManifest {
  const found = policies.find((candidate) => candidate.metadata.name === name);
  if (!found)
    throw new Error(`no policy ${name} among ${policies.map((p) => p.metadata.name).join(", ")}`);
  return found;
}

const selectorOf = (end: typeof web) => ({
  "app.kubernetes.io/name": end.identity.name,
  "app.kubernetes.io/instance": end.identity.instance,
  "app.kubernetes.io/component": end.identity.component,
});

describe("networkPoliciesFor", () => {
  const policies = networkPoliciesFor(EDGES, OPTIONS);

  it("denies every pod of the namespace in both directions first", () => {
    const [first] = policies;
    expect(first.metadata).toMatchObject({ name: "default-deny", namespace: NAMESPACE });
    expect(first.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("writes one allow policy per workload of the namespace, named after it", () => {
    expect(policies.map((p) => p.metadata.name)).toEqual([
      "default-deny",
      "allow-otel-collector",
      "allow-pgbouncer",
      "allow-postgres",
      "allow-web",
      "allow-worker",
    ]);
    for (const allow of policies.slice(1)) {
      expect(allow.metadata.namespace).toBe(NAMESPACE);
      expect(allow.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    }
    expect(policy(policies, "allow-web").spec.podSelector).toEqual({
      matchLabels: selectorOf(web),
    });
  });

  it("opens exactly the edge's port at both ends: egress at the source, ingress at the target", () => {
    const egress = policy(policies, "allow-web").spec.egress ?? [];
    const ingress = policy(policies, "allow-pgbouncer").spec.ingress ?? [];
    expect(egress).toContainEqual({
      to: [{ podSelector: { matchLabels: selectorOf(pgbouncer) } }],
      ports: [{ port: 5432, protocol: "TCP" }],
    });
    expect(ingress).toEqual([
      {
        from: [{ podSelector: { matchLabels: selectorOf(web) } }],
        ports: [{ port: 5432, protocol: "TCP" }],
      },
    ]);
    // Postgres admits the pooler only: the app never connects to Postgres directly.
    expect(policy(policies, "allow-postgres").spec.ingress).toEqual([
      {
        from: [{ podSelector: { matchLabels: selectorOf(pgbouncer) } }],
        ports: [{ port: 5432, protocol: "TCP" }],
      },
    ]);
  });

  it("gives every workload DNS egress to CoreDNS in kube-system on 53/UDP and 53/TCP", () => {
    const dns = {
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
          podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        },
      ],
      ports: [
        { port: 53, protocol: "UDP" },
        { port: 53, protocol: "TCP" },
      ],
    };
    for (const allow of policies.slice(1)) expect(allow.spec.egress).toContainEqual(dns);
  });

  it("lets the internet egress reach anything but the pod and Service CIDRs, on 443 only", () => {
    expect(policy(policies, "allow-web").spec.egress).toContainEqual({
      to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.42.0.0/16", "10.43.0.0/16"] } }],
      ports: [{ port: 443, protocol: "TCP" }],
    });
  });

  it("allows the API server at the node address on 6443, where kube-router sees it after DNAT", () => {
    expect(policy(policies, "allow-worker").spec.egress).toContainEqual({
      to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.42.0.0/16", "10.43.0.0/16"] } }],
      ports: [{ port: 6443, protocol: "TCP" }],
    });
    const narrowed = networkPoliciesFor(
      [edge(worker, peer.kubernetesApi({ cidrs: ["192.168.1.0/24"] }), [port.tcp(6443)], "API")],
      OPTIONS,
    );
    expect(policy(narrowed, "allow-worker").spec.egress?.[0].to).toEqual([
      { ipBlock: { cidr: "192.168.1.0/24" } },
    ]);
  });

  it("admits Traefik by namespace AND pod labels in one peer", () => {
    const [rule] = policy(policies, "allow-web").spec.ingress ?? [];
    expect(rule.from).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": "traefik" } },
      },
    ]);
  });

  it("selects a workload of another namespace with both selectors in one peer", () => {
    const [rule] = policy(policies, "allow-otel-collector").spec.ingress ?? [];
    const expected: PolicyPeer = {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "platform-node-logs" } },
      podSelector: { matchLabels: selectorOf(collector) },
    };
    expect(rule.from).toEqual([expected]);
    const other = networkPoliciesFor(EDGES, { ...OPTIONS, namespace: "platform-node-logs" });
    expect(other.map((p) => p.metadata.name)).toEqual(["default-deny", "allow-node-log-collector"]);
  });

  it("carries the namespace's wiring table, DNS included, in the default-deny annotation", () => {
    const annotation = policies[0].metadata.annotations?.[WIRING_ANNOTATION] ?? "";
    const document = parseWiring(annotation);
    expect(document).toMatchObject({ format: 1, namespace: NAMESPACE, ...CIDRS });
    expect(document.edges).toContainEqual(EDGES[1]);
    // DNS for the five workloads of this namespace; the collector's belongs to its own namespace.
    expect(document.edges.filter((entry) => entry.to.kind === "dns")).toHaveLength(5);
    expect(JSON.stringify(document)).not.toContain("1.0.0");
  });

  it("refuses edges it cannot write a policy for, naming the field", () => {
    const bad = [
      edge(peer.internet(), peer.dns(), [port.tcp(53)], "no workload"),
      edge(web, pgbouncer, [], "no ports"),
      edge(web, pgbouncer, [port.tcp(70000)], ""),
      edge(worker, peer.kubernetesApi({ cidrs: ["192.168.1.10"] }), [port.tcp(6443)], "API"),
    ];
    const paths = validateEdges(bad, CIDRS).map((issue) => issue.propertyPath);
    expect(paths).toEqual([
      "edges[0]",
      "edges[1].ports",
      "edges[2].why",
      "edges[2].ports[0].port",
      "edges[3].to",
    ]);
    expect(() => networkPoliciesFor(bad, OPTIONS)).toThrow(/192\.168\.1\.10\/32/);
    expect(validateEdges([], { podCidr: "10.42.0.0", serviceCidr: CIDRS.serviceCidr })).toEqual([
      expect.objectContaining({ propertyPath: "podCidr" }),
    ]);
  });

  it("keeps a workload's own DNS edge instead of adding a second", () => {
    const own = edge(web, peer.dns(), [port.udp(53)], "UDP only");
    expect(wiringTable([own]).filter((entry) => entry.to.kind === "dns")).toEqual([own]);
  });
});

describe("NetworkPolicies", () => {
  it("creates the policies with explicit names and exposes the wiring table", async () => {
    const { NetworkPolicies } = await import("../../components/network-policies");
    const component = new NetworkPolicies("network-policies", {
      namespace: NAMESPACE,
      edges: EDGES,
      ...CIDRS,
    });
    const registered = await registeredOfType(
      mocks,
      "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    );
    expect(registered.map((r) => r.name).sort()).toEqual(
      [
        "default-deny",
        "allow-otel-collector",
        "allow-pgbouncer",
        "allow-postgres",
        "allow-web",
        "allow-worker",
      ]
        .map((name) => `network-policies-${name}`)
        .sort(),
    );
    const deny = registered.find((r) => r.name === "network-policies-default-deny");
    expect(deny?.inputs).toMatchObject({
      metadata: { name: "default-deny", namespace: NAMESPACE },
    });
    const edges = await unwrap(component.edges);
    expect(edges).toContainEqual(EDGES[0]);
    // The node-log collector's edge ends here, so it is part of this namespace's table.
    expect(edges).toContainEqual(EDGES[5]);
    expect(await unwrap(component.table)).toContain(
      "| web | pgbouncer | 5432/TCP | queries go through the pooler |",
    );
  });

  it("names the bad edge in an InputPropertiesError, before any policy exists", async () => {
    const { NetworkPolicies } = await import("../../components/network-policies");
    const create = () =>
      new NetworkPolicies("bad", {
        namespace: NAMESPACE,
        edges: [edge(web, pgbouncer, [], "no ports")],
        ...CIDRS,
      });
    let thrown: unknown;
    try {
      create();
    } catch (error) {
      thrown = error;
    }
    expect(pulumi.InputPropertiesError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({
      message: expect.stringMatching(
        /^NetworkPolicies: invalid arguments\nedges\[0\]\.ports: list/,
      ),
      errors: [
        { propertyPath: "edges[0].ports", reason: expect.stringMatching(/^list the destination/) },
      ],
    });
    const policies = await registeredOfType(mocks, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
    expect(policies.filter((policy) => policy.name.startsWith("bad-"))).toEqual([]);
  });
});

describe("NetworkPolicies' rules", () => {
  it("valid edges and CIDRs have no problem", async () => {
    const { networkPoliciesRules } = await import("../../components/network-policies");
    expect(networkPoliciesRules({ edges: EDGES, ...CIDRS })).toEqual([]);
  });

  it.each([
    ["podCidr", { podCidr: "10.42.0.0" }],
    ["serviceCidr", { serviceCidr: "10.300.0.0/16" }],
  ])("a %s that is not an IPv4 CIDR is refused", async (propertyPath, cidrs) => {
    const { networkPoliciesRules } = await import("../../components/network-policies");
    expect(networkPoliciesRules({ edges: [], ...CIDRS, ...cidrs })).toEqual([
      { propertyPath, reason: expect.stringContaining("must be an IPv4 CIDR") },
    ]);
  });

  it("an edge without ports is refused at its path", async () => {
    const { networkPoliciesRules } = await import("../../components/network-policies");
    const edges = [edge(web, pgbouncer, [], "no ports")];
    expect(networkPoliciesRules({ edges, ...CIDRS })).toEqual([
      { propertyPath: "edges[0].ports", reason: expect.stringContaining("list the destination") },
    ]);
  });
});

describe("NetworkPolicies' settings in the stack config", () => {
  it("the address plan comes from cluster.*", async () => {
    const { argsForNetworkPolicies } = await import("../../platform/args/network-policies");
    expect(argsForNetworkPolicies(parsedStackConfig())).toEqual(CIDRS);
  });

  it.each(["podCidr", "serviceCidr"])(
    "a cluster.%s the schema's pattern lets through is reported at its key",
    (key) => {
      // Shaped like a CIDR, but 300 is no octet.
      const issues = stackConfigIssues({ cluster: { [key]: "10.300.0.0/16" } });
      expect(issues).toEqual([
        { key: `k3s-platform:cluster.${key}`, message: expect.stringContaining("IPv4 CIDR") },
      ]);
    },
  );
});
