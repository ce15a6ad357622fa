import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { ROOT, runTool } from "./lib";

/**
 * A stack that gives every credential in its config (a team with a vault, or a cluster without
 * the random provider) renders without a single generated password, and none of the given values
 * is written anywhere.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-credentials-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const secure = (label: string) => ({ secure: `v1:ciphertext-of-${label}` });

/** Every credential the platform would otherwise generate, as `pulumi config set --secret --path` writes them. */
const ALL_GIVEN = [
  "  k3s-platform:credentials:",
  "    postgres:",
  ...["superuser", "replication", "app", "app2", "temporal", "exporter", "backup"].map(
    (role) => `      ${role}: ${JSON.stringify(secure(`postgres-${role}`))}`,
  ),
  `    pgbouncer: {stats: ${JSON.stringify(secure("stats"))}}`,
  `    dragonfly: {password: ${JSON.stringify(secure("dragonfly"))}}`,
  "    objectStore:",
  ...["root", "app", "backups", "loki", "tempo"].map(
    (user) => `      ${user}: ${JSON.stringify(secure(`object-store-${user}`))}`,
  ),
  `    grafana: {admin: ${JSON.stringify(secure("grafana"))}}`,
].join("\n");

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe.each(["dev", "prod"])("the %s stack with every credential given", (stack) => {
  const stackFile = path.join(scratch, `Pulumi.${stack}.yaml`);
  const out = path.join(scratch, "out", stack);
  fs.writeFileSync(
    stackFile,
    `${fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8").trimEnd()}\n${ALL_GIVEN}\n`,
  );

  it("registers no generated password", () => {
    const result = runTool("render", [stack, "--stack-file", stackFile, "--out", out]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8"));
    const types = new Set<string>(
      plan.resources.map((resource: { type: string }) => resource.type),
    );
    expect([...types].filter((type) => type.startsWith("random:"))).toEqual([]);
  });

  it("writes none of the given values", () => {
    for (const file of filesUnder(out)) {
      expect(fs.readFileSync(file, "utf8"), file).not.toContain(MOCK_SECRET_PREFIX);
    }
  });

  it("passes check", () => {
    const result = runTool("check", [stack, "--stack-file", stackFile]);
    expect(result.stdout).toContain(`check ${stack}: passed`);
    expect(result.status).toBe(0);
  });
});
