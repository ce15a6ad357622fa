import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { objectId } from "../../tools/lib/manifests";
import type { Manifest } from "../../core/render-model";
import { kubernetesVersion, CONTROL_PLANE_MODULE_DIR } from "../integration/lib/test-tools";
import { startControlPlane, type ControlPlane } from "./lib/control-plane";
import type { KubeObject } from "./lib/kube-client";
import { renderObjects, type PlanResource } from "./lib/render-objects";
import { rollout, type ObjectResult } from "./lib/rollout";
import { ensureE2eBinaries } from "./lib/tools";

/**
 * The control-plane tier: every manifest of `dev` and `prod` applied to a real kube-apiserver of
 * the Kubernetes release K3s ships, the way `pulumi up` applies it (server-side apply under the
 * provider's field manager, strict field validation, plan.json's dependency order, the provider's
 * waits), with Pod Security enforced by our own namespace labels and kwok running the pods.
 * What only a real `pulumi up` on K3s shows (image pulls, real probes, the provider's own code)
 * is out of reach here.
 */

/** Any one wait is cut at this, not at the provider's 10 minutes: a broken render fails fast. */
const MAX_WAIT_MS = 90_000;

const binaries = ensureE2eBinaries();
const renders = new Map(["dev", "prod"].map((stack) => [stack, renderObjects(stack)]));
// A rejected promise held for a later test must not count as unhandled meanwhile.
for (const render of [binaries, ...renders.values()]) render.catch(() => undefined);

const failed = (results: ObjectResult[], outcome: ObjectResult["outcome"]) =>
  results.filter((result) => result.outcome === outcome).map((r) => `${r.id}: ${r.error}`);

describe.each(["dev", "prod"])("the %s render on a real control plane", (stack) => {
  let cluster: ControlPlane | undefined;
  let resources: PlanResource[] = [];
  let results: ObjectResult[] = [];
  const lines: string[] = [];
  let rolloutSeconds = 0;

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startControlPlane(await binaries);
    console.log(`[${stack}] control plane ${cluster.version} up in ${seconds(started)} s`);
    resources = await (renders.get(stack) as Promise<PlanResource[]>);
    const rolloutStarted = Date.now();
    results = await rollout(cluster.client, resources, {
      maxWaitMs: MAX_WAIT_MS,
      log: (line) => lines.push(line),
    });
    rolloutSeconds = seconds(rolloutStarted);
    console.log(
      `[${stack}] rollout of ${results.length} objects in ${rolloutSeconds} s\n${lines.join("\n")}`,
    );
  }, 420_000);

  afterAll(async () => {
    if (cluster && results.some((result) => result.outcome !== "ready")) {
      console.log(`[${stack}] component logs:\n${cluster.logTail(10)}`);
    }
    await cluster?.stop();
  }, 60_000);

  it("runs the Kubernetes release the wrapper module pins, reporting its own version", () => {
    const goMod = fs.readFileSync(path.join(CONTROL_PLANE_MODULE_DIR, "go.mod"), "utf8");
    expect(cluster?.version).toBe(kubernetesVersion(goMod).version);
  });

  it("would catch a misspelled field and a pod template Pod Security refuses (dry run)", async () => {
    // The checks below are only worth something if the server really refuses these: prove it on
    // a copy of one of our own Deployments in the restricted namespace.
    const client = (cluster as ControlPlane).client;
    const deployment = manifests(resources).find((manifest) => manifest.kind === "Deployment");
    const template = (copy: Manifest) =>
      (copy.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template;
    const misspelled = structuredClone(deployment as Manifest);
    template(misspelled).spec.containers[0].imagePullPolicyy = "IfNotPresent";
    const rejected = await client.apply(misspelled, { dryRun: true });
    console.log(`[${stack}] misspelled field: ${rejected.status} ${rejected.body.message}`);
    expect(rejected.status).toBeGreaterThanOrEqual(400);
    expect(rejected.body.message).toContain("imagePullPolicyy");

    const privileged = structuredClone(deployment as Manifest);
    template(privileged).spec.containers[0].securityContext = { privileged: true };
    const warned = await client.apply(privileged, { dryRun: true });
    expect(warned.warnings.join("\n")).toContain('violate PodSecurity "restricted');
  });

  it("has every manifest accepted by server-side apply with strict field validation", () => {
    expect(results.length).toBe(resources.filter((resource) => resource.manifest).length);
    expect(failed(results, "rejected")).toEqual([]);
  });

  it("draws no warning from the API server, Pod Security's included", () => {
    const warned = results.flatMap((result) => result.warnings.map((w) => `${result.id}: ${w}`));
    expect(warned).toEqual([]);
  });

  it("rolls out in plan.json order with every object ready as the provider awaits it", () => {
    expect(failed(results, "not-ready")).toEqual([]);
    expect(failed(results, "skipped")).toEqual([]);
    // A wait the provider would never finish is a failure of `pulumi up`, though it passes here.
    const deadlocks = results
      .filter((r) => r.note?.includes("deadlock"))
      .map((r) => `${r.id}: ${r.note}`);
    expect(deadlocks).toEqual([]);
  });

  it("admits every pod of the restricted namespace, and only the collector in the exception one", async () => {
    const client = (cluster as ControlPlane).client;
    const events = await client.get("/api/v1/events");
    const refused = (events.items ?? [])
      .filter((event) => event.reason === "FailedCreate")
      .map(
        (event) => `${(event.involvedObject as { name: string }).name}: ${event.message as string}`,
      );
    expect(refused).toEqual([]);

    const namespaces = manifests(resources).filter((manifest) => manifest.kind === "Namespace");
    for (const namespace of namespaces) {
      const labels = namespace.metadata.labels ?? {};
      const exception = namespace.metadata.annotations?.["k3s-platform/security-exception"];
      const pods = await client.get(`/api/v1/namespaces/${namespace.metadata.name}/pods`);
      if (labels["pod-security.kubernetes.io/enforce"] === "restricted") continue;
      expect(
        exception,
        `${namespace.metadata.name} is not restricted but names no exception`,
      ).toBeDefined();
      const strangers = (pods.items ?? []).filter((pod) => !ownedBy(pod, exception as string));
      expect(strangers.map((pod) => pod.metadata?.name)).toEqual([]);
    }
  });

  it("runs the migrations Job to Complete before either app Deployment is applied", () => {
    const byKind = (kind: string, name: RegExp) =>
      results.filter((r) => r.id.startsWith(`${kind}/`) && name.test(r.id.split("/").pop() ?? ""));
    const migrations = byKind("Job", /^migrations-/);
    const apps = byKind("Deployment", /^app-/);
    expect(migrations).toHaveLength(1);
    expect(apps.length).toBeGreaterThan(0);
    for (const app of apps) {
      expect(app.appliedAt ?? 0, app.id).toBeGreaterThanOrEqual(migrations[0].readyAt ?? Infinity);
    }
  });

  it("runs the Temporal schema Job to Complete before any Temporal server Deployment is applied", () => {
    const byKind = (kind: string, name: RegExp) =>
      results.filter((r) => r.id.startsWith(`${kind}/`) && name.test(r.id.split("/").pop() ?? ""));
    const schema = byKind("Job", /^temporal-schema-/);
    const servers = byKind("Deployment", /^temporal-(server|frontend|history|matching|worker)$/);
    expect(schema).toHaveLength(1);
    expect(servers.length).toBeGreaterThan(0);
    for (const server of servers) {
      expect(server.appliedAt ?? 0, server.id).toBeGreaterThanOrEqual(
        schema[0].readyAt ?? Infinity,
      );
    }
  });

  it("changes nothing when the same render is applied again (no drift)", async () => {
    const client = (cluster as ControlPlane).client;
    const drifted: string[] = [];
    const started = Date.now();
    for (const manifest of manifests(resources)) {
      const objectPath = await client.objectPath(
        manifest.apiVersion,
        manifest.kind,
        manifest.metadata,
      );
      const before = await client.get(objectPath);
      const after = await client.apply(manifest);
      if (after.body.metadata?.resourceVersion !== before.metadata?.resourceVersion) {
        const generations = `${before.metadata?.generation} → ${after.body.metadata?.generation}`;
        drifted.push(`${objectId(manifest)} (generation ${generations})`);
      }
    }
    console.log(
      `[${stack}] re-apply of ${manifests(resources).length} objects in ${((Date.now() - started) / 1000).toFixed(2)} s`,
    );
    expect(drifted).toEqual([]);
  }, 120_000);
});

function manifests(resources: PlanResource[]): Manifest[] {
  return resources.flatMap((resource) => (resource.manifest ? [resource.manifest] : []));
}

function ownedBy(pod: KubeObject, owner: string): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((reference) => reference.name === owner);
}

function seconds(since: number): number {
  return Math.round((Date.now() - since) / 1000);
}
