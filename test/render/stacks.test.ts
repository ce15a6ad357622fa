import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { runTool } from "./lib";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-test-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe.each(["dev", "prod"])("the %s stack", (stack) => {
  const out = path.join(scratch, stack);

  it("renders one manifest per object and a plan of every resource", () => {
    const result = runTool("render", [stack, "--out", out]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const manifests = fs.readdirSync(path.join(out, "manifests"));
    expect(manifests).toContain("namespace-platform.yaml");
    for (const file of manifests) {
      const { kind, metadata } = parse(fs.readFileSync(path.join(out, "manifests", file), "utf8"));
      // Objects sharing a kind and name (in two namespaces) get the namespace in their file name.
      expect([
        `${kind.toLowerCase()}-${metadata.name}.yaml`,
        `${kind.toLowerCase()}-${metadata.namespace}-${metadata.name}.yaml`,
      ]).toContain(file);
    }
    const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8"));
    const urns = new Set(plan.resources.map((resource: { urn: string }) => resource.urn));
    for (const resource of plan.resources) {
      if (resource.parent) expect(urns.has(resource.parent)).toBe(true);
      for (const dependency of resource.dependencies) expect(urns.has(dependency)).toBe(true);
    }
  });

  it("writes no secret value anywhere", () => {
    for (const file of filesUnder(out)) {
      expect(fs.readFileSync(file, "utf8"), file).not.toContain(MOCK_SECRET_PREFIX);
    }
  });

  it("passes check", () => {
    const result = runTool("check", [stack]);
    expect(result.stdout).toContain(`check ${stack}: passed`);
    expect(result.status).toBe(0);
  });

  it("diffs against its own render as no changes", () => {
    const result = runTool("diff", [out, stack]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`${stack}: no changes`);
  });
});

describe("a bad stack file", () => {
  const stackFile = path.join(scratch, "Pulumi.broken.yaml");
  const out = path.join(scratch, "broken");
  fs.writeFileSync(
    stackFile,
    [
      "config:",
      "  k3s-platform:profile: dev",
      "  k3s-platform:postgres:",
      "    storageSiz: 5Gi",
      "  k3s-platform:pgbouncer:",
      "    replicas: two",
      "  k3s-platform:dragonfly:",
      "    storageSize: -1Gi",
      "",
    ].join("\n"),
  );

  it("fails render with every key path and writes nothing", () => {
    const result = runTool("render", ["broken", "--stack-file", stackFile, "--out", out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'k3s-platform:postgres.storageSiz: is not a known key; did you mean "storageSize"?',
    );
    expect(result.stderr).toContain("k3s-platform:pgbouncer.replicas: must be a number");
    expect(result.stderr).toContain("k3s-platform:dragonfly.storageSize: must be a non-negative");
    expect(fs.existsSync(out)).toBe(false);
  });

  it("fails check with the same findings", () => {
    const result = runTool("check", ["broken", "--stack-file", stackFile]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("k3s-platform:postgres.storageSiz");
  });

  it("an impossible combination fails too, before anything renders", () => {
    const impossible = path.join(scratch, "Pulumi.impossible.yaml");
    fs.writeFileSync(
      impossible,
      "config:\n  k3s-platform:profile: dev\n  k3s-platform:pgbouncer:\n    defaultPoolSize: 200\n",
    );
    const result = runTool("render", ["impossible", "--stack-file", impossible, "--out", out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("k3s-platform:pgbouncer.defaultPoolSize");
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe.each(["dev", "prod"])("the %s stack's outputs", (stack) => {
  const out = path.join(scratch, `${stack}-outputs`);

  it("are exactly the documented ones, the secret ones redacted", async () => {
    const { exportedOutputs } = await import("../../platform/outputs");
    expect(runTool("render", [stack, "--out", out]).status).toBe(0);
    const outputs = JSON.parse(fs.readFileSync(path.join(out, "outputs.json"), "utf8"));
    // The shipped dev stack names no app image, so its app is off; prod builds one.
    const expected = exportedOutputs(stack === "prod");
    expect(Object.keys(outputs).sort()).toEqual(expected.map(({ name }) => name).sort());
    for (const { name, secret } of expected) {
      if (secret) expect(outputs[name], name).toBe("[secret]");
      else expect(outputs[name], name).toEqual(expect.stringMatching(/\S/));
    }
    if (stack === "prod") expect(outputs.appUrl).toMatch(/^https:\/\/app\./);
    expect(outputs.otlpEndpoint).toMatch(/:4318$/);
    expect(outputs.temporalAddress).toMatch(/:7233$/);
  });
});
