import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../e2e/lib/control-plane";
import type { KubeObject } from "../e2e/lib/kube-client";
import { ensureE2eBinaries } from "../e2e/lib/tools";
import {
  ensureEngineBinaries,
  OperationFailure,
  preview,
  setConfig,
  up,
  type EngineStack,
} from "./lib/engine";
import { seconds, shippedStack } from "./lib/stacks";

/**
 * Switching a prod stack that runs Postgres HA back to the single server, under the real engine:
 * the stack is brought up as shipped (three Patroni members), then `postgres.ha.enabled` is set
 * to false. The engine must refuse it in preview and in `up`, because the protected topology
 * guard would have to be replaced, and nothing of the database may have changed: the `postgres`
 * Service still has no selector (it follows Patroni's Endpoints), the members' StatefulSet is the
 * same object at the same version, and no single-server StatefulSet exists.
 */

const binaries = Promise.all([ensureEngineBinaries(), ensureE2eBinaries()]);
binaries.catch(() => undefined); // awaited in beforeAll; not unhandled meanwhile

const NS = "/api/v1/namespaces/platform";
const STS = "/apis/apps/v1/namespaces/platform/statefulsets";

describe("switching the prod stack's Postgres between HA and one server", () => {
  let cluster: ControlPlane | undefined;
  let stack: EngineStack | undefined;
  const figures: string[] = [];
  const client = () => (cluster as ControlPlane).client;

  beforeAll(async () => {
    const [engine, controlPlane] = await binaries;
    // One node per HA member, as the prod stack says it has.
    cluster = await startControlPlane(controlPlane, { nodes: 3 });
    stack = await shippedStack("prod", cluster, engine);
    const installed = await up(stack);
    figures.push(`prod up: ${seconds(installed.durationMs)} s`);
  }, 1_800_000);

  afterAll(async () => {
    console.log(`[postgres.ha switch figures]\n${figures.join("\n")}`);
    stack?.dispose();
    await cluster?.stop();
  }, 60_000);

  /** What a switch would change first: the client Service and the StatefulSets. */
  async function database(): Promise<Record<string, unknown>> {
    const service = await client().get(`${NS}/services/postgres`);
    const members = await client().get(`${STS}/postgres-ha`);
    const all = ((await client().get(STS)).items ?? []) as KubeObject[];
    return {
      serviceSelector: (service.spec as { selector?: unknown } | undefined)?.selector,
      serviceVersion: service.metadata?.resourceVersion,
      membersVersion: members.metadata?.resourceVersion,
      statefulSets: all.map((s) => s.metadata?.name).sort(),
    };
  }

  it("is refused in preview and in up, before anything of the database changes", async () => {
    const before = await database();
    expect(before.serviceSelector).toBeUndefined();
    expect(before.statefulSets).toContain("postgres-ha");
    await setConfig(stack as EngineStack, { "k3s-platform:postgres.ha.enabled": "false" });

    const previewed = await preview(stack as EngineStack).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(previewed).toBeInstanceOf(OperationFailure);
    expect((previewed as Error).message).toMatch(
      /postgres-topology.*protect|protect.*postgres-topology/s,
    );

    const failed = await up(stack as EngineStack).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(OperationFailure);
    const failure = failed as OperationFailure;
    figures.push(`refused up: ${seconds(failure.durationMs)} s`);
    expect(failure.message).toMatch(/postgres-topology.*protect|protect.*postgres-topology/s);
    expect(await database()).toEqual(before);
  }, 900_000);
});
