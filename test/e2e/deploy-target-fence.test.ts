import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../policy/model/render-model";
import { applyRender } from "./lib/apply-render";
import { startControlPlane, waitFor, type ControlPlane } from "./lib/control-plane";
import type { KubeClient, KubeResponse } from "./lib/kube-client";
import { renderObjects, type PlanResource } from "./lib/render-objects";
import { serviceAccountToken, whoAmI } from "./lib/service-account-token";
import { ensureE2eBinaries } from "./lib/tools";
import {
  cpuMillis,
  podsOf,
  replicaFailure,
  restrictedContainer,
  userDeployment,
  userPod,
} from "./lib/user-workloads";

/**
 * The deploy targets' fence, tried by the worker itself: the dev render applied to a real API
 * server, then every call made with a token the TokenRequest API issued for the worker's
 * ServiceAccount, as its pod would hold it. Each thing the worker must not do is refused by the
 * server with its reason (RBAC, the fence's ValidatingAdmissionPolicies, LimitRanger, Pod
 * Security, the quota), and what it is for (a user's Deployment and its Ingress on an apps host)
 * goes through.
 */

const STACK = "dev";
const TARGET_LABEL = "k3s-platform/deploy-target";
const INGRESS_POLICY = "deploy-target-ingress-hosts";
const SERVICE_POLICY = "deploy-target-services";

const binaries = ensureE2eBinaries();
const render = renderObjects(STACK);
for (const pending of [binaries, render]) pending.catch(() => undefined);

/** What the render says: the worker's account, its targets, and the hosts of the fence. */
interface Fenced {
  platformNamespace: string;
  account: string;
  target: string;
  /** The platform's own Ingress hosts (app, Grafana, Temporal UI). */
  platformHosts: string[];
  appsDomain: string;
  /** `cluster.domain`: the one the platform's hosts are under. */
  domain: string;
  /** A Secret of the platform namespace, by name. */
  platformSecret: string;
  limitRange: Manifest;
  quota: Manifest;
}

describe(`the ${STACK} render's deploy-target fence, tried with the worker's own token`, () => {
  let cluster: ControlPlane | undefined;
  let worker: KubeClient;
  let fenced: Fenced;
  const admin = () => (cluster as ControlPlane).client;
  const timings: string[] = [];

  beforeAll(async () => {
    cluster = await startControlPlane(await binaries);
    fenced = fencedOf(await render);
    const applied = await applyRender(cluster.client, await render);
    const refused = applied.filter((result) => result.status >= 300);
    if (refused.length > 0) throw new Error(refused.map((r) => `${r.id}: ${r.error}`).join("\n"));
    await fenceInForce(cluster.client, fenced);
    const started = Date.now();
    const token = await serviceAccountToken(
      cluster.client,
      fenced.platformNamespace,
      fenced.account,
    );
    timings.push(`TokenRequest: ${Date.now() - started} ms`);
    worker = cluster.client.withToken(token);
  }, 420_000);

  afterAll(async () => {
    if (timings.length > 0) console.log(`deploy-target fence timings:\n  ${timings.join("\n  ")}`);
    await cluster?.stop();
  }, 60_000);

  it("the token is the worker's ServiceAccount, not the admin", async () => {
    expect(await whoAmI(worker)).toBe(
      `system:serviceaccount:${fenced.platformNamespace}:${fenced.account}`,
    );
  });

  it("RBAC: no Deployment in the platform namespace", async () => {
    const { platformNamespace } = fenced;
    const refused = await post(
      worker,
      `/apis/apps/v1/namespaces/${platformNamespace}/deployments`,
      userDeployment(platformNamespace, "intruder", 1, restrictedContainer()),
    );
    expectForbidden(
      refused,
      `cannot create resource "deployments" in API group "apps" in the namespace "${platformNamespace}"`,
    );
  });

  it("RBAC: no ClusterRole", async () => {
    const refused = await post(worker, "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "worker-escalates" },
      rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }],
    });
    expectForbidden(
      refused,
      `cannot create resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope`,
    );
  });

  it("RBAC: no Secret outside its targets, and no listing Secrets even in one", async () => {
    const { platformNamespace, platformSecret, target } = fenced;
    // The admin reads it, so the 403 below is the worker's lack of rights, not a missing object.
    await admin().get(`/api/v1/namespaces/${platformNamespace}/secrets/${platformSecret}`);
    const platform = await worker.request(
      "GET",
      `/api/v1/namespaces/${platformNamespace}/secrets/${platformSecret}`,
    );
    expectForbidden(
      platform,
      `cannot get resource "secrets" in API group "" in the namespace "${platformNamespace}"`,
    );
    const system = await worker.request("GET", "/api/v1/namespaces/kube-system/secrets/anything");
    expectForbidden(
      system,
      `cannot get resource "secrets" in API group "" in the namespace "kube-system"`,
    );
    const listed = await worker.request("GET", `/api/v1/namespaces/${target}/secrets`);
    expectForbidden(
      listed,
      `cannot list resource "secrets" in API group "" in the namespace "${target}"`,
    );
  });

  it.each([
    [
      "a platform host",
      (f: Fenced) => ingress(f.target, "takeover", [hostOf(f, "grafana.")]),
      "is a platform host",
    ],
    [
      "the app's host",
      // The dev stack runs no app, yet its host (app.<cluster.domain>) stays the platform's.
      (f: Fenced) => ingress(f.target, "app-path", [`app.${f.domain}`]),
      "is a platform host",
    ],
    [
      "a host outside the apps domain",
      (f: Fenced) => ingress(f.target, "elsewhere", ["shop.example.com"]),
      "shop.example.com is outside the apps fence",
    ],
    [
      "the bare apps domain",
      (f: Fenced) => ingress(f.target, "apex", [f.appsDomain]),
      "is outside the apps fence",
    ],
    [
      "a wildcard under the apps domain",
      (f: Fenced) => ingress(f.target, "wildcard", [`*.${f.appsDomain}`]),
      "is outside the apps fence",
    ],
    [
      "a rule without a host",
      (f: Fenced) => ingress(f.target, "hostless", [undefined]),
      "must name a host",
    ],
    [
      "a default backend",
      (f: Fenced) =>
        ingress(f.target, "catch-all", [`svc.${f.appsDomain}`], { defaultBackend: backend() }),
      "must not set spec.defaultBackend",
    ],
    [
      "a TLS entry for a platform host",
      (f: Fenced) =>
        ingress(f.target, "tls", [`svc.${f.appsDomain}`], {
          tls: [{ hosts: [hostOf(f, "grafana.")], secretName: "stolen" }],
        }),
      "every spec.tls host",
    ],
  ])("the fence refuses an Ingress on %s", async (what, build, reason) => {
    const object = build(fenced);
    const refused = await post(
      worker,
      `/apis/networking.k8s.io/v1/namespaces/${fenced.target}/ingresses`,
      object,
    );
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.message).toContain(
      `ValidatingAdmissionPolicy '${fenced.platformNamespace}-${INGRESS_POLICY}'`,
    );
    expect(refused.body.message).toContain(reason);
    console.log(`Ingress on ${what}: ${refused.status} ${refused.body.message}`);
  });

  it("the fence refuses an ExternalName Service and one with externalIPs", async () => {
    const { target, platformNamespace } = fenced;
    const alias = await post(worker, `/api/v1/namespaces/${target}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "alias", namespace: target },
      spec: {
        type: "ExternalName",
        externalName: `postgres.${platformNamespace}.svc.cluster.local`,
      },
    });
    expect(alias.status, JSON.stringify(alias.body)).toBe(403);
    expect(alias.body.message).toContain(
      `ValidatingAdmissionPolicy '${platformNamespace}-${SERVICE_POLICY}'`,
    );
    expect(alias.body.message).toContain(
      `must not be of type ExternalName (this one aliases postgres.${platformNamespace}.svc.cluster.local)`,
    );
    const intercept = await post(worker, `/api/v1/namespaces/${target}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "intercept", namespace: target },
      spec: { selector: { app: "x" }, ports: [{ port: 443 }], externalIPs: ["203.0.113.10"] },
    });
    expect(intercept.status, JSON.stringify(intercept.body)).toBe(403);
    expect(intercept.body.message).toContain("must not set spec.externalIPs");
    console.log(`ExternalName: ${alias.status} ${alias.body.message}`);
    console.log(`externalIPs: ${intercept.status} ${intercept.body.message}`);
  });

  it("pods: the worker creates none itself; its ReplicaSets' are judged by Pod Security and the LimitRange", async () => {
    const { target } = fenced;
    const direct = await post(
      worker,
      `/api/v1/namespaces/${target}/pods`,
      userPod(target, "direct", restrictedContainer()),
    );
    expectForbidden(
      direct,
      `cannot create resource "pods" in API group "" in the namespace "${target}"`,
    );

    const privileged = {
      ...restrictedContainer(),
      securityContext: {
        ...restrictedContainer().securityContext,
        privileged: true,
        allowPrivilegeEscalation: true,
      },
    };
    const created = await post(
      worker,
      `/apis/apps/v1/namespaces/${target}/deployments`,
      userDeployment(target, "privileged", 1, privileged),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.warnings.join("\n")).toContain('would violate PodSecurity "restricted');
    const psa = await replicaFailure(worker, target, "privileged");
    expect(psa).toContain('violates PodSecurity "restricted');
    expect(psa).toContain("privileged");

    const max = containerMax(fenced.limitRange);
    const tooBig = restrictedContainer({ cpu: `${cpuMillis(max.cpu) + 1000}m`, memory: "256Mi" });
    await createOk(
      worker,
      `/apis/apps/v1/namespaces/${target}/deployments`,
      userDeployment(target, "too-big", 1, tooBig),
    );
    const limits = await replicaFailure(worker, target, "too-big");
    expect(limits).toContain(`maximum cpu usage per Container is ${max.cpu}`);
    expect(await podsOf(worker, target, "privileged")).toEqual([]);
    expect(await podsOf(worker, target, "too-big")).toEqual([]);
    console.log(`privileged pod (ReplicaFailure): ${psa}`);
    console.log(`over the LimitRange (ReplicaFailure): ${limits}`);
  });

  it("allows what it is for: a plain Deployment, its Service, and an Ingress on svc.<appsDomain>", async () => {
    const { target, appsDomain } = fenced;
    const started = Date.now();
    await createOk(
      worker,
      `/apis/apps/v1/namespaces/${target}/deployments`,
      userDeployment(target, "svc", 1, restrictedContainer({ cpu: "200m", memory: "256Mi" })),
    );
    await createOk(worker, `/api/v1/namespaces/${target}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "svc", namespace: target },
      spec: { selector: { app: "svc" }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await createOk(
      worker,
      `/apis/networking.k8s.io/v1/namespaces/${target}/ingresses`,
      ingress(target, "svc", [`svc.${appsDomain}`]),
    );
    await waitFor("the user's Deployment available", 60_000, async () => {
      const live = await worker.get(`/apis/apps/v1/namespaces/${target}/deployments/svc`);
      return (live.status?.availableReplicas as number | undefined) === 1;
    });
    timings.push(`user Deployment created → available (kwok): ${Date.now() - started} ms`);
  });

  it("a Deployment without resources gets the LimitRange's defaults", async () => {
    const { target } = fenced;
    await createOk(
      worker,
      `/apis/apps/v1/namespaces/${target}/deployments`,
      userDeployment(target, "defaults", 1, restrictedContainer()),
    );
    let pods: string[] = [];
    await waitFor(
      "the defaults pod",
      60_000,
      async () => (pods = await podsOf(worker, target, "defaults")).length === 1,
    );
    const pod = await worker.get(`/api/v1/namespaces/${target}/pods/${pods[0]}`);
    const [container] = (pod.spec as { containers: { resources: unknown }[] }).containers;
    const range = (fenced.limitRange.spec as { limits: Record<string, unknown>[] }).limits[0];
    expect(container.resources).toEqual({ limits: range.default, requests: range.defaultRequest });
  });

  it("exceeding the quota is refused with the quota's message, which the worker can read", async () => {
    const { target, quota } = fenced;
    const max = containerMax(fenced.limitRange);
    const hard = (quota.spec as { hard: Record<string, string> }).hard;
    const replicas = Math.floor(cpuMillis(hard["limits.cpu"]) / cpuMillis(max.cpu)) + 1;
    await createOk(
      worker,
      `/apis/apps/v1/namespaces/${target}/deployments`,
      userDeployment(
        target,
        "over-quota",
        replicas,
        restrictedContainer({ cpu: max.cpu, memory: "256Mi" }),
      ),
    );
    const failure = await replicaFailure(worker, target, "over-quota");
    expect(failure).toContain(`exceeded quota: ${quota.metadata.name}`);
    expect(failure).toContain("limits.cpu");
    expect((await podsOf(worker, target, "over-quota")).length).toBeLessThan(replicas);
    console.log(`over the quota (ReplicaFailure): ${failure}`);
  });
});

/** The fence as the render declares it. */
function fencedOf(resources: PlanResource[]): Fenced {
  const manifests = resources.flatMap((resource) => (resource.manifest ? [resource.manifest] : []));
  const targets = manifests.filter(
    (m) => m.kind === "Namespace" && m.metadata.labels?.[TARGET_LABEL],
  );
  if (targets.length === 0) throw new Error(`no Namespace labelled ${TARGET_LABEL} in the render`);
  const target = targets[0].metadata.name;
  const platformNamespace = targets[0].metadata.labels?.[TARGET_LABEL] as string;
  const account = manifests.find(
    (m) =>
      m.kind === "ServiceAccount" &&
      m.metadata.namespace === platformNamespace &&
      m.metadata.labels?.["app.kubernetes.io/component"] === "worker",
  );
  const platformHosts = manifests
    .filter((m) => m.kind === "Ingress" && m.metadata.namespace === platformNamespace)
    .flatMap((m) =>
      ((m.spec as { rules?: { host?: string }[] }).rules ?? []).map((rule) => rule.host as string),
    );
  const grafana = platformHosts.find((host) => host.startsWith("grafana."));
  const secret = manifests.find(
    (m) => m.kind === "Secret" && m.metadata.namespace === platformNamespace,
  );
  const inTarget = (kind: string) =>
    manifests.find((m) => m.kind === kind && m.metadata.namespace === target);
  const [limitRange, quota] = [inTarget("LimitRange"), inTarget("ResourceQuota")];
  if (!account || !grafana || !secret || !limitRange || !quota)
    throw new Error(
      "the render lacks the worker's account, Grafana's Ingress, a platform Secret or the target's sizing",
    );
  const domain = grafana.slice("grafana.".length);
  return {
    platformNamespace,
    account: account.metadata.name,
    target,
    platformHosts,
    // The dev stack leaves deployTargets.appsDomain to its default, apps.<cluster.domain>.
    appsDomain: `apps.${domain}`,
    domain,
    platformSecret: secret.metadata.name,
    limitRange,
    quota,
  };
}

/**
 * Waits until the fence is in force: the policies' bindings reach the admission plugin a moment
 * after they are stored, and quota admission refuses what its controller has not counted yet.
 */
async function fenceInForce(admin: KubeClient, fenced: Fenced): Promise<void> {
  const grafana = hostOf(fenced, "grafana.");
  await waitFor("the fence refuses a platform host (dry run)", 60_000, async () => {
    const probe = await admin.request(
      "POST",
      `/apis/networking.k8s.io/v1/namespaces/${fenced.target}/ingresses?dryRun=All`,
      JSON.stringify(ingress(fenced.target, "probe", [grafana])),
    );
    return probe.status === 403;
  });
  const { namespace, name } = fenced.quota.metadata;
  await waitFor(`ResourceQuota ${namespace}/${name} counted`, 60_000, async () => {
    const live = await admin.get(`/api/v1/namespaces/${namespace}/resourcequotas/${name}`);
    return Object.keys((live.status?.hard ?? {}) as object).length > 0;
  });
}

function hostOf(fenced: Fenced, prefix: string): string {
  const host = fenced.platformHosts.find((candidate) => candidate.startsWith(prefix));
  if (!host) throw new Error(`no platform host starting with ${prefix}`);
  return host;
}

function backend() {
  return { service: { name: "svc", port: { number: 80 } } };
}

/** A user's Ingress with one rule per host (`undefined`: a rule without a host), plus `spec`. */
function ingress(
  namespace: string,
  name: string,
  hosts: (string | undefined)[],
  spec: Record<string, unknown> = {},
) {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace },
    spec: {
      rules: hosts.map((host) => ({
        ...(host !== undefined ? { host } : {}),
        http: { paths: [{ path: "/", pathType: "Prefix", backend: backend() }] },
      })),
      ...spec,
    },
  };
}

function post(client: KubeClient, path: string, object: unknown): Promise<KubeResponse> {
  return client.request("POST", path, JSON.stringify(object));
}

async function createOk(client: KubeClient, path: string, object: unknown): Promise<void> {
  const response = await post(client, path, object);
  expect(response.status, `${path}: ${JSON.stringify(response.body)}`).toBe(201);
}

function expectForbidden(response: KubeResponse, what: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(403);
  expect(response.body.reason).toBe("Forbidden");
  expect(response.body.message).toContain(what);
  console.log(`RBAC: ${response.status} ${response.body.message}`);
}

function containerMax(range: Manifest): { cpu: string; memory: string } {
  const limits = (
    range.spec as { limits: { type: string; max?: { cpu: string; memory: string } }[] }
  ).limits;
  const max = limits.find((limit) => limit.type === "Container")?.max;
  if (!max) throw new Error(`no Container max in LimitRange ${range.metadata.name}`);
  return max;
}
