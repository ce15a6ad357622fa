import type { OpType } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../e2e/lib/control-plane";
import { condition, type KubeObject } from "../e2e/lib/kube-client";
import { ensureE2eBinaries } from "../e2e/lib/tools";
import {
  ensureEngineBinaries,
  setConfig,
  up,
  type EngineStack,
  type UpSummary,
} from "./lib/engine";
import { steps, urnName, type Step } from "./lib/events";
import { seconds, shippedStack } from "./lib/stacks";

/**
 * The app's password rotated on the running dev stack under the real engine: `app2` gets a new
 * password and becomes the login in use, in one `up`. The engine's own events must show the order
 * the rotation needs (the role-reconcile Job done before PgBouncer rolls, PgBouncer rolled before
 * the app's Secret is rewritten, that Secret and the migrations Job done before the app rolls),
 * the Postgres StatefulSet untouched (a role's password does not restart the database), and the
 * live objects wired to the new login.
 */

/** The ops whose end is the new object applied and awaited by the provider. */
const APPLYING: OpType[] = ["create", "create-replacement", "update"];
const NEW_PASSWORD = "EngineRotatedApp2Password0123456789";

const binaries = Promise.all([ensureEngineBinaries(), ensureE2eBinaries()]);
binaries.catch(() => undefined); // awaited in beforeAll; not unhandled meanwhile

describe("a rotation of the app's password under the real engine", () => {
  let cluster: ControlPlane | undefined;
  let stack: EngineStack | undefined;
  let rotated: UpSummary | undefined;
  const figures: string[] = [];
  const control = () => cluster as ControlPlane;

  beforeAll(async () => {
    const [engine, controlPlane] = await binaries;
    cluster = await startControlPlane(controlPlane);
    stack = await shippedStack("dev", cluster, engine);
    const installed = await up(stack);
    figures.push(`install: ${seconds(installed.durationMs)} s`);
    await stack.stack.setConfig(
      "k3s-platform:credentials.postgres.app2",
      { value: NEW_PASSWORD, secret: true },
      true,
    );
    await setConfig(stack, { "k3s-platform:postgres.appLogin": "app2" });
    rotated = await up(stack);
    figures.push(
      `rotation up: ${seconds(rotated.durationMs)} s (${rotated.changes.replace} replaced, ` +
        `${rotated.changes.update} updated, ${rotated.changes.create} created)`,
    );
  }, 1_800_000);

  afterAll(async () => {
    console.log(`[rotation figures]\n${figures.join("\n")}`);
    stack?.dispose();
    await cluster?.stop();
  }, 60_000);

  /** The step that makes a resource's new object: its create, its replacement, or its update. */
  function stepOf(all: Step[], type: string, name: RegExp): Step {
    const found = all.filter(
      (s) => s.type === type && name.test(urnName(s.urn)) && APPLYING.includes(s.op),
    );
    expect(
      found.map((s) => `${s.op} ${urnName(s.urn)}`),
      `${type} ${name}`,
    ).toHaveLength(1);
    return found[0];
  }

  it("applies the Job, then PgBouncer, then the app's Secret and migrations, then the app", () => {
    expect(rotated?.result).toBe("succeeded");
    const all = steps(rotated?.events ?? []);
    const job = stepOf(all, "kubernetes:batch/v1:Job", /^postgres-roles$/);
    const pgbouncer = stepOf(all, "kubernetes:apps/v1:Deployment", /^pgbouncer$/);
    const appSecret = stepOf(all, "kubernetes:core/v1:Secret", /^pgbouncer-app$/);
    const migrations = stepOf(all, "kubernetes:batch/v1:Job", /^migrations-/);
    const web = stepOf(all, "kubernetes:apps/v1:Deployment", /^app-web$/);
    const worker = stepOf(all, "kubernetes:apps/v1:Deployment", /^app-worker$/);
    const order: [Step, Step][] = [
      [job, pgbouncer],
      [pgbouncer, appSecret],
      [job, migrations],
      [appSecret, web],
      [appSecret, worker],
      [migrations, web],
      [migrations, worker],
    ];
    const line = (s: Step) => `${s.op} ${urnName(s.urn)} [${s.start}..${s.end}]`;
    console.log(
      `[rotation] steps:\n  ${[job, pgbouncer, appSecret, migrations, web, worker].map(line).join("\n  ")}`,
    );
    for (const [first, then] of order) {
      expect(first.end, `${line(first)} finished`).toBeDefined();
      expect(then.start, `${line(then)} after ${line(first)}`).toBeGreaterThan(first.end as number);
    }
    const changed = all.filter((s) => s.op !== "same" && s.op !== "read");
    console.log(`[rotation] every change:\n  ${changed.map(line).join("\n  ")}`);
    const postgres = all.filter(
      (s) => s.type === "kubernetes:apps/v1:StatefulSet" && urnName(s.urn) === "postgres",
    );
    expect(postgres.map((s) => s.op)).toEqual(["same"]);
  });

  it("leaves the app, migrations and PgBouncer on app2, and the Job Complete", async () => {
    const client = control().client;
    const get = async (apiVersion: string, kind: string, name: string): Promise<KubeObject> =>
      client.get(await client.objectPath(apiVersion, kind, { name, namespace: "platform" }));
    const jobs = await client.get("/apis/batch/v1/namespaces/platform/jobs");
    const items = jobs.items ?? [];
    const named = (prefix: string) =>
      items.filter((j) => j.metadata?.name?.startsWith(prefix)).map((j) => j.metadata?.name);
    expect(named("postgres-roles-")).toHaveLength(1);
    const [roles] = items.filter((j) => j.metadata?.name?.startsWith("postgres-roles-"));
    expect(condition(roles, "Complete")?.status).toBe("True");
    const [migrations] = items.filter((j) => j.metadata?.name?.startsWith("migrations-"));
    expect(JSON.stringify(migrations.spec)).toContain('"name":"postgres-app2"');
    const userlist = await get("v1", "Secret", "pgbouncer-userlist");
    const text = Buffer.from(
      (userlist.data as Record<string, string>)["userlist.txt"],
      "base64",
    ).toString("utf8");
    expect(text.split("\n").map((l) => l.split(" ")[0])).toEqual(
      expect.arrayContaining(['"app2"', '"app"']),
    );
    const app = await get("v1", "Secret", "pgbouncer-app");
    const username = Buffer.from((app.data as Record<string, string>).username, "base64");
    expect(username.toString("utf8")).toBe("app2");
  });
});
