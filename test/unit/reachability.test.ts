import { describe, expect, it } from "vitest";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import {
  edge,
  networkPoliciesFor,
  peer,
  port,
  type Edge,
  type NetworkPolicyManifest,
} from "../../policy/model/network";
import { reachability } from "../../policy/stack/reachability";
import { deployment, job, kubeObject, runRule } from "../../policy/testing";
import { ALL_PORTS } from "../../policy/model/port-set";
import {
  allowedPorts,
  compareWithWiring,
  reachabilityMatrix,
  type ReachabilityMatrix,
} from "../../policy/model/reachability";
import type { RenderedResource } from "../../policy/model/render-model";

const NAMESPACE = "platform";
const CIDRS = { podCidr: "10.42.0.0/16", serviceCidr: "10.43.0.0/16" };

const identity = (name: string, component = name): WorkloadIdentity => ({
  name,
  component,
  instance: "platform",
});
const ids = {
  web: identity("web"),
  pgbouncer: identity("pgbouncer", "pooler"),
  postgres: identity("postgres", "database"),
  worker: identity("worker"),
  migrations: identity("migrations"),
  ollama: identity("ollama", "llm"),
  otel: identity("otel-collector", "telemetry"),
  collector: identity("node-log-collector"),
};
const at = (name: keyof typeof ids, namespace = NAMESPACE) => peer.workload(ids[name], namespace);

const EDGES: Edge[] = [
  edge(peer.ingressController(), at("web"), [port.tcp(3000)], "Traefik serves the app"),
  edge(at("web"), at("pgbouncer"), [port.tcp(5432)], "queries go through the pooler"),
  edge(at("pgbouncer"), at("postgres"), [port.tcp(5432)], "the pooler's server connections"),
  edge(at("migrations"), at("postgres"), [port.tcp(5432)], "Atlas takes a session lock"),
  edge(at("web"), peer.internet(), [port.tcp(443)], "Arcjet's API"),
  edge(at("worker"), at("pgbouncer"), [port.tcp(5432)], "BullMQ jobs read the database"),
  edge(at("worker"), peer.kubernetesApi(), [port.tcp(6443)], "deploys users' services"),
];

/** A pod template with the identity's labels and named container ports. */
function pods(
  name: keyof typeof ids,
  containerPorts: { name: string; containerPort: number; protocol?: string }[] = [],
  kind: "Deployment" | "Job" = "Deployment",
  namespace = NAMESPACE,
): RenderedResource {
  const build = kind === "Job" ? job : deployment;
  return build(ids[name].name, {
    namespace,
    podLabels: labelsFor(ids[name]),
    container: { ports: containerPorts.map((entry) => ({ protocol: "TCP", ...entry })) },
  });
}

const asResource = (policy: NetworkPolicyManifest): RenderedResource =>
  kubeObject(
    "NetworkPolicy",
    policy.metadata.name,
    { spec: policy.spec },
    {
      namespace: policy.metadata.namespace,
      labels: policy.metadata.labels,
      annotations: policy.metadata.annotations,
    },
  );

const WORKLOADS = [
  pods("web", [{ name: "http", containerPort: 3000 }]),
  pods("pgbouncer", [{ name: "pgbouncer", containerPort: 5432 }]),
  pods("postgres", [{ name: "postgres", containerPort: 5432 }]),
  pods("worker"),
  pods("migrations", [], "Job"),
];

function render(edges: Edge[], extra: RenderedResource[] = []): RenderedResource[] {
  const policies = networkPoliciesFor(edges, { namespace: NAMESPACE, ...CIDRS }).map(asResource);
  return [...WORKLOADS, ...policies, ...extra];
}

function matrixOf(resources: RenderedResource[], edges: Edge[] = EDGES): ReachabilityMatrix {
  const externals = edges.flatMap((entry) => [entry.from, entry.to]);
  return reachabilityMatrix(resources, { ...CIDRS, externals });
}

const id = (name: string, kind = "Deployment", namespace = NAMESPACE) =>
  `${kind}/${namespace}/${name}`;
const tcp = (n: number) => [{ protocol: "TCP", from: n, to: n }];

/** A hand-written policy (what someone might add next to the generated ones). */
function handWritten(name: string, podSelector: Record<string, string>, spec: object) {
  return kubeObject("NetworkPolicy", name, {
    spec: { podSelector: { matchLabels: podSelector }, ...spec },
  });
}

describe("reachabilityMatrix", () => {
  const matrix = matrixOf(render(EDGES));

  it("allows each wired connection on exactly its port, and nothing between other pairs", () => {
    expect(allowedPorts(matrix, id("web"), id("pgbouncer"))).toEqual(tcp(5432));
    expect(allowedPorts(matrix, id("pgbouncer"), id("postgres"))).toEqual(tcp(5432));
    expect(allowedPorts(matrix, id("migrations", "Job"), id("postgres"))).toEqual(tcp(5432));
    expect(allowedPorts(matrix, "ingress-controller", id("web"))).toEqual(tcp(3000));
    expect(allowedPorts(matrix, id("web"), id("postgres"))).toEqual([]);
    expect(allowedPorts(matrix, id("postgres"), id("web"))).toEqual([]);
    expect(allowedPorts(matrix, id("web"), "dns")).toEqual([
      { protocol: "TCP", from: 53, to: 53 },
      { protocol: "UDP", from: 53, to: 53 },
    ]);
  });

  it("judges the API server at the node's address on 6443 and the internet at a public one", () => {
    expect(allowedPorts(matrix, id("worker"), "kubernetes-api")).toEqual(tcp(6443));
    expect(allowedPorts(matrix, id("web"), "internet")).toEqual(tcp(443));
    expect(allowedPorts(matrix, id("postgres"), "internet")).toEqual([]);
  });

  it("finds nothing to report when the policies are the wiring table's", () => {
    expect(compareWithWiring(matrix, EDGES)).toEqual({ unintended: [], missing: [] });
  });

  it("treats a pod that no policy selects as open in both directions", () => {
    // A namespace without a default deny: no policy selects the pod.
    const sandbox = pods(
      "ollama",
      [{ name: "http", containerPort: 11434 }],
      "Deployment",
      "sandbox",
    );
    const open = matrixOf(render(EDGES, [sandbox]));
    const ollama = id("ollama", "Deployment", "sandbox");
    expect(allowedPorts(open, "ingress-controller", ollama)).toEqual(ALL_PORTS);
    expect(allowedPorts(open, ollama, "internet")).toEqual(ALL_PORTS);
    // The web's own egress is still closed to it, and the pooler's ingress to it.
    expect(allowedPorts(open, id("web"), ollama)).toEqual([]);
    expect(allowedPorts(open, ollama, id("pgbouncer"))).toEqual([]);
    expect(compareWithWiring(open, EDGES).unintended).toContain(
      "ollama → internet on every port is allowed but not in the wiring table",
    );
  });

  it("reads namespaceSelector and podSelector in one peer as AND, in two peers as OR", () => {
    const kubeSystem = { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } };
    const traefik = { matchLabels: { "app.kubernetes.io/name": "traefik" } };
    const ingress = (from: object[]) =>
      handWritten("web-from-traefik", selectorFor(ids.web), {
        policyTypes: ["Ingress"],
        ingress: [{ from, ports: [{ port: 3000, protocol: "TCP" }] }],
      });
    const and = matrixOf(
      render(EDGES, [ingress([{ namespaceSelector: kubeSystem, podSelector: traefik }])]),
    );
    expect(allowedPorts(and, "dns", id("web"))).toEqual([]);
    const or = matrixOf(
      render(EDGES, [ingress([{ namespaceSelector: kubeSystem }, { podSelector: traefik }])]),
    );
    expect(allowedPorts(or, "dns", id("web"))).toEqual(tcp(3000));
    expect(compareWithWiring(or, EDGES).unintended).toEqual([
      "dns → web:3000 is allowed but not in the wiring table",
    ]);
  });

  it("resolves named target ports on the selected pods, as kube-router does", () => {
    const named = handWritten("web-to-postgres-named", selectorFor(ids.postgres), {
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: selectorFor(ids.web) } }],
          ports: [{ port: "postgres", protocol: "TCP" }],
        },
      ],
    });
    const egress = handWritten("web-egress-named", selectorFor(ids.web), {
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ podSelector: { matchLabels: selectorFor(ids.postgres) } }],
          ports: [{ port: "postgres", protocol: "TCP" }],
        },
      ],
    });
    const resolved = matrixOf(render(EDGES, [named, egress]));
    expect(allowedPorts(resolved, id("web"), id("postgres"))).toEqual(tcp(5432));
  });

  it("opens every port where a named port resolves on no pod (kube-router's fallback)", () => {
    const typo = handWritten("postgres-typo", selectorFor(ids.postgres), {
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: selectorFor(ids.web) } }],
          ports: [{ port: "postgress", protocol: "TCP" }],
        },
      ],
    });
    const open = matrixOf(render(EDGES, [typo]));
    // The web's egress still stops it; the ingress side alone is every port.
    expect(allowedPorts(open, id("web"), id("postgres"))).toEqual([]);
    const webEgressOpen = handWritten("web-any", selectorFor(ids.web), {
      policyTypes: ["Egress"],
      egress: [{ to: [{ podSelector: { matchLabels: selectorFor(ids.postgres) } }] }],
    });
    const both = matrixOf(render(EDGES, [typo, webEgressOpen]));
    expect(allowedPorts(both, id("web"), id("postgres"))).toEqual(ALL_PORTS);
  });

  it("lets a workload in another namespace in only by namespace AND labels", () => {
    const edges = [
      ...EDGES,
      edge(at("collector", "platform-node-logs"), at("otel"), [port.tcp(4317)], "node logs"),
    ];
    const resources = [
      ...render(edges, [pods("otel", [{ name: "otlp-grpc", containerPort: 4317 }])]),
      pods("collector", [], "Deployment", "platform-node-logs"),
      ...networkPoliciesFor(edges, { namespace: "platform-node-logs", ...CIDRS }).map(asResource),
    ];
    const crossed = matrixOf(resources, edges);
    const collectorId = id("node-log-collector", "Deployment", "platform-node-logs");
    expect(allowedPorts(crossed, collectorId, id("otel-collector"))).toEqual(tcp(4317));
    expect(compareWithWiring(crossed, edges)).toEqual({ unintended: [], missing: [] });
  });
});

describe("compareWithWiring", () => {
  it("reports an unintended edge: the app reaching Postgres directly", () => {
    const direct = edge(at("web"), at("postgres"), [port.tcp(5432)], "session features");
    const matrix = matrixOf(render([...EDGES, direct]));
    expect(compareWithWiring(matrix, EDGES)).toEqual({
      unintended: ["web → postgres:5432 is allowed but not in the wiring table"],
      missing: [],
    });
  });

  it("reports a missing edge: the worker cut off from the API server", () => {
    const matrix = matrixOf(render(EDGES.filter((entry) => entry.to.kind !== "kubernetes-api")));
    expect(compareWithWiring(matrix, EDGES).missing).toEqual([
      "worker → kubernetes-api:6443 is in the wiring table but not allowed (deploys users' services)",
    ]);
  });

  it("reports a wired workload that no pod template matches", () => {
    const ghost = edge(at("web"), at("ollama"), [port.tcp(11434)], "LLM calls");
    const { missing } = compareWithWiring(matrixOf(render(EDGES)), [...EDGES, ghost]);
    expect(missing).toEqual([
      "the wiring table connects ollama (pods labelled app.kubernetes.io/name=ollama, " +
        "app.kubernetes.io/instance=platform, app.kubernetes.io/component=llm in platform), but " +
        "nothing in the render matches it: web → ollama (LLM calls), ollama → dns (name " +
        "resolution (CoreDNS))",
    ]);
  });
});

describe("reachability policy", () => {
  const messages = (resources: RenderedResource[]) => runRule(reachability, resources);

  it("passes a stack whose policies are its wiring table", async () => {
    expect(await messages(render(EDGES))).toEqual([]);
  });

  it("reports unintended and missing edges against the default-deny policy", async () => {
    const direct = edge(at("web"), at("postgres"), [port.tcp(5432)], "session features");
    const drifted = render([...EDGES.filter((entry) => entry.to.kind !== "internet"), direct]);
    // The annotation still says what the platform wants: the drift is in the policies.
    const wanted = render(EDGES).find((r) => r.name === "default-deny") as RenderedResource;
    const resources = drifted.map((r) => (r.name === "default-deny" ? wanted : r));
    expect(await messages(resources)).toEqual([
      "NetworkPolicy/platform/default-deny: web → postgres:5432 is allowed but not in the wiring " +
        "table; declare the edge or narrow the NetworkPolicy that opens it",
      "NetworkPolicy/platform/default-deny: web → internet:443 is in the wiring table but not " +
        "allowed (Arcjet's API); the app will fail on this connection once deployed",
    ]);
  });

  it("skips a stack without a wiring table (workload-has-netpol reports that)", async () => {
    expect(await messages(WORKLOADS)).toEqual([]);
  });

  it("reports a wiring annotation it cannot read", async () => {
    const broken = kubeObject(
      "NetworkPolicy",
      "default-deny",
      { spec: { podSelector: {} } },
      {
        annotations: { "k3s-platform/wiring": "{}" },
      },
    );
    expect(await messages([...WORKLOADS, broken])).toEqual([
      expect.stringContaining("is not a wiring table"),
    ]);
  });
});
