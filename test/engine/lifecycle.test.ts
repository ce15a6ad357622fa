import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STACK_OUTPUTS } from "../../platform/outputs";
import { startControlPlane, type ControlPlane } from "../e2e/lib/control-plane";
import { condition, type KubeObject } from "../e2e/lib/kube-client";
import { ensureE2eBinaries } from "../e2e/lib/tools";
import {
  destroy,
  ensureEngineBinaries,
  OperationFailure,
  preview,
  up,
  type EngineBinaries,
  type EngineStack,
  type OperationSummary,
  type UpSummary,
} from "./lib/engine";
import { errors, steps, urnKind, urnName, type Step } from "./lib/events";
import { seconds, shippedStack } from "./lib/stacks";
import { liveStatus, objectLabel, stateResources, type StateResource } from "./lib/state";

/**
 * The whole life of each shipped stack under the real engine and Kubernetes provider, on one
 * control plane: preview, `up` (the provider awaiting every kind it awaits), the stack outputs,
 * a second `up` that changes nothing, and `destroy`, which empties dev and is stopped in prod by
 * `protect`. dev goes first and leaves the cluster empty for prod.
 */

const binaries = Promise.all([ensureEngineBinaries(), ensureE2eBinaries()]);
binaries.catch(() => undefined); // awaited in beforeAll; not unhandled meanwhile

let cluster: ControlPlane | undefined;
let engine: EngineBinaries | undefined;
const figures: string[] = [];

beforeAll(async () => {
  const [engineBinaries, controlPlane] = await binaries;
  engine = engineBinaries;
  // As many nodes as the prod stack says it has: its Postgres HA members need one each.
  cluster = await startControlPlane(controlPlane, { nodes: 3 });
}, 1_800_000); // a cold build of the CLI and the provider takes minutes

afterAll(async () => {
  console.log(`[figures]\n${figures.join("\n")}`);
  await cluster?.stop();
}, 60_000);

describe.each(["dev", "prod"])("the %s stack's life under the real engine", (stackName) => {
  let stack: EngineStack | undefined;
  let previewed: OperationSummary | undefined;
  let created: UpSummary | undefined;
  let state: StateResource[] = [];
  const the = () => stack as EngineStack;
  const control = () => cluster as ControlPlane;

  beforeAll(async () => {
    stack = await shippedStack(stackName, control(), engine as EngineBinaries);
  }, 120_000);

  afterAll(() => stack?.dispose());

  it("previews creating every resource", async () => {
    previewed = await preview(the());
    figures.push(`${stackName} preview: ${seconds(previewed.durationMs)} s`);
    expect(previewed.changes.create).toBeGreaterThan(100);
    expect(previewed.changes.changed).toBe(previewed.changes.create);
  }, 300_000);

  it("creates everything, each object awaited by the provider", async () => {
    created = await up(the());
    figures.push(
      `${stackName} up: ${seconds(created.durationMs)} s (${created.changes.create} created)`,
    );
    expect(created.result).toBe("succeeded");
    expect(created.changes.create).toBe(previewed?.changes.create);
    state = await stateResources(the());
    const objects = state.filter((resource) => resource.object);
    expect(objects.length).toBeGreaterThan(100);
    const missing: string[] = [];
    for (const resource of objects) {
      if ((await liveStatus(control(), resource)) !== 200) missing.push(objectLabel(resource));
    }
    expect(missing).toEqual([]);
  }, 900_000);

  it("leaves every workload as the provider awaited it: ready, complete, bound, published", async () => {
    const client = control().client;
    const list = async (path: string) => (await client.get(path)).items ?? [];
    const notReady: string[] = [];
    const check = (kind: string, object: KubeObject, ready: boolean) => {
      if (!ready) notReady.push(`${kind}/${object.metadata?.namespace}/${object.metadata?.name}`);
    };
    for (const deployment of await list("/apis/apps/v1/deployments")) {
      check("Deployment", deployment, condition(deployment, "Available")?.status === "True");
    }
    for (const statefulSet of await list("/apis/apps/v1/statefulsets")) {
      const status = statefulSet.status ?? {};
      check("StatefulSet", statefulSet, status.readyReplicas === statefulSet.spec?.replicas);
    }
    const jobs = await list("/apis/batch/v1/jobs");
    for (const job of jobs) check("Job", job, condition(job, "Complete")?.status === "True");
    for (const claim of await list("/api/v1/persistentvolumeclaims")) {
      check("PersistentVolumeClaim", claim, claim.status?.phase === "Bound");
    }
    const ingresses = await list("/apis/networking.k8s.io/v1/ingresses");
    for (const ingress of ingresses) {
      const address = (ingress.status as { loadBalancer?: { ingress?: unknown[] } } | undefined)
        ?.loadBalancer?.ingress;
      check("Ingress", ingress, (address ?? []).length > 0);
    }
    expect(jobs.length).toBeGreaterThan(0);
    expect(ingresses.length).toBeGreaterThan(0);
    expect(notReady).toEqual([]);
  });

  it("runs the migrations Job to Complete before either app Deployment starts", () => {
    const all = steps(created?.events ?? []);
    assertBefore(job(all, /^migrations-/), deployments(all, /^app-/));
  });

  it("runs the Temporal schema Job to Complete before any Temporal server Deployment starts", () => {
    const all = steps(created?.events ?? []);
    assertBefore(
      job(all, /^temporal-schema-/),
      deployments(all, /^temporal-(server|frontend|history|matching|worker)$/),
    );
  });

  it("outputs exactly the stack outputs the README lists, the secret ones secret", () => {
    const raw = created?.rawOutputs ?? {};
    // Every stack here runs an app (see stackOverrides), so every output is exported.
    expect(Object.keys(raw).sort()).toEqual(STACK_OUTPUTS.map((output) => output.name).sort());
    for (const { name, secret } of STACK_OUTPUTS) {
      expect(raw[name].secret, name).toBe(secret);
      expect(typeof raw[name].value, name).toBe("string");
      expect((raw[name].value as string).length, name).toBeGreaterThan(0);
    }
    const value = (name: string) => raw[name].value as string;
    expect(value("namespace")).toBe("platform");
    expect(value("appStatus")).toBe("on");
    expect(value("appImage")).toMatch(/^registry\.example\.com\//);
    expect(new URL(value("appUrl")).hostname).toMatch(/^app\./);
    expect(new URL(value("grafanaUrl")).hostname).toMatch(/^grafana\./);
    // prod serves the Temporal UI through no Ingress (port-forward) unless it has its own login.
    if (stackName === "prod") expect(value("temporalUiUrl")).toBe("http://localhost:8080");
    else expect(new URL(value("temporalUiUrl")).hostname).toMatch(/^temporal\./);
    expect(new URL(value("otlpEndpoint")).port).toBe("4318");
    expect(value("temporalAddress")).toMatch(/^temporal-frontend\.platform\.svc:7233$/);
    const databaseUrl = new URL(value("databaseUrl"));
    expect(databaseUrl.protocol).toMatch(/^postgres(ql)?:$/);
    expect(databaseUrl.hostname).toMatch(/^pgbouncer\./);
    expect(databaseUrl.password.length).toBeGreaterThanOrEqual(16);
    expect(value("grafanaAdminPassword").length).toBeGreaterThanOrEqual(16);
    expect(value("wiringTable")).toMatch(/^\| from \| to \| ports \| why \|/);
    if (stackName === "prod") expect(value("appUrl")).toMatch(/^https:/);
  });

  it("changes nothing on a second up", async () => {
    const again = await up(the());
    figures.push(`${stackName} re-up: ${seconds(again.durationMs)} s`);
    expect(again.changes.changed).toBe(0);
    expect(again.changes.same).toBe(created?.changes.create);
  }, 600_000);

  if (stackName === "dev") {
    it("destroys everything and leaves the platform namespace gone", async () => {
      const removed = await destroy(the());
      figures.push(`dev destroy: ${seconds(removed.durationMs)} s`);
      expect(removed.result).toBe("succeeded");
      expect(removed.changes.delete).toBe(created?.changes.create);
      const left: string[] = [];
      for (const resource of state.filter((r) => r.object)) {
        if ((await liveStatus(control(), resource)) !== 404) left.push(objectLabel(resource));
      }
      expect(left).toEqual([]);
      const namespace = await control().client.request("GET", "/api/v1/namespaces/platform");
      expect(namespace.status).toBe(404);
      expect(await stateResources(the())).toEqual([]);
    }, 600_000);
  } else {
    it("refuses destroy on the first protected resource, deleting nothing protected", async () => {
      const failure = await destroy(the()).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(OperationFailure);
      const { message, events, durationMs } = failure as OperationFailure;
      figures.push(`prod destroy (refused): ${seconds(durationMs)} s`);
      expect(message).toMatch(/protect/);
      const deleted = steps(events)
        .filter((step) => step.op === "delete" && step.end !== undefined && !step.failed)
        .map((step) => step.urn);
      const byUrn = new Map(state.map((resource) => [resource.urn, resource]));
      const label = (urn: string) => {
        const resource = byUrn.get(urn);
        return resource?.object ? objectLabel(resource) : `${urnName(urn)} (${resource?.type})`;
      };
      // The engine names each resource it refused in an error diagnostic.
      const refused = errors(events)
        .flatMap((text) => [...text.matchAll(/urn:pulumi:[^\s"'`]+/g)].map((match) => match[0]))
        .filter((urn, index, all) => all.indexOf(urn) === index);
      const remaining = await stateResources(the());
      const kept = remaining.filter((resource) => resource.object && !resource.protect);
      const objects = (urns: string[]) => urns.filter((urn) => byUrn.get(urn)?.object);
      console.log(
        `[prod destroy] refused (protected): ${refused.map(label).join(", ")}\n` +
          `[prod destroy] deleted before the refusal: ${objects(deleted).length} objects ` +
          `(and ${deleted.length - objects(deleted).length} components):\n  ` +
          objects(deleted).map(label).sort().join("\n  ") +
          `\n[prod destroy] still on the cluster and in the state: ${remaining.length} of ` +
          `${state.length} resources; protected: ` +
          remaining
            .filter((resource) => resource.protect)
            .map((resource) => label(resource.urn))
            .join(", ") +
          `; not protected: ${kept.map(objectLabel).join(", ")}`,
      );
      expect(refused.length).toBeGreaterThan(0);
      for (const urn of refused) expect(byUrn.get(urn)?.protect, urn).toBe(true);
      const protectedOnes = state.filter((resource) => resource.protect);
      expect(protectedOnes.length).toBeGreaterThan(0);
      expect(deleted.filter((urn) => byUrn.get(urn)?.protect)).toEqual([]);
      for (const kind of ["PersistentVolumeClaim", "StatefulSet"]) {
        const gone = deleted.filter(
          (urn) => urnKind(urn) === kind && byUrn.get(urn)?.protect === true,
        );
        expect(gone, kind).toEqual([]);
      }
      const remainingUrns = new Set(remaining.map((resource) => resource.urn));
      for (const resource of protectedOnes) {
        expect(remainingUrns.has(resource.urn), resource.urn).toBe(true);
        if (resource.object) {
          expect(await liveStatus(control(), resource), objectLabel(resource)).toBe(200);
        }
      }
      for (const urn of deleted) {
        const resource = byUrn.get(urn);
        if (resource?.object) {
          expect(await liveStatus(control(), resource), objectLabel(resource)).toBe(404);
        }
      }
    }, 600_000);
  }
});

function job(all: Step[], name: RegExp): Step {
  const jobs = all.filter((step) => urnKind(step.urn) === "Job" && name.test(urnName(step.urn)));
  expect(jobs.map((step) => step.urn)).toHaveLength(1);
  return jobs[0];
}

function deployments(all: Step[], name: RegExp): Step[] {
  const found = all.filter(
    (step) => urnKind(step.urn) === "Deployment" && name.test(urnName(step.urn)),
  );
  expect(found.length).toBeGreaterThan(0);
  return found;
}

/** `first` ended (applied and awaited: the Job Complete) before any of `then` started. */
function assertBefore(first: Step, then: Step[]): void {
  expect(first.end, `${first.urn} never ended`).toBeDefined();
  for (const step of then) {
    expect(
      step.start,
      `${urnName(step.urn)} started before ${urnName(first.urn)} ended`,
    ).toBeGreaterThan(first.end as number);
  }
}
