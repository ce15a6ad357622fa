import { spawn } from "node:child_process";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  edge,
  networkPoliciesFor,
  parseWiring,
  peer,
  port,
  WIRING_ANNOTATION,
  type Edge,
  type Peer,
} from "../../../policy/model/network";
import type { RenderedResource } from "../../../policy/model/render-model";
import { runPolicies } from "../../../policy/run";
import { ingressServesOnly } from "../../../policy/stack/ingress-serves-only";
import { internetEgress } from "../../../policy/stack/internet-egress";
import { postgresAccess } from "../../../policy/stack/postgres-access";
import { reachability } from "../../../policy/stack/reachability";
import { kubeObject } from "../../../policy/testing";

/*
 * The wiring invariants against a widened table. The shipped renders pass; then the platform
 * namespace's NetworkPolicies are generated again, as the NetworkPolicies component does, from
 * the render's own wiring table plus one wrong edge. `reachability` accepts each widened render
 * (the table agrees with itself): the invariant rule must not.
 */

const ROOT = path.resolve(__dirname, "..", "..", "..");
const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const NAMESPACE = "platform";
const INVARIANTS = [postgresAccess, ingressServesOnly, internetEgress];

type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered manifests, read by the assertions

/** A shipped stack's resources, rendered in a process of its own (one render per process). */
function render(stack: "dev" | "prod"): Promise<RenderedResource[]> {
  return new Promise((resolve, reject) => {
    const script = path.join(__dirname, "render-stack-resources.ts");
    const child = spawn(process.execPath, [TSX, script, stack], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (status) =>
      status === 0
        ? resolve(JSON.parse(stdout) as RenderedResource[])
        : reject(new Error(`render ${stack} failed (${status}): ${stderr}`)),
    );
  });
}

const isPolicyIn = (resource: RenderedResource, namespace: string) =>
  resource.props.kind === "NetworkPolicy" &&
  (resource.props.metadata as Props | undefined)?.namespace === namespace;

/** The render with the platform namespace's policies generated from its table plus `extra`. */
function widened(resources: RenderedResource[], extra: Edge[]): RenderedResource[] {
  const deny = resources.find(
    (resource) =>
      isPolicyIn(resource, NAMESPACE) && (resource.props.metadata as Props).name === "default-deny",
  );
  const text = (deny?.props.metadata as Props | undefined)?.annotations?.[WIRING_ANNOTATION];
  if (typeof text !== "string") throw new Error("the render carries no wiring table");
  const table = parseWiring(text);
  const policies = networkPoliciesFor([...table.edges, ...extra], {
    namespace: NAMESPACE,
    podCidr: table.podCidr,
    serviceCidr: table.serviceCidr,
  });
  const regenerated = policies.map((policy) =>
    kubeObject(
      "NetworkPolicy",
      policy.metadata.name,
      { spec: policy.spec },
      {
        namespace: NAMESPACE,
        labels: policy.metadata.labels,
        annotations: policy.metadata.annotations,
      },
    ),
  );
  return [...resources.filter((resource) => !isPolicyIn(resource, NAMESPACE)), ...regenerated];
}

/** The pods of a platform workload, by its name and component labels. */
const pods = (name: string, component = name): Peer =>
  peer.workload({ name, component, instance: NAMESPACE }, NAMESPACE);
const web = pods("web");
const worker = pods("worker");

/** The render with an env variable added to a Deployment's first container. */
function withEnv(resources: RenderedResource[], deployment: string, name: string) {
  return resources.map((resource) => {
    const props = resource.props as Props;
    if (props.kind !== "Deployment" || props.metadata?.name !== deployment) return resource;
    const copy = structuredClone(resource);
    const [first] = (copy.props as Props).spec.template.spec.containers as Props[];
    first.env = [
      ...(first.env ?? []),
      { name, valueFrom: { secretKeyRef: { name: "x", key: "y" } } },
    ];
    return copy;
  });
}

/** The render with the backup CronJob's upload container given another S3_ENDPOINT. */
function withBackupEndpoint(resources: RenderedResource[], endpoint: string) {
  return resources.map((resource) => {
    const props = resource.props as Props;
    if (props.kind !== "CronJob" || props.metadata?.name !== "postgres-backup") return resource;
    const copy = structuredClone(resource);
    const pod = (copy.props as Props).spec.jobTemplate.spec.template.spec;
    for (const variable of pod.containers[0].env as Props[]) {
      if (variable.name === "S3_ENDPOINT") variable.value = endpoint;
    }
    return copy;
  });
}

/** The render with Dragonfly's container given a `DFLY_s3_endpoint` (its snapshot bucket). */
function withSnapshotEndpoint(resources: RenderedResource[], hostPort: string) {
  return resources.map((resource) => {
    const props = resource.props as Props;
    if (props.kind !== "StatefulSet" || props.metadata?.name !== "dragonfly") return resource;
    const copy = structuredClone(resource);
    const [first] = (copy.props as Props).spec.template.spec.containers as Props[];
    first.env = [...(first.env ?? []), { name: "DFLY_s3_endpoint", value: hostPort }];
    return copy;
  });
}

async function findings(resources: RenderedResource[]): Promise<string[]> {
  const violations = await runPolicies([...INVARIANTS, reachability], resources);
  return violations.map((violation) => `[${violation.policy}] ${violation.message}`);
}

const rendered: Partial<Record<"dev" | "prod", RenderedResource[]>> = {};
beforeAll(async () => {
  // One after the other: two cores, shared.
  rendered.dev = await render("dev");
  rendered.prod = await render("prod");
}, 120_000);
const prod = () => rendered.prod ?? [];

describe("the shipped renders", () => {
  it.each(["dev", "prod"] as const)("%s keeps every wiring invariant", async (stack) => {
    expect(await findings(rendered[stack] ?? [])).toEqual([]);
  });
});

describe("a widened wiring table", () => {
  it("the app → Postgres without DATABASE_DIRECT_URL is reported, and passes reachability", async () => {
    const messages = await findings(
      widened(prod(), [edge(web, pods("postgres", "database"), [port.tcp(5432)], "oops")]),
    );
    expect(messages).toEqual([
      expect.stringMatching(
        /^\[postgres-access\] Deployment\/platform\/app-web: .*reach Postgres .*:5432 directly, but its pods have no DATABASE_DIRECT_URL/,
      ),
    ]);
  });

  it("the same edge is admitted when the app's pods carry DATABASE_DIRECT_URL", async () => {
    const extra = [edge(web, pods("postgres", "database"), [port.tcp(5432)], "sessions")];
    const direct = withEnv(widened(prod(), extra), "app-web", "DATABASE_DIRECT_URL");
    expect(await findings(direct)).toEqual([]);
  });

  it("anything else but PgBouncer, migrations, Temporal and the backups → Postgres is reported", async () => {
    const grafana = pods("grafana", "dashboards");
    const messages = await findings(
      widened(prod(), [edge(grafana, pods("postgres", "database"), [port.tcp(5432)], "oops")]),
    );
    expect(messages).toEqual([
      expect.stringMatching(
        /^\[postgres-access\] StatefulSet\/platform\/grafana: .*component=dashboards\) may reach Postgres/,
      ),
    ]);
  });

  it("the ingress controller → a workload it does not serve is reported", async () => {
    const prometheus = pods("prometheus");
    const messages = await findings(
      widened(prod(), [edge(peer.ingressController(), prometheus, [port.tcp(9090)], "oops")]),
    );
    expect(messages).toEqual([
      expect.stringMatching(
        /^\[ingress-serves-only\] StatefulSet\/platform\/prometheus: .*:9090, which the platform does not serve/,
      ),
    ]);
  });

  it("the ingress controller → a served workload on a port no Ingress routes to is reported", async () => {
    const messages = await findings(
      widened(prod(), [edge(peer.ingressController(), web, [port.tcp(9464)], "oops")]),
    );
    expect(messages).toEqual([
      expect.stringMatching(
        /^\[ingress-serves-only\] Deployment\/platform\/app-web: .*:9464, but no Ingress of the stack routes there/,
      ),
    ]);
  });

  it("the internet from a workload no config opens it for is reported", async () => {
    const messages = await findings(
      widened(prod(), [edge(worker, peer.internet(), [port.tcp(443)], "oops")]),
    );
    expect(messages).toEqual([
      expect.stringMatching(
        /^\[internet-egress\] Deployment\/platform\/app-worker: .*may reach the internet:443, which no config enables/,
      ),
    ]);
  });

  it("web → the internet needs ARCJET_KEY in its pods, and then only 443", async () => {
    const arcjet = [edge(web, peer.internet(), [port.tcp(443), port.tcp(80)], "Arcjet")];
    const without = await findings(widened(prod(), arcjet));
    expect(without).toEqual([
      expect.stringContaining("may reach the internet:80,"),
      expect.stringContaining("may reach the internet:443,"),
    ]);
    const keyed = withEnv(widened(prod(), arcjet), "app-web", "ARCJET_KEY");
    expect(await findings(keyed)).toEqual([expect.stringContaining("may reach the internet:80,")]);
  });

  it("the backups → the internet only on the port of an S3_ENDPOINT outside the cluster", async () => {
    const backup = pods("postgres-backup", "database-backup");
    const out = [edge(backup, peer.internet(), [port.tcp(443), port.tcp(8443)], "backup target")];
    // The shipped prod keeps its backups in the object store: no internet port is allowed.
    expect(await findings(widened(prod(), out))).toEqual([
      expect.stringContaining("may reach the internet:443,"),
      expect.stringContaining("may reach the internet:8443,"),
    ]);
    const external = withBackupEndpoint(widened(prod(), out), "https://s3.example.com:8443");
    expect(await findings(external)).toEqual([
      expect.stringContaining("may reach the internet:443,"),
    ]);
  });

  it("Dragonfly → the internet only on the port of a DFLY_s3_endpoint outside the cluster", async () => {
    const dragonfly = pods("dragonfly", "cache");
    const out = [edge(dragonfly, peer.internet(), [port.tcp(443), port.tcp(9000)], "snapshots")];
    // The shipped stacks keep Dragonfly's snapshots on its volume: no internet port is allowed.
    expect(await findings(widened(prod(), out))).toEqual([
      expect.stringContaining("may reach the internet:443,"),
      expect.stringContaining("may reach the internet:9000,"),
    ]);
    // The object store in the cluster is no reason to reach the internet on its port.
    const inCluster = withSnapshotEndpoint(
      widened(prod(), out),
      "object-store.platform.svc.cluster.local:9000",
    );
    expect(await findings(inCluster)).toHaveLength(2);
    const external = withSnapshotEndpoint(
      widened(prod(), out),
      "s3.eu-central-1.amazonaws.com:443",
    );
    expect(await findings(external)).toEqual([
      expect.stringContaining("may reach the internet:9000,"),
    ]);
  });
});

describe("the gateway collector's k8sattributes", () => {
  it("reaches the API server it watches with its token, under the default deny", () => {
    const resources = prod();
    const props = (kind: string, name: string) =>
      resources.find((r) => r.props.kind === kind && (r.props.metadata as Props)?.name === name)
        ?.props as Props;
    const deployment = props("Deployment", "otel-collector");
    expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(true);
    const role = resources.find(
      (r) => r.props.kind === "ClusterRole" && JSON.stringify(r.props).includes("otel-collector"),
    )?.props as Props;
    expect(role.rules).toEqual([
      { apiGroups: [""], resources: ["pods", "namespaces"], verbs: ["get", "list", "watch"] },
    ]);
    const egress = props("NetworkPolicy", "allow-otel-collector").spec.egress as Props[];
    expect(egress.filter((rule) => rule.to.some((to: Props) => to.ipBlock))).toEqual([
      { ports: [{ port: 6443, protocol: "TCP" }], to: expect.any(Array) },
    ]);
  });
});
