import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { ESLint } from "eslint";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The import direction is held by lint (eslint.config.mjs): each case lints one import as if it
 * were written in a file of the repository, with the project's own config, and expects the
 * boundary rule to refuse it (or to let it through).
 */

const REPOSITORY_ROOT = path.resolve(__dirname, "..", "..", "..");
const eslint = new ESLint({ cwd: REPOSITORY_ROOT });

/** The rule ids ESLint reports for `source` placed at `file` (relative to the repository). */
async function importFindings(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport const used = imported;\n`, {
    filePath: path.join(REPOSITORY_ROOT, file),
  });
  return result.messages.map((message) => message.ruleId ?? message.message);
}

const BOUNDARY = "import-x/no-restricted-paths";
const CORE_PACKAGES = "@typescript-eslint/no-restricted-imports";

describe("imports point one way: entry → platform → components → core → the shared model", () => {
  it.each([
    ["core/scratch.ts", 'import { Dragonfly as imported } from "../components/dragonfly";'],
    ["core/scratch.ts", 'import { loadConfig as imported } from "../config";'],
    ["components/scratch.ts", 'import { loadConfig as imported } from "../config";'],
    ["components/scratch.ts", 'import { schema as imported } from "../stack-config/schema";'],
    ["components/scratch.ts", 'import { Platform as imported } from "../platform/platform";'],
    [
      "components/lib/scratch.ts",
      'import { renderStack as imported } from "../../tools/lib/engine";',
    ],
    ["platform/scratch.ts", 'import { renderStack as imported } from "../tools/lib/engine";'],
    ["index.ts", 'import { POLICIES as imported } from "./policy/catalogue";'],
    ["config.ts", 'import { readStackConfig as imported } from "./tools/lib/stack-file";'],
    [
      "policy/rules/scratch.ts",
      'import { Postgres as imported } from "../../components/postgres";',
    ],
    [
      "policy/rules/scratch.ts",
      'import { renderStack as imported } from "../../tools/lib/engine";',
    ],
    ["policy/rules/scratch.ts", 'import { parseConfig as imported } from "../../config";'],
    ["policy/rules/scratch.ts", 'import { IMAGES as imported } from "../../core/images";'],
    ["core/scratch.ts", 'import { POLICIES as imported } from "../policy/catalogue";'],
    ["components/scratch.ts", 'import { toKubeObject as imported } from "../policy/lib/k8s";'],
    ["policy/model/scratch.ts", 'import { IMAGES as imported } from "../../core/images";'],
    ["policy/model/scratch.ts", 'import { validateKube as imported } from "../lib/rule";'],
  ])("%s may not: %s", async (file, source) => {
    expect(await importFindings(file, source)).toContain(BOUNDARY);
  });

  it.each([
    ["components/scratch.ts", 'import { labelsFor as imported } from "../policy/model/labels";'],
    ["core/scratch.ts", 'import { parseCidr as imported } from "../policy/model/cidr";'],
    ["platform/scratch.ts", 'import { Dragonfly as imported } from "../components/dragonfly";'],
    ["policy/rules/scratch.ts", 'import { REDACTED as imported } from "../model/render-model";'],
    ["tools/scratch.ts", 'import { parseConfig as imported } from "../config";'],
  ])("%s may: %s", async (file, source) => {
    expect(await importFindings(file, source)).not.toContain(BOUNDARY);
  });

  it("the core creates no resources: no Kubernetes, random or Docker provider", async () => {
    for (const name of ["@pulumi/kubernetes", "@pulumi/random", "@pulumi/docker"]) {
      const findings = await importFindings(
        "core/scratch.ts",
        `import * as imported from "${name}";`,
      );
      expect(findings, name).toContain(CORE_PACKAGES);
    }
  });

  it("the core may use Pulumi's SDK for types only", async () => {
    const typeOnly = 'import type { Output as imported } from "@pulumi/pulumi";';
    expect(await importFindings("core/scratch.ts", typeOnly)).not.toContain(CORE_PACKAGES);
    const runtime = 'import { output as imported } from "@pulumi/pulumi";';
    expect(await importFindings("core/scratch.ts", runtime)).toContain(CORE_PACKAGES);
  });

  it("the repository as it stands has no upward import", async () => {
    const results = await eslint.lintFiles([
      "core",
      "components",
      "platform",
      "policy",
      "config.ts",
      "index.ts",
      "stack-config",
    ]);
    const crossings = results.flatMap((result) =>
      result.messages
        .filter((message) => message.ruleId === BOUNDARY || message.ruleId === CORE_PACKAGES)
        .map((message) => `${path.relative(REPOSITORY_ROOT, result.filePath)}: ${message.message}`),
    );
    expect(crossings).toEqual([]);
  });
});

describe("validating a stack file is light", () => {
  it("parsing and checking the dev stack's config loads no part of @pulumi/kubernetes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "config-load-"));
    try {
      const script = path.join(dir, "load.ts");
      fs.writeFileSync(
        script,
        [
          `import { parseConfig } from ${JSON.stringify(path.join(REPOSITORY_ROOT, "config"))};`,
          `import { readStackConfig } from ${JSON.stringify(path.join(REPOSITORY_ROOT, "tools", "lib", "stack-file"))};`,
          `const { values, secretKeys } = readStackConfig(${JSON.stringify(path.join(REPOSITORY_ROOT, "Pulumi.dev.yaml"))});`,
          "parseConfig(values, secretKeys);",
          'console.log(Object.keys(require.cache).filter((file) => file.includes("@pulumi/kubernetes")).length);',
        ].join("\n"),
      );
      const tsx = path.join(REPOSITORY_ROOT, "node_modules", "tsx", "dist", "cli.mjs");
      const result = spawnSync(process.execPath, [tsx, script], {
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(result.stderr).toBe("");
      expect(result.stdout.trim()).toBe("0");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
