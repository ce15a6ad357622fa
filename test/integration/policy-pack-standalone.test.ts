import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROFILE_LABEL } from "../../policy/model/profile";

/**
 * The policy pack as an organisation would take it: `policy/` copied alone into an empty
 * directory, its own `npm ci` and type check there, and its entry point run on the renders
 * `npm run render` writes. It must find exactly what `npm run check` finds, rule by rule; and a
 * render whose namespace declares no profile must be judged by prod's rules.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "policy-pack-alone-"));
const pack = path.join(work, "pack");

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function succeed(command: string, args: string[], cwd: string): string {
  const { status, output } = run(command, args, cwd);
  if (status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${status}:\n${output}`);
  return output;
}

/** `✗ [rule] message` / `· [rule] message` lines: the pack's output and check's policy section. */
function findingLines(output: string): string[] {
  return [...output.matchAll(/^\s*([✗·]) \[([\w-]+)\] (.*)$/gm)]
    .map(([, mark, rule, message]) => `${mark} [${rule}] ${message.trim()}`)
    .sort();
}

/** The pack's own run on a render, as a reviewer runs it in the copied directory. */
function packRun(renderDir: string, config?: string) {
  const args = [
    "run",
    "--silent",
    "check",
    "--",
    renderDir,
    ...(config ? ["--config", config] : []),
  ];
  return run("npm", args, pack);
}

beforeAll(() => {
  fs.cpSync(path.join(ROOT, "policy"), pack, {
    recursive: true,
    filter: (source) => path.basename(source) !== "node_modules",
  });
  const started = Date.now();
  succeed("npm", ["ci", "--no-audit", "--no-fund"], pack);
  console.log(`[policy pack alone] npm ci in the copy: ${Date.now() - started} ms`);
}, 600_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe("the policy pack copied alone into an empty directory", () => {
  it("type-checks with only its own package.json and lockfile", () => {
    succeed("npm", ["run", "--silent", "typecheck"], pack);
  }, 120_000);

  it.each(["dev", "prod"])(
    "finds on the %s render exactly what npm run check finds",
    (stack) => {
      const renderDir = path.join(work, `render-${stack}`);
      succeed("npx", ["tsx", "tools/render.ts", stack, "--out", renderDir], ROOT);
      const levels = path.join(pack, "config", `${stack}.json`);
      const alone = packRun(renderDir, fs.existsSync(levels) ? levels : undefined);
      const check = run("npx", ["tsx", "tools/check.ts", stack], ROOT);
      expect(check.status, check.output).toBe(0);
      expect(alone.status, alone.output).toBe(0);
      expect(alone.output).toContain(`(judged as ${stack})`);
      const packLines = findingLines(alone.output);
      const policySection = check.output.slice(check.output.indexOf("policy....."));
      const checkLines = findingLines(policySection.slice(0, policySection.indexOf("migrations.")));
      console.log(`[policy pack alone] ${stack}: ${packLines.length} findings on both sides`);
      expect(packLines).toEqual(checkLines);
      // prod's tag-only images are advisory findings there, so the comparison is not empty.
      if (stack === "prod") expect(packLines.length).toBeGreaterThan(0);
    },
    600_000,
  );

  it("judges a render whose namespace declares no profile by prod's rules", () => {
    const renderDir = path.join(work, "render-dev-unlabelled");
    fs.cpSync(path.join(work, "render-dev"), renderDir, { recursive: true });
    const namespaceFile = path.join(renderDir, "manifests", "namespace-platform.yaml");
    const labelled = fs.readFileSync(namespaceFile, "utf8");
    const unlabelled = labelled.replace(new RegExp(`^\\s+${PROFILE_LABEL}: .*\\n`, "m"), "");
    expect(unlabelled).not.toBe(labelled);
    fs.writeFileSync(namespaceFile, unlabelled);
    const judged = packRun(renderDir);
    expect(judged.output).toContain("(judged as prod)");
    expect(findingLines(judged.output).join("\n")).toContain("[image-digest-prod]");
    expect(judged.status).toBe(1);
  }, 120_000);
});
