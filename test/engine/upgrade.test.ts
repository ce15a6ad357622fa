import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../e2e/lib/control-plane";
import { condition } from "../e2e/lib/kube-client";
import { copyRepository, type RepoCopy } from "./lib/repo-copy";
import { ensureE2eBinaries } from "../e2e/lib/tools";
import {
  ensureEngineBinaries,
  preview,
  setConfig,
  up,
  type EngineStack,
  type OperationSummary,
  type UpSummary,
} from "./lib/engine";
import { REPLACE_OPS, steps, urnName, urnsWith } from "./lib/events";
import { engineObjects, npmRun, parseDiff, renderedObjects, type DiffKind } from "./lib/renders";
import { seconds, shippedStack } from "./lib/stacks";

/**
 * An upgrade of the running dev stack under the real engine, held against what `npm run diff`
 * predicts for it: one more migration (a file added to a scratch copy of the repository, since the
 * Migrations component reads its own `atlas/migrations`), a bigger Postgres volume and a new
 * PgBouncer pool size. The engine's preview must replace and update exactly the Kubernetes objects
 * the diff says it will, and `up` must then do it.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const MIGRATION = "20990101000000_engine_upgrade.sql";
const CHANGES = {
  "k3s-platform:postgres.storageSize": "6Gi",
  "k3s-platform:pgbouncer.defaultPoolSize": "20",
};

const binaries = Promise.all([ensureEngineBinaries(), ensureE2eBinaries()]);
binaries.catch(() => undefined); // awaited in beforeAll; not unhandled meanwhile

describe("an upgrade of the dev stack under the real engine", () => {
  let cluster: ControlPlane | undefined;
  let stack: EngineStack | undefined;
  let copy: RepoCopy | undefined;
  let work = "";
  let installed: UpSummary | undefined;
  let diffText = "";
  let predicted: Record<DiffKind, string[]> = { create: [], update: [], replace: [], delete: [] };
  let previewed: OperationSummary | undefined;
  let replaced: string[] = [];
  let updated: string[] = [];
  const figures: string[] = [];
  const the = () => stack as EngineStack;
  const client = () => (cluster as ControlPlane).client;
  const program = () => ({ projectDir: (copy as RepoCopy).root });

  beforeAll(async () => {
    const [engine, controlPlane] = await binaries;
    cluster = await startControlPlane(controlPlane);
    stack = await shippedStack("dev", cluster, engine);
    installed = await up(stack);
    figures.push(`install: ${seconds(installed.durationMs)} s`);

    // The upgrade: a scratch copy with one more migration (atlas.sum rehashed as the tool does),
    // and the stack's config changed with `pulumi config set --path`.
    work = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-engine-upgrade-"));
    copy = copyRepository();
    fs.writeFileSync(
      path.join(copy.root, "atlas", "migrations", MIGRATION),
      "CREATE TABLE engine_upgrade (id bigint PRIMARY KEY);\n",
    );
    await copy.tsx("tools/migrate.ts", "hash");
    const before = path.join(work, "before.yaml");
    fs.copyFileSync(stack.stackFile, before);
    await setConfig(stack, CHANGES);
    const after = path.join(work, "after.yaml");
    fs.copyFileSync(stack.stackFile, after);
    // `npm run diff` renders the tree it runs in with its own Pulumi.dev.yaml: the copy's is the
    // stack's new config.
    fs.copyFileSync(stack.stackFile, path.join(copy.root, "Pulumi.dev.yaml"));

    const started = Date.now();
    await npmRun(ROOT, "render", "dev", "--stack-file", before, "--out", path.join(work, "before"));
    await npmRun(
      copy.root,
      "render",
      "dev",
      "--stack-file",
      after,
      "--out",
      path.join(work, "after"),
    );
    diffText = await npmRun(copy.root, "diff", path.join(work, "before"), "dev");
    predicted = parseDiff(diffText);
    figures.push(`renders and diff: ${seconds(Date.now() - started)} s`);
    console.log(`[upgrade] npm run diff:\n${diffText}`);

    previewed = await preview(stack, { program: program() });
    figures.push(`preview: ${seconds(previewed.durationMs)} s`);
  }, 1_800_000);

  afterAll(async () => {
    console.log(`[upgrade figures]\n${figures.join("\n")}`);
    stack?.dispose();
    copy?.remove();
    if (work) fs.rmSync(work, { recursive: true, force: true });
    await cluster?.stop();
  }, 60_000);

  it("has the diff predict a REPLACE of the Postgres StatefulSet, updates and a new migrations Job", () => {
    // Otherwise the comparison below could hold vacuously.
    expect(predicted.replace).toContain("StatefulSet/platform/postgres");
    expect(predicted.update).toContain("ConfigMap/platform/pgbouncer-config");
    expect(predicted.create.filter((id) => /^Job\/platform\/migrations-/.test(id))).toHaveLength(1);
    expect(predicted.delete.filter((id) => /^Job\/platform\/migrations-/.test(id))).toHaveLength(1);
  });

  it("previews replacing and updating exactly the Kubernetes objects npm run diff names", () => {
    const all = steps(previewed?.events ?? []);
    const ids = engineObjects(previewed?.events ?? []);
    const files = renderedObjects(path.join(work, "after"));
    const named = (urns: Set<string>) =>
      [...urns].filter((urn) => ids.has(urn)).map((urn) => ids.get(urn) as string);
    replaced = named(urnsWith(all, REPLACE_OPS)).sort();
    updated = named(urnsWith(all, ["update"])).sort();
    // The link, printed: URN → object → manifest file of the new render.
    const link = [...replaced, ...updated].map((id) => {
      const urn = [...ids].find(([, object]) => object === id)?.[0] ?? "";
      const op = replaced.includes(id) ? "replace" : "update";
      return `${op} ${urnName(urn)} → ${id} → manifests/${files.get(id) ?? "(not rendered)"}`;
    });
    console.log(`[upgrade] engine preview:\n  ${link.join("\n  ")}`);
    figures.push(
      `replaces: diff ${predicted.replace.length}, engine ${replaced.length}; ` +
        `updates: diff ${predicted.update.length}, engine ${updated.length}`,
    );
    // Every step on a Kubernetes resource was linked to its object, and every object to a file.
    const unlinked = all.filter((s) => s.type.startsWith("kubernetes:") && !ids.has(s.urn));
    expect(unlinked.map((s) => s.urn)).toEqual([]);
    for (const id of [...replaced, ...updated]) expect(files.has(id), id).toBe(true);

    expect(replaced).toEqual([...predicted.replace].sort());
    expect(updated).toEqual([...predicted.update].sort());
  });

  it("applies them with up: what preview replaced is new, what it updated the same object", async () => {
    const live = (objectPath: string) => client().get(objectPath);
    const pathOf = async (id: string) => {
      const [kind, namespace, name] = id.split("/");
      const apiVersion = kind === "ConfigMap" ? "v1" : kind === "Job" ? "batch/v1" : "apps/v1";
      return client().objectPath(apiVersion, kind, { name, namespace });
    };
    expect(replaced.length + updated.length).toBeGreaterThan(0);
    const before = new Map(
      await Promise.all(
        [...replaced, ...updated].map(async (id) => [id, await live(await pathOf(id))] as const),
      ),
    );

    const upgraded = await up(the(), { program: program() });
    figures.push(
      `up: ${seconds(upgraded.durationMs)} s (${upgraded.changes.replace} replaced, ` +
        `${upgraded.changes.update} updated, ${upgraded.changes.create} created, ` +
        `${upgraded.changes.delete} deleted)`,
    );
    expect(upgraded.result).toBe("succeeded");
    expect(upgraded.changes.replace).toBe(replaced.length);
    expect(upgraded.changes.update).toBe(updated.length);
    for (const id of replaced) {
      const after = await live(await pathOf(id));
      expect(after.metadata?.uid, `${id} replaced`).not.toBe(before.get(id)?.metadata?.uid);
    }
    for (const id of updated) {
      const after = await live(await pathOf(id));
      expect(after.metadata?.uid, `${id} in place`).toBe(before.get(id)?.metadata?.uid);
      expect(after.metadata?.resourceVersion, id).not.toBe(
        before.get(id)?.metadata?.resourceVersion,
      );
    }

    const postgres = await live(await pathOf("StatefulSet/platform/postgres"));
    const claims = (postgres.spec?.volumeClaimTemplates ?? []) as {
      spec: { resources: { requests: { storage: string } } };
    }[];
    expect(claims[0].spec.resources.requests.storage).toBe("6Gi");
    const pool = await live(await pathOf("ConfigMap/platform/pgbouncer-config"));
    expect(JSON.stringify(pool.data)).toMatch(/default_pool_size\s*=\s*20/);

    const [created] = predicted.create.filter((id) => /^Job\/platform\/migrations-/.test(id));
    const [removed] = predicted.delete.filter((id) => /^Job\/platform\/migrations-/.test(id));
    expect(condition(await live(await pathOf(created)), "Complete")?.status).toBe("True");
    expect((await client().request("GET", await pathOf(removed))).status).toBe(404);
  }, 900_000);
});
