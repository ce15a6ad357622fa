import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../e2e/lib/control-plane";
import { ensureE2eBinaries } from "../e2e/lib/tools";
import {
  ensureEngineBinaries,
  preview,
  type EngineStack,
  type OperationSummary,
} from "./lib/engine";
import { shippedStack } from "./lib/stacks";

/**
 * The shipped stacks under the real engine: `pulumi preview` of index.ts with the Kubernetes
 * provider talking to a real API server, and the policy pack run by the engine's analyzer. Every
 * credential is given as a secret, because the random provider cannot be had here; so this also
 * shows that such a stack needs no random resource at all. Nor can the docker provider be had, so
 * a stack that builds its app image (prod) deploys a given digest instead.
 */

const binaries = Promise.all([ensureEngineBinaries(), ensureE2eBinaries()]);
binaries.catch(() => undefined); // awaited in beforeAll; not unhandled meanwhile

describe.each(["dev", "prod"])("the %s stack under the real engine", (stackName) => {
  let cluster: ControlPlane | undefined;
  let stack: EngineStack | undefined;
  let summary: OperationSummary | undefined;
  const types = new Set<string>();

  beforeAll(async () => {
    const [engine, controlPlane] = await binaries;
    cluster = await startControlPlane(controlPlane);
    stack = await shippedStack(stackName, cluster, engine);
    summary = await preview(stack, {
      policyPacks: ["policy"],
      policyPackConfigs: [`policy/config/${stackName}.json`],
      onEvent: (event) => {
        const type = event.resourcePreEvent?.metadata.type;
        if (type) types.add(type);
      },
    });
  }, 1_800_000); // a cold build of the CLI and the provider takes minutes

  afterAll(async () => {
    stack?.dispose();
    await cluster?.stop();
  });

  it("previews creating the platform", () => {
    expect(summary?.changes.create).toBeGreaterThan(100);
    expect(summary?.changes.changed).toBe(summary?.changes.create);
    expect(types).toContain("kubernetes:apps/v1:StatefulSet");
  });

  it("registers no random resource when every credential is given", () => {
    expect([...types].filter((type) => type.startsWith("random:"))).toEqual([]);
  });

  it("meets every mandatory rule of the policy pack, run by the engine", () => {
    // ✅ no violation, ⚠️ advisory ones only (a mandatory one fails the preview itself).
    expect(summary?.stdout).toMatch(/(✅|⚠️) k3s-platform@v\d+\.\d+\.\d+/);
    expect(summary?.stdout).not.toContain("[mandatory]");
  });
});
