import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client, Connection, WorkflowFailedError } from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { Manifest } from "../../policy/model/render-model";
import { DEFAULT_FIELD_MANAGER } from "../../examples/deploy-worker/src/env";
import type {
  DeployRequest,
  DeploymentResult,
  Notification,
} from "../../examples/deploy-worker/src/types";
import { applyRender } from "./lib/apply-render";
import { startControlPlane, waitFor, type ControlPlane } from "./lib/control-plane";
import { withCrashingImages } from "./lib/crashing-pods";
import {
  startDeployWorker,
  startWebhook,
  type Webhook,
  type WorkerProcess,
} from "./lib/deploy-worker-process";
import type { KubeClient, KubeObject } from "./lib/kube-client";
import { renderObjects } from "./lib/render-objects";
import { startRenderedTemporal, type RenderedTemporal } from "./lib/temporal-from-render";
import { ensureE2eBinaries } from "./lib/tools";

/**
 * The platform's reason to exist, on the control-plane tier: the reference deploy worker
 * (examples/deploy-worker) runs as its own process with the app-worker's env contract from the dev
 * render, a token for the worker's ServiceAccount from the TokenRequest API (no admin credential
 * reaches it), and a real Temporal server started from the same render. Its workflow applies a
 * user's service with server-side apply, watches the rollout (kwok marks pods Ready, or
 * crash-looping for the image a bad release ships), rolls back, and posts each outcome to a
 * loopback webhook.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const GOOD_IMAGE = "registry.example.com/user/shop:1.0.0";
/** The one image kwok crash-loops: the bad release. */
const BROKEN_IMAGE = "registry.example.com/user/shop:1.1.0-crashes";
const TASK_QUEUE = `deployments-e2e-${process.pid}`;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-deploy-worker-"));

/** The shipped dev stack with the app turned on: only then does the render have app-worker's env. */
function appOnStackFile(): string {
  const file = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
  file.config["k3s-platform:app"] = {
    ...file.config["k3s-platform:app"],
    image: "registry.example.com/acme/app:1.4.0",
  };
  const stackFile = path.join(scratch, "Pulumi.dev-app.yaml");
  fs.writeFileSync(stackFile, stringify(file));
  return stackFile;
}

const binaries = ensureE2eBinaries();
const render = renderObjects("dev", ROOT, appOnStackFile());
for (const pending of [binaries, render]) pending.catch(() => undefined);

/** What the worker is given, read from the render as the pod would get it. */
interface WorkerContract {
  account: { namespace: string; name: string };
  env: Record<string, string>;
  deployNamespaces: string[];
  /** The LimitRange of each target, as rendered. */
  limitRanges: Manifest[];
  quotas: Manifest[];
  appsDomain: string;
}

function workerContract(manifests: Manifest[]): WorkerContract {
  const worker = manifests.find((m) => m.kind === "Deployment" && m.metadata.name === "app-worker");
  if (!worker) throw new Error("the render has no app-worker Deployment");
  const pod = (worker.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  const [container] = pod.containers as { env: { name: string; value?: string }[] }[];
  const env = Object.fromEntries(
    container.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]),
  );
  const deployNamespaces = (env.DEPLOY_NAMESPACES ?? "").split(",");
  const inTargets = (kind: string) =>
    manifests.filter(
      (m) => m.kind === kind && deployNamespaces.includes(m.metadata.namespace as string),
    );
  return {
    account: {
      namespace: worker.metadata.namespace as string,
      name: pod.serviceAccountName as string,
    },
    env,
    deployNamespaces,
    limitRanges: inTargets("LimitRange"),
    quotas: inTargets("ResourceQuota"),
    appsDomain: env.APPS_DOMAIN,
  };
}

let cluster: ControlPlane | undefined;
let temporal: RenderedTemporal | undefined;
let webhook: Webhook | undefined;
let worker: WorkerProcess | undefined;
let connection: Connection | undefined;
let contract: WorkerContract;
const admin = (): KubeClient => (cluster as ControlPlane).client;
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** A token for the worker's account from the TokenRequest API, as the kubelet projects one. */
async function workerToken(account: { namespace: string; name: string }): Promise<string> {
  const created = await admin().create(
    `/api/v1/namespaces/${account.namespace}/serviceaccounts/${account.name}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    },
  );
  const token = (created.status as { token?: string } | undefined)?.token;
  if (!token) throw new Error("TokenRequest returned no token");
  return token;
}

async function startEverything(): Promise<void> {
  const started = Date.now();
  cluster = await startControlPlane(withCrashingImages(await binaries, [BROKEN_IMAGE]));
  const resources = await render;
  const manifests = resources.flatMap((r) => (r.manifest ? [r.manifest] : []));
  contract = workerContract(manifests);
  const [applied, server] = await Promise.all([
    applyRender(cluster.client, resources),
    startRenderedTemporal(manifests),
  ]);
  temporal = server;
  const refused = applied.filter((result) => result.status >= 300);
  if (refused.length > 0) throw new Error(`render refused: ${JSON.stringify(refused)}`);
  for (const quota of contract.quotas) {
    const { namespace, name } = quota.metadata;
    await waitFor(`ResourceQuota ${namespace}/${name} counted`, 60_000, async () => {
      const live = await admin().get(`/api/v1/namespaces/${namespace}/resourcequotas/${name}`);
      return Object.keys((live.status?.hard ?? {}) as object).length > 0;
    });
  }
  const tokenFile = path.join(scratch, "token");
  fs.writeFileSync(tokenFile, await workerToken(contract.account), { mode: 0o600 });
  webhook = await startWebhook();
  const api = new URL(cluster.client.server);
  expect(contract.env.TEMPORAL_NAMESPACE).toBe(temporal.namespace);
  worker = await startDeployWorker({
    // The rendered in-cluster address (temporal-frontend.<ns>.svc:7233) is the loopback frontend here.
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: contract.env.TEMPORAL_NAMESPACE,
    DEPLOY_NAMESPACES: contract.env.DEPLOY_NAMESPACES,
    DEPLOY_TASK_QUEUE: TASK_QUEUE,
    APPS_DOMAIN: contract.appsDomain,
    NOTIFY_WEBHOOK_URL: webhook.url,
    KUBERNETES_SERVICE_HOST: api.hostname,
    KUBERNETES_SERVICE_PORT: api.port,
    KUBE_TOKEN_FILE: tokenFile,
    KUBE_CA_FILE: path.join(cluster.dir, "ca.crt"),
  });
  connection = await Connection.connect({ address: temporal.address });
  console.log(
    `control plane, render, Temporal and worker up in ${seconds(Date.now() - started)} s`,
  );
}

function workflows(): Client["workflow"] {
  return new Client({ connection, namespace: contract.env.TEMPORAL_NAMESPACE }).workflow;
}

function startDeploy(id: string, request: DeployRequest) {
  return workflows().start("deploymentWorkflow", {
    taskQueue: TASK_QUEUE,
    workflowId: `${id}-${Date.now()}`,
    args: [request],
  });
}

const get = (path: string) => admin().get(path);
const deploymentPath = (namespace: string, name: string) =>
  `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`;

/** Pods of a service that kwok has marked Ready, with their images. */
async function readyPods(namespace: string, name: string): Promise<KubeObject[]> {
  const pods = await get(
    `/api/v1/namespaces/${namespace}/pods?labelSelector=app.kubernetes.io%2Fname%3D${name}`,
  );
  return (pods.items ?? []).filter(
    (pod) =>
      !(pod.metadata as Record<string, unknown> | undefined)?.deletionTimestamp &&
      ((pod.status?.conditions ?? []) as { type: string; status: string }[]).some(
        (c) => c.type === "Ready" && c.status === "True",
      ),
  );
}

function image(podOrTemplate: KubeObject | Record<string, unknown>): string {
  const spec = (podOrTemplate as { spec: { containers: { image: string }[] } }).spec;
  return spec.containers[0].image;
}

/** The field managers of an object, with their operations. */
function managers(object: KubeObject): string[] {
  const entries = ((object.metadata as Record<string, unknown> | undefined)?.managedFields ??
    []) as {
    manager: string;
    operation: string;
  }[];
  return entries.map((entry) => `${entry.manager}/${entry.operation}`);
}

/** The ReplicaSets of a service, as the admin sees them. */
async function replicaSets(namespace: string, name: string): Promise<KubeObject[]> {
  const list = await get(
    `/apis/apps/v1/namespaces/${namespace}/replicasets?labelSelector=app.kubernetes.io%2Fname%3D${name}`,
  );
  return list.items ?? [];
}

const revision = (object: KubeObject) =>
  object.metadata?.annotations?.["deployment.kubernetes.io/revision"];

/** A pod template without the label the Deployment controller adds to its ReplicaSet's copy. */
function withoutHash(template: unknown): unknown {
  const copy = structuredClone(template) as { metadata?: { labels?: Record<string, string> } };
  delete copy.metadata?.labels?.["pod-template-hash"];
  return copy;
}

/** The workflow's failure, or a test failure if it succeeded. */
async function workflowFailure(result: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await result.then(
    (value) => new Error(`workflow succeeded: ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

/** Whether the shop Deployment has settled on revision `wanted` with `replicas` available. */
async function settledOn(namespace: string, wanted: string, replicas: number): Promise<boolean> {
  const deployment = await get(deploymentPath(namespace, "shop"));
  const status = (deployment.status ?? {}) as Record<string, number>;
  return (
    revision(deployment) === wanted &&
    status.observedGeneration === deployment.metadata?.generation &&
    status.replicas === replicas &&
    status.updatedReplicas === replicas &&
    status.availableReplicas === replicas
  );
}

beforeAll(startEverything, 900_000);

afterAll(async () => {
  await connection?.close();
  await worker?.stop();
  await webhook?.stop();
  await temporal?.stop();
  await cluster?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
}, 120_000);

describe("the reference deploy worker, with the worker's own token: a healthy release", () => {
  it("deploys a user's service into a target namespace: pods Ready, health check passed, the worker's field manager on every object", async () => {
    const namespace = contract.deployNamespaces[0];
    const started = Date.now();
    const handle = await startDeploy("shop-v1", {
      service: {
        name: "shop",
        namespace,
        image: GOOD_IMAGE,
        replicas: 2,
        env: { GREETING: "hello" },
        resources: {
          requests: { cpu: "100m", memory: "128Mi" },
          limits: { cpu: "200m", memory: "256Mi" },
        },
      },
      requestedBy: "e2e",
    });
    let readyAt = 0;
    await waitFor("shop's two pods Ready", 120_000, async () => {
      readyAt = Date.now();
      return (await readyPods(namespace, "shop")).length === 2;
    });
    const result = (await handle.result()) as DeploymentResult;
    const done = Date.now();
    console.log(
      `shop v1: workflow start → pods Ready ${seconds(readyAt - started)} s, → workflow done ${seconds(done - started)} s`,
    );
    expect(result).toMatchObject({
      outcome: "deployed",
      namespace,
      name: "shop",
      host: `shop.${contract.appsDomain}`,
      revision: "1",
      notified: true,
    });
    const objects = [
      deploymentPath(namespace, "shop"),
      `/api/v1/namespaces/${namespace}/services/shop`,
      `/api/v1/namespaces/${namespace}/configmaps/shop-config`,
      `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses/shop`,
    ];
    for (const object of objects) {
      expect(managers(await get(object)), object).toContain(`${DEFAULT_FIELD_MANAGER}/Apply`);
    }
    const ingress = await get(objects[3]);
    expect((ingress.spec as { rules: { host: string }[] }).rules[0].host).toBe(
      `shop.${contract.appsDomain}`,
    );
    expect((await get(objects[2])).data).toEqual({ GREETING: "hello" });
    expect((await readyPods(namespace, "shop")).map(image)).toEqual([GOOD_IMAGE, GOOD_IMAGE]);
    expect(webhook?.received).toContainEqual(
      expect.objectContaining({
        outcome: "deployed",
        service: "shop",
        namespace,
        revision: "1",
      } satisfies Partial<Notification>),
    );
  }, 240_000);
});

describe("the reference deploy worker: a crash-looping release", () => {
  it("rolls a crash-looping release back to the previous ReplicaSet's template, ends the workflow rolled back, and notifies", async () => {
    const namespace = contract.deployNamespaces[0];
    const [first] = await replicaSets(namespace, "shop");
    expect(revision(first)).toBe("1");
    const started = Date.now();
    const handle = await startDeploy("shop-v2", {
      service: {
        name: "shop",
        namespace,
        image: BROKEN_IMAGE,
        replicas: 2,
        env: { GREETING: "hello" },
      },
      requestedBy: "e2e",
      healthDeadlineSeconds: 60,
    });
    let restoredAt = 0;
    // Revision 3 exists only once the rollback has brought revision 1's template back.
    const restored = waitFor(
      "shop back on revision 1's template, 2/2 available",
      180_000,
      async () => {
        restoredAt = Date.now();
        return settledOn(namespace, "3", 2);
      },
    );
    const failure = await workflowFailure(handle.result());
    await restored;
    console.log(
      `shop v2 (crashing): workflow start → rollback complete ${seconds(restoredAt - started)} s`,
    );
    console.log(`shop v2 workflow failure: ${failure.type}: ${failure.message}`);
    expect(failure.type).toBe("DeploymentRolledBack");
    expect(failure.message).toContain("CrashLoopBackOff");
    expect(failure.message).toContain("rolled back from revision 2 to 1");

    const sets = await replicaSets(namespace, "shop");
    // Like `kubectl rollout undo`: revision 1's own ReplicaSet is back (now revision 3), none new.
    expect(sets.map((set) => set.metadata?.name).sort()).toHaveLength(2);
    const back = sets.find((set) => set.metadata?.name === first.metadata?.name) as KubeObject;
    const broken = sets.find((set) => set !== back) as KubeObject;
    expect(revision(back)).toBe("3");
    expect(image(broken.spec?.template as KubeObject)).toBe(BROKEN_IMAGE);
    expect(broken.spec?.replicas).toBe(0);
    const deployment = await get(deploymentPath(namespace, "shop"));
    expect(withoutHash(deployment.spec?.template)).toEqual(withoutHash(first.spec?.template));
    expect(managers(deployment)).toContain(`${DEFAULT_FIELD_MANAGER}/Apply`);
    expect((await readyPods(namespace, "shop")).map(image)).toEqual([GOOD_IMAGE, GOOD_IMAGE]);
    const notified = webhook?.received.filter((n) => (n as Notification).service === "shop");
    expect(notified?.map((n) => (n as Notification).outcome)).toEqual(["deployed", "rolled-back"]);
    expect(notified?.[1]).toMatchObject({ namespace, image: BROKEN_IMAGE, revision: "1" });
    expect((notified?.[1] as Notification).reason).toContain("CrashLoopBackOff");
  }, 240_000);
});

describe("the reference deploy worker: what the deploy target does to a service", () => {
  it("gives a service deployed without resources the LimitRange's defaults", async () => {
    const namespace = contract.deployNamespaces[0];
    const range = contract.limitRanges.find((m) => m.metadata.namespace === namespace) as Manifest;
    const container = (
      range.spec as { limits: { type: string; default: object; defaultRequest: object }[] }
    ).limits.find((limit) => limit.type === "Container");
    expect(container?.default).toBeDefined();
    const handle = await startDeploy("notes", {
      service: { name: "notes", namespace, image: "registry.example.com/user/notes:1.0.0" },
    });
    expect(await handle.result()).toMatchObject({ outcome: "deployed", name: "notes" });
    const deployment = await get(deploymentPath(namespace, "notes"));
    const applied = (
      deployment.spec?.template as { spec: { containers: Record<string, unknown>[] } }
    ).spec.containers[0];
    expect(applied.resources).toEqual({}); // the worker sent none: what the pod has is the server's
    const [pod] = await readyPods(namespace, "notes");
    const resources = (pod.spec as { containers: { resources: unknown }[] }).containers[0]
      .resources;
    expect(resources).toEqual({ limits: container?.default, requests: container?.defaultRequest });
  }, 120_000);

  it("reports the quota when a service exceeds it: the health check surfaces the server's message, nothing to roll back to", async () => {
    const namespace = contract.deployNamespaces[0];
    const quota = contract.quotas.find((m) => m.metadata.namespace === namespace) as Manifest;
    const handle = await startDeploy("crowd", {
      service: {
        name: "crowd",
        namespace,
        image: "registry.example.com/user/crowd:1.0.0",
        replicas: 3,
        // Each pod as large as the LimitRange allows: the quota's limits.cpu runs out first.
        resources: {
          requests: { cpu: "100m", memory: "128Mi" },
          limits: { cpu: "2", memory: "256Mi" },
        },
      },
      healthDeadlineSeconds: 60,
    });
    const failure = await workflowFailure(handle.result());
    console.log(`crowd workflow failure: ${failure.type}: ${failure.message}`);
    expect(failure.type).toBe("DeploymentFailed");
    expect(failure.message).toContain(`exceeded quota: ${quota.metadata.name}`);
    expect(failure.message).toContain("limits.cpu");
    expect(failure.message).toContain("not rolled back: no earlier revision");
    const notified = webhook?.received.find((n) => (n as Notification).service === "crowd");
    expect(notified).toMatchObject({ outcome: "failed", namespace });
    expect((notified as Notification).reason).toContain(`exceeded quota: ${quota.metadata.name}`);
  }, 120_000);
});
