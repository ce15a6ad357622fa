import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ROOT, runTool } from "./lib";

/**
 * The bucket Job of a rendered stack sets each consumer's quota at the configured size, in bytes,
 * after creating the bucket. What MinIO does with `mc quota set` is MinIO's: no MinIO server runs
 * here (its server and `mc` are AGPL), so this proves the commands the Job runs, not their effect.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-quotas-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const GiB = 2 ** 30;

/** The shell script of the rendered bucket Job's one container. */
function bucketScript(out: string): string {
  const dir = path.join(out, "manifests");
  const [file] = fs.readdirSync(dir).filter((name) => name.startsWith("job-object-store-buckets-"));
  expect(file, "the render has a bucket Job").toBeDefined();
  const job = parse(fs.readFileSync(path.join(dir, file), "utf8")) as {
    spec: { template: { spec: { containers: { command: string[] }[] } } };
  };
  return job.spec.template.spec.containers[0].command[2];
}

/** The `mc mb` and `mc quota` lines of a script, in order. */
const bucketLines = (script: string) =>
  script.split("\n").filter((line) => /^mc (mb|quota) /.test(line));

/** Renders a shipped stack with `objectStore` keys merged over its own. */
function render(stack: "dev" | "prod", objectStore: Record<string, unknown> = {}): string {
  const document = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  const key = "k3s-platform:objectStore";
  document.config[key] = { ...document.config[key], ...objectStore };
  const name = `${stack}-${Object.keys(objectStore).length}`;
  const stackFile = path.join(scratch, `Pulumi.${name}.yaml`);
  fs.writeFileSync(stackFile, stringify(document));
  const out = path.join(scratch, "out", name);
  const result = runTool("render", [stack, "--stack-file", stackFile, "--out", out]);
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  return bucketScript(out);
}

describe("bucket quotas in the render", () => {
  it("dev limits the app's and the backups' buckets, the only ones it has", () => {
    expect(bucketLines(render("dev"))).toEqual([
      "mc mb --ignore-existing store/app",
      "mc mb --ignore-existing store/backups",
      `mc quota set store/app --size ${4 * GiB}`,
      `mc quota set store/backups --size ${2 * GiB}`,
    ]);
  });

  it("prod limits all four, together the volume's 100Gi", () => {
    const lines = bucketLines(render("prod"));
    expect(lines.filter((line) => line.startsWith("mc quota "))).toEqual([
      `mc quota set store/app --size ${30 * GiB}`,
      `mc quota set store/backups --size ${40 * GiB}`,
      `mc quota set store/loki --size ${15 * GiB}`,
      `mc quota set store/tempo --size ${15 * GiB}`,
    ]);
  });

  it("a stack's own quotas and bucket names reach the Job", () => {
    const script = render("prod", {
      storageSize: "200Gi",
      buckets: { app: "uploads", backups: "pg-dumps", loki: "logs", tempo: "traces" },
      quotas: { app: "100Gi", backups: "1536Mi", loki: "20Gi", tempo: "10Gi" },
    });
    expect(bucketLines(script).filter((line) => line.startsWith("mc quota "))).toEqual([
      `mc quota set store/uploads --size ${100 * GiB}`,
      `mc quota set store/pg-dumps --size ${1.5 * GiB}`,
      `mc quota set store/logs --size ${20 * GiB}`,
      `mc quota set store/traces --size ${10 * GiB}`,
    ]);
    expect(script).toContain("# pg-dumps: at most 1536Mi\n");
  });
});
