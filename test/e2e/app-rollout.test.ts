import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { applyRender } from "./lib/apply-render";
import { startControlPlane, waitFor, type ControlPlane } from "./lib/control-plane";
import type { KubeObject } from "./lib/kube-client";
import { renderObjects } from "./lib/render-objects";
import { ensureE2eBinaries } from "./lib/tools";

/**
 * A newcomer's first cluster, on a real control plane (kube-apiserver, kube-controller-manager,
 * the scheduler, and kwok standing in for the kubelet: pods are bound, Running and Ready, but no
 * image is pulled and no probe is run, which only K3s shows). The dev stack as shipped names no
 * app image: it applies and every workload rolls out without the app. Then the app is turned on,
 * listening on 3001 and probed at /api/health, and the web Service's endpoints and the Ingress
 * backend lead to exactly that container port.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API objects read back, checked by the assertions
type Loose = Record<string, any>;

const ROOT = path.resolve(__dirname, "..", "..");
const NAMESPACE = "platform";
const APP_PORT = 3001;
const HEALTH_PATH = "/api/health";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-app-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The shipped dev stack with the app turned on, as a user would write it. */
function appOnStackFile(): string {
  const file = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
  file.config["k3s-platform:app"] = {
    ...file.config["k3s-platform:app"],
    image: "registry.example.com/acme/app:1.4.0",
    web: {
      ...file.config["k3s-platform:app"].web,
      port: APP_PORT,
      probes: { readiness: { path: HEALTH_PATH }, liveness: { path: `${HEALTH_PATH}/live` } },
    },
  };
  const stackFile = path.join(scratch, "Pulumi.dev-app.yaml");
  fs.writeFileSync(stackFile, stringify(file));
  return stackFile;
}

const binaries = ensureE2eBinaries();
const shipped = renderObjects("dev");
const appOn = renderObjects("dev", ROOT, appOnStackFile());
for (const pending of [binaries, shipped, appOn]) pending.catch(() => undefined);

/** Whether every Deployment and StatefulSet in the namespace has all its replicas ready. */
async function rolledOut(cluster: ControlPlane): Promise<string[]> {
  const waiting: string[] = [];
  for (const kind of ["deployments", "statefulsets"]) {
    const list = await cluster.client.get(`/apis/apps/v1/namespaces/${NAMESPACE}/${kind}`);
    for (const workload of list.items ?? []) {
      const wanted = (workload.spec?.replicas as number | undefined) ?? 1;
      const ready = (workload.status?.readyReplicas as number | undefined) ?? 0;
      if (ready < wanted) waiting.push(`${kind}/${workload.metadata?.name} ${ready}/${wanted}`);
    }
  }
  return waiting;
}

async function waitForRollout(cluster: ControlPlane, what: string): Promise<void> {
  let waiting: string[] = [];
  await waitFor(what, 300_000, async () => {
    waiting = await rolledOut(cluster);
    return waiting.length === 0;
  }).catch((error: Error) => {
    throw new Error(`${error.message}; still waiting: ${waiting.join(", ")}`);
  });
}

describe("the app on a fresh cluster", () => {
  let cluster: ControlPlane | undefined;
  const client = () => (cluster as ControlPlane).client;

  beforeAll(async () => {
    cluster = await startControlPlane(await binaries);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("the dev stack as shipped applies and rolls out without the app", async () => {
    const render = await shipped;
    const applied = await applyRender(client(), render);
    expect(applied.filter((result) => result.status >= 300)).toEqual([]);
    await waitForRollout(cluster as ControlPlane, "the shipped dev stack to roll out");
    const deployments = await client().get(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments`);
    const names = (deployments.items ?? []).map((item: KubeObject) => item.metadata?.name);
    const rendered = render
      .filter(({ manifest }) => manifest?.kind === "Deployment")
      .map(({ manifest }) => manifest?.metadata.name);
    expect(names.sort()).toEqual(rendered.sort());
    expect(names.length).toBeGreaterThanOrEqual(5);
    expect(names).not.toContain("app-web");
    expect(names).not.toContain("app-worker");
  }, 420_000);

  it("turned on at 3001, its Service endpoints and its Ingress backend lead to that port", async () => {
    const applied = await applyRender(client(), await appOn);
    expect(applied.filter((result) => result.status >= 300)).toEqual([]);
    await waitForRollout(cluster as ControlPlane, "the app to roll out");

    const deployment = (await client().get(
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/app-web`,
    )) as Loose;
    const web = deployment.spec.template.spec.containers[0];
    expect(web.ports).toContainEqual(
      expect.objectContaining({ name: "http", containerPort: APP_PORT }),
    );
    expect(web.readinessProbe.httpGet).toMatchObject({ path: HEALTH_PATH, port: "http" });

    // The EndpointSlice controller resolves the Service's named targetPort on the ready pods.
    let slices: Loose[] = [];
    await waitFor("the web Service's endpoints", 60_000, async () => {
      const list = await client().get(
        `/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dapp-web`,
      );
      slices = list.items ?? [];
      return slices.some((slice) =>
        (slice.endpoints ?? []).some(
          (endpoint: { conditions?: { ready?: boolean } }) => endpoint.conditions?.ready,
        ),
      );
    });
    for (const slice of slices) {
      expect(slice.ports).toEqual([{ name: "http", port: APP_PORT, protocol: "TCP" }]);
    }

    const service = (await client().get(
      `/api/v1/namespaces/${NAMESPACE}/services/app-web`,
    )) as Loose;
    const ingress = (await client().get(
      `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/ingresses/app`,
    )) as Loose;
    for (const { backend } of ingress.spec.rules[0].http.paths) {
      expect(backend.service.name).toBe(service.metadata.name);
      const servicePort = service.spec.ports.find(
        (port: { name: string }) => port.name === backend.service.port.name,
      );
      expect(servicePort?.targetPort).toBe("http");
    }
  }, 420_000);
});
