import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { objectId } from "../../tools/lib/manifests";
import { diffRenders, type ObjectChange } from "../../tools/lib/render-diff";
import type { Manifest } from "../../core/render-model";
import { startControlPlane, type ControlPlane } from "./lib/control-plane";
import { failingJob, withFailingJobStage } from "./lib/failing-pods";
import type { KubeObject } from "./lib/kube-client";
import { renderObjects, type PlanResource } from "./lib/render-objects";
import { copyRepository, type RepoCopy } from "./lib/repo-copy";
import { kubernetesDependencies, rollout, type ObjectResult } from "./lib/rollout";
import { teardown, type TeardownResult } from "./lib/teardown";
import { ensureE2eBinaries } from "./lib/tools";

/**
 * What `pulumi up` and `pulumi destroy` do to a running stack, on a real control plane: a failed
 * migration stops the rollout before the app changes, an upgrade is taken in place exactly where
 * `npm run diff` says so, and a teardown goes in reverse dependency order and keeps what we
 * protect. One control plane for the whole file, so every step meets the state the previous left.
 */

/** Any one wait is cut at this, not at the provider's 10 minutes: a broken render fails fast. */
const MAX_WAIT_MS = 90_000;

/** An upgrade: one more statement in a migration, and one in-place and one REPLACE config change. */
const upgrade = renderEdited("upgrade", (copy) => {
  copy.edit(
    "Pulumi.dev.yaml",
    /storageSize: 5Gi\n {4}maxConnections/,
    "storageSize: 6Gi\n    maxConnections",
  );
  copy.edit("Pulumi.dev.yaml", "maxClientConn: 1000", "maxClientConn: 1200");
});
/** A release whose migration will fail: new app image, and a migration the Job cannot apply. */
const failingRelease = renderEdited("failing", (copy) => {
  copy.edit(
    "Pulumi.dev.yaml",
    "image: ghcr.io/k3s-platform/app:0.1.0",
    "image: ghcr.io/k3s-platform/app:0.2.0",
  );
});
const binaries = ensureE2eBinaries().then(withFailingJobStage);
const dev = renderObjects("dev");
const prod = renderObjects("prod");
// A rejected promise held for a later test must not count as unhandled meanwhile.
for (const pending of [binaries, dev, prod, upgrade, failingRelease])
  pending.catch(() => undefined);

describe("rollouts, upgrades and teardowns on a real control plane", () => {
  let cluster: ControlPlane | undefined;
  const figures: string[] = [];

  beforeAll(async () => {
    cluster = await startControlPlane(await binaries);
  }, 420_000);

  afterAll(async () => {
    console.log(`[figures]\n${figures.join("\n")}`);
    await cluster?.stop();
  }, 60_000);

  const client = () => (cluster as ControlPlane).client;
  const run = async (label: string, resources: PlanResource[]) => {
    const lines: string[] = [];
    const started = Date.now();
    const results = await rollout(client(), resources, {
      maxWaitMs: MAX_WAIT_MS,
      log: (line) => lines.push(line),
    });
    const seconds = (Date.now() - started) / 1000;
    console.log(`[${label}] rollout in ${seconds.toFixed(1)} s\n${lines.join("\n")}`);
    return { results, seconds };
  };

  it("stops the first rollout at a failed migrations Job, before any app Deployment is applied", async () => {
    const { results } = await run("dev, failing migrations", withFailingMigrations(await dev));
    const job = results.find((result) => isMigrationsJob(result.id)) as ObjectResult;
    expect(job.outcome).toBe("not-ready");
    expect(job.error).toMatch(/^Job Failed: /);
    const apps = results.filter((result) => isAppDeployment(result.id));
    expect(apps.length).toBeGreaterThan(0);
    for (const app of apps) {
      expect(app.outcome, app.id).toBe("skipped");
      expect(app.appliedAt, app.id).toBeUndefined();
      expect((await fetchObject(app.id)).status, `${app.id} on the server`).toBe(404);
    }
    // The failed Job's template carries the failing label, which a Job cannot change in place:
    // delete it, as `pulumi up` replaces a failed create on the next run.
    const removed = await teardown(client(), [migrationsJob(await dev)], {
      maxWaitMs: MAX_WAIT_MS,
      log: () => {},
    });
    expect(removed.map((result) => result.outcome)).toEqual(["deleted"]);
  }, 300_000);

  it("rolls dev out with every object ready", async () => {
    const { results, seconds } = await run("dev", await dev);
    // Over the objects the failed first attempt left: the cold figure is render-applies.test.ts's.
    figures.push(
      `rollout dev, after the failed attempt: ${seconds.toFixed(1)} s (${results.length} objects)`,
    );
    expect(results.filter((result) => result.outcome !== "ready").map((r) => r.id)).toEqual([]);
  }, 300_000);

  it("keeps the running app Deployments on their old pod template when an upgrade's migration fails", async () => {
    const release = await failingRelease;
    const before = await Promise.all(appIds(await dev).map(async (id) => await liveTemplate(id)));
    // The release really changes the app's pod template: otherwise "unchanged" proves nothing.
    for (const id of appIds(release)) {
      const rendered = manifestOf(release, id).spec as { template: unknown };
      expect(JSON.stringify(rendered.template), id).toContain("app:0.2.0");
    }
    const { results } = await run(
      "dev upgrade, failing migrations",
      withFailingMigrations(release),
    );
    const job = results.find((result) => isMigrationsJob(result.id)) as ObjectResult;
    expect(job.id).not.toBe(objectId(migrationsJob(await dev).manifest as Manifest));
    expect(job.error).toMatch(/^Job Failed: /);
    for (const app of results.filter((result) => isAppDeployment(result.id))) {
      expect(app.outcome, app.id).toBe("skipped");
    }
    const after = await Promise.all(appIds(await dev).map(async (id) => await liveTemplate(id)));
    expect(after).toEqual(before);
    expect(JSON.stringify(after)).toContain("app:0.1.0");
  }, 300_000);

  it("takes in place what diff calls an update, and refuses in place what it calls REPLACE", async () => {
    const changes = diffRenders(manifests(await dev), manifests(await upgrade));
    console.log(
      `[upgrade] diff: ${changes.map((change) => `${change.kind} ${change.object}`).join(", ")}`,
    );
    const replaces = changes.filter((change) => change.kind === "replace");
    const updates = changes.filter((change) => change.kind === "update");
    // The edits above must show up as both kinds, or the assertions below would be vacuous.
    expect(replaces.flatMap((change) => change.immutableFields).join(" ")).toMatch(
      /spec\.volumeClaimTemplates\[0\]\.spec\.resources\.requests\.storage/,
    );
    expect(
      updates.some(
        (change) =>
          change.object.startsWith("ConfigMap/") &&
          change.fields.some((field) => String(field.after).includes("1200")),
      ),
    ).toBe(true);

    const byId = new Map(
      manifests(await upgrade).map((manifest) => [objectId(manifest), manifest]),
    );
    // New objects first (the new migrations ConfigMap and Job), as the engine creates before it
    // updates what refers to them.
    for (const change of changes.filter((c) => c.kind === "create")) {
      const response = await client().apply(byId.get(change.object) as Manifest);
      expect(response.status, `${change.object}: ${response.body.message}`).toBeLessThan(300);
    }
    const refusedInPlace: string[] = [];
    for (const change of updates) {
      const before = await fetchObject(change.object);
      const response = await client().apply(byId.get(change.object) as Manifest);
      expect(response.status, `${change.object}: ${response.body.message}`).toBeLessThan(300);
      // In place: the same object (uid), changed (resourceVersion).
      expect(response.body.metadata?.uid, change.object).toBe(before.body.metadata?.uid);
      expect(response.body.metadata?.resourceVersion, change.object).not.toBe(
        before.body.metadata?.resourceVersion,
      );
    }
    for (const change of replaces) {
      const before = await fetchObject(change.object);
      const response = await client().apply(byId.get(change.object) as Manifest);
      const message = String(response.body.message ?? "");
      console.log(`[upgrade] ${change.object} refused: ${response.status} ${message}`);
      if (response.status < 300) refusedInPlace.push(`${change.object} was accepted in place`);
      expect(response.status, change.object).toBe(422);
      expect(message).toMatch(/immutable|Forbidden/);
      expect(namesImmutableField(message, change), message).toBe(true);
      const after = await fetchObject(change.object);
      expect(after.body.metadata?.resourceVersion).toBe(before.body.metadata?.resourceVersion);
    }
    expect(refusedInPlace).toEqual([]);
  }, 120_000);

  it("tears dev down in reverse dependency order, leaving the platform namespace empty", async () => {
    // What the engine's state holds now: the upgrade as far as it got, and the objects it has
    // not deleted yet (the earlier releases' migrations ConfigMaps and Jobs).
    const state = union(await upgrade, await failingRelease, await dev);
    const { results, seconds } = await destroy("dev", state);
    figures.push(`teardown dev: ${seconds.toFixed(1)} s (${results.length} objects)`);
    expect(results.filter((result) => result.outcome !== "deleted")).toEqual([]);
    assertReverseOrder(state, results);
    const namespace = manifests(state).find(
      (manifest) => manifest.kind === "Namespace" && manifest.metadata.name === "platform",
    ) as Manifest;
    expect((await fetchObject(objectId(namespace))).status).toBe(404);
    for (const manifest of manifests(state)) {
      expect((await fetchObject(objectId(manifest))).status, objectId(manifest)).toBe(404);
    }
  }, 300_000);

  it("rolls prod out, then tears it down keeping every protected object", async () => {
    const resources = await prod;
    const { results: rolled, seconds } = await run("prod", resources);
    figures.push(`rollout prod: ${seconds.toFixed(1)} s (${rolled.length} objects)`);
    expect(rolled.filter((result) => result.outcome !== "ready").map((r) => r.id)).toEqual([]);

    const { results, seconds: down } = await destroy("prod", resources);
    figures.push(`teardown prod: ${down.toFixed(1)} s (${results.length} objects)`);
    const protectedIds = resources
      .filter((resource) => resource.manifest && resource.protect)
      .map((resource) => objectId(resource.manifest as Manifest))
      .sort();
    expect(protectedIds.length).toBeGreaterThan(0);
    const outcome = (kind: TeardownResult["outcome"]) =>
      results.filter((result) => result.outcome === kind).map((result) => result.id);
    expect(outcome("refused").sort()).toEqual(protectedIds);
    expect(outcome("failed")).toEqual([]);
    console.log(`[prod teardown] refused (protected): ${outcome("refused").join(", ")}`);
    console.log(
      `[prod teardown] kept (a protected object depends on it): ${outcome("kept").join(", ")}`,
    );
    assertReverseOrder(resources, results);
    for (const id of [...outcome("refused"), ...outcome("kept")]) {
      expect((await fetchObject(id)).status, `${id} is still there`).toBe(200);
    }
    for (const id of outcome("deleted")) {
      expect((await fetchObject(id)).status, `${id} is gone`).toBe(404);
    }
  }, 420_000);

  async function destroy(stack: string, resources: PlanResource[]) {
    const lines: string[] = [];
    const started = Date.now();
    const results = await teardown(client(), resources, {
      maxWaitMs: MAX_WAIT_MS,
      log: (line) => lines.push(line),
    });
    const seconds = (Date.now() - started) / 1000;
    console.log(`[${stack}] teardown in ${seconds.toFixed(1)} s\n${lines.join("\n")}`);
    return { results, seconds };
  }

  async function fetchObject(id: string) {
    const [kind, ...rest] = id.split("/");
    const name = rest.pop() as string;
    const all = [...manifests(await dev), ...manifests(await prod), ...manifests(await upgrade)];
    const manifest = [...all, ...manifests(await failingRelease)].find((m) => m.kind === kind);
    const apiVersion = (manifest as Manifest).apiVersion;
    const objectPath = await client().objectPath(apiVersion, kind, { name, namespace: rest[0] });
    return client().request("GET", objectPath);
  }

  async function liveTemplate(id: string): Promise<KubeObject> {
    const response = await fetchObject(id);
    expect(response.status, id).toBe(200);
    return (response.body.spec as { template: KubeObject }).template;
  }
});

/** Renders dev from a copy of the repository with one migration appended to and `edit` applied. */
async function renderEdited(
  label: string,
  edit: (copy: RepoCopy) => void,
): Promise<PlanResource[]> {
  const copy = copyRepository();
  try {
    const migrations = path.join(copy.root, "atlas", "migrations");
    const last = fs
      .readdirSync(migrations)
      .filter((file) => file.endsWith(".sql"))
      .sort()
      .pop() as string;
    copy.append(
      path.join("atlas", "migrations", last),
      `\nCREATE TABLE e2e_${label} (id bigint PRIMARY KEY);\n`,
    );
    await copy.tsx("tools/migrate.ts", "hash");
    edit(copy);
    return await renderObjects("dev", copy.root);
  } finally {
    copy.remove();
  }
}

function manifests(resources: PlanResource[]): Manifest[] {
  return resources.flatMap((resource) => (resource.manifest ? [resource.manifest] : []));
}

function manifestOf(resources: PlanResource[], id: string): Manifest {
  return manifests(resources).find((manifest) => objectId(manifest) === id) as Manifest;
}

const isMigrationsJob = (id: string) => /^Job\/.*\/migrations-[^/]*$/.test(id);
const isAppDeployment = (id: string) => /^Deployment\/.*\/app-[^/]*$/.test(id);
const appIds = (resources: PlanResource[]) =>
  manifests(resources).map(objectId).filter(isAppDeployment);

function migrationsJob(resources: PlanResource[]): PlanResource {
  const jobs = resources.filter((r) => r.manifest && isMigrationsJob(objectId(r.manifest)));
  expect(jobs).toHaveLength(1);
  return jobs[0];
}

/** The render with its migrations Job marked for kwok's failing stage. */
function withFailingMigrations(resources: PlanResource[]): PlanResource[] {
  const job = migrationsJob(resources);
  return resources.map((resource) =>
    resource === job ? { ...job, manifest: failingJob(job.manifest as Manifest) } : resource,
  );
}

/**
 * The latest render, plus the objects only earlier ones have: the engine deletes those at the end
 * of a successful update, so after a failed one they are still in its state. Their URNs get the
 * object's id appended, since a later release may reuse the URN for a renamed object.
 */
function union(latest: PlanResource[], ...earlier: PlanResource[][]): PlanResource[] {
  const ids = new Set(manifests(latest).map(objectId));
  const result = [...latest];
  for (const resource of earlier.flat()) {
    if (!resource.manifest || ids.has(objectId(resource.manifest))) continue;
    ids.add(objectId(resource.manifest));
    result.push({ ...resource, urn: `${resource.urn}#${objectId(resource.manifest)}` });
  }
  return result;
}

/** No object went before one that depends on it: the reverse of the rollout's order. */
function assertReverseOrder(resources: PlanResource[], results: TeardownResult[]): void {
  const goneAt = new Map(results.map((result) => [result.id, result.goneAt]));
  const byUrn = new Map(resources.map((resource) => [resource.urn, resource]));
  const dependencies = kubernetesDependencies(resources);
  for (const resource of resources) {
    if (!resource.manifest) continue;
    const gone = goneAt.get(objectId(resource.manifest));
    if (gone === undefined) continue;
    for (const dependency of dependencies.get(resource.urn) ?? []) {
      const upstream = byUrn.get(dependency)?.manifest;
      const upstreamGone = upstream ? goneAt.get(objectId(upstream)) : undefined;
      if (upstreamGone !== undefined) {
        expect(
          upstreamGone,
          `${objectId(upstream as Manifest)} after ${objectId(resource.manifest)}`,
        ).toBeGreaterThanOrEqual(gone);
      }
    }
  }
}

/**
 * Kubernetes formats a field error as `<path>: <reason>`, naming the field or the part of the spec
 * it lives in (a StatefulSet names `spec` and lists what may change): the message must name the
 * immutable field diff found, or a path that encloses it.
 */
function namesImmutableField(message: string, change: ObjectChange): boolean {
  return change.immutableFields.some((field) => {
    const parts = field.replace(/\[\d+\]/g, "").split(".");
    return parts.some((_, i) => message.includes(`${parts.slice(0, i + 1).join(".")}: `));
  });
}
