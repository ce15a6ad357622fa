import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../e2e/lib/control-plane";
import { ensureE2eBinaries } from "../e2e/lib/tools";
import {
  createStack,
  ensureEngineBinaries,
  preview,
  type EngineStack,
  type OperationSummary,
} from "./lib/engine";

/**
 * The shipped stacks under the real engine: `pulumi preview` of index.ts with the Kubernetes
 * provider talking to a real API server, and the policy pack run by the engine's analyzer. Every
 * credential is given as a secret, because the random provider cannot be had here; so this also
 * shows that such a stack needs no random resource at all. Nor can the docker provider be had, so
 * a stack that builds its app image (prod) deploys a given digest instead.
 */

const ROOT = path.resolve(__dirname, "..", "..");

const CREDENTIALS = [
  ...["superuser", "app", "temporal", "exporter", "backup"].map((role) => `postgres.${role}`),
  "pgbouncer.stats",
  "dragonfly.password",
  ...["root", "app", "backups", "loki", "tempo"].map((user) => `objectStore.${user}`),
  "grafana.admin",
];

/** `pulumi config set --secret --path` values: 16+ URL-safe characters, one per credential. */
const secrets = Object.fromEntries(
  CREDENTIALS.map((key) => [
    `k3s-platform:credentials.${key}`,
    `Engine${key.replace(/\W/g, "")}0123456789abcdef`,
  ]),
);

/** Config overrides: the cluster, and a given app image in place of a docker build. */
function overrides(stackName: string, kubeconfig: string): Record<string, unknown> {
  const file = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stackName}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  const result: Record<string, unknown> = { "k3s-platform:kubernetes": { kubeconfig } };
  const app = file.config["k3s-platform:app"] as Record<string, unknown> | undefined;
  if (app?.build !== undefined) {
    const { build, ...rest } = app;
    const repository = (build as { repository: string }).repository;
    result["k3s-platform:app"] = { ...rest, image: `${repository}@sha256:${"0".repeat(64)}` };
  }
  return result;
}

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
    stack = await createStack(
      stackName,
      `Pulumi.${stackName}.yaml`,
      overrides(stackName, path.join(cluster.dir, "admin.kubeconfig")),
      { secrets, binaries: engine },
    );
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
