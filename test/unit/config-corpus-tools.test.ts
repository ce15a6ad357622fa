import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullKey, INVALID_STACKS, rawConfigOf, type InvalidStack } from "./config-corpus";

/**
 * Part of the corpus (the entries marked `tools`) as a user meets it: a stack file given to the
 * real `render` and `check` commands, each in its own process. A bad config fails with status 1,
 * one line per problem and no stack trace, writes nothing, and registers no resource.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "config-corpus-tools-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript entry point with tsx in its own process. */
function run(script: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSX, script, ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

/** Runs the jobs at most `limit` at a time (the machine has two cores). */
async function inBatches<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < jobs.length; start += limit) {
    results.push(...(await Promise.all(jobs.slice(start, start + limit).map((job) => job()))));
  }
  return results;
}

/** The stack file of a corpus entry, as a user would write it. */
function writeStackFile(stack: InvalidStack, index: number): string {
  const config = Object.fromEntries(
    Object.entries(rawConfigOf(stack)).map(([key, value]) => [key, structured(value)]),
  );
  const file = path.join(scratch, `Pulumi.corpus-${index}.yaml`);
  fs.writeFileSync(file, stringify({ config }));
  return file;
}

/** A mapping or list given as JSON text, as the stack file holds it; any other value as text. */
function structured(value: string): unknown {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === "object" && parsed !== null ? parsed : value;
  } catch {
    return value;
  }
}

const CHOSEN = INVALID_STACKS.filter((stack) => stack.tools);

interface Outcome {
  stack: InvalidStack;
  out: string;
  render: Run;
  check: Run;
}

let outcomes: Outcome[] = [];
let started = 0;

beforeAll(async () => {
  started = Date.now();
  const jobs = CHOSEN.map((stack, index) => async (): Promise<Outcome> => {
    const file = writeStackFile(stack, index);
    const out = path.join(scratch, `out-${index}`);
    const render = await run(path.join(ROOT, "tools", "render.ts"), [
      `corpus-${index}`,
      "--stack-file",
      file,
      "--out",
      out,
    ]);
    const check = await run(path.join(ROOT, "tools", "check.ts"), [
      `corpus-${index}`,
      "--stack-file",
      file,
    ]);
    return { stack, out, render, check };
  });
  outcomes = await inBatches(jobs, 3);
  console.log(`${CHOSEN.length} stack files through render and check: ${Date.now() - started} ms`);
}, 600_000);

describe("bad stack files through the real render and check commands", () => {
  it("at least 10 of the corpus go through them", () => {
    expect(CHOSEN.length).toBeGreaterThanOrEqual(10);
  });

  it.each(CHOSEN.map((stack) => [stack.name, stack.key] as const))(
    "%s: render fails at %s, one line per problem, writing nothing",
    (name) => {
      const { stack, out, render } = outcomes.find((outcome) => outcome.stack.name === name)!;
      expect(render.status, render.stderr).toBe(1);
      expect(render.stdout).toBe("");
      expect(fs.existsSync(out)).toBe(false);
      const [header, ...lines] = render.stderr.trimEnd().split("\n");
      const count = Number(/^Invalid stack configuration \((\d+) problems?\):$/.exec(header)?.[1]);
      expect(lines).toHaveLength(count);
      for (const line of lines) expect(line).toMatch(/^ {2}- [\w.-]+:[\w.-]+: \S/);
      const ours = lines.find((line) => line.startsWith(`  - ${fullKey(stack)}: `));
      expect(ours, render.stderr).toBeDefined();
      expect(ours?.slice(`  - ${fullKey(stack)}: `.length)).toMatch(stack.reason);
    },
  );

  it.each(CHOSEN.map((stack) => [stack.name, stack.key] as const))(
    "%s: check fails at %s with the same finding",
    (name) => {
      const { stack, check } = outcomes.find((outcome) => outcome.stack.name === name)!;
      expect(check.status, check.stdout + check.stderr).toBe(1);
      expect(check.stderr).not.toMatch(/\n\s+at /);
      const prefix = `✗ ${fullKey(stack)}: `;
      const finding = check.stdout
        .split("\n")
        .map((line) => line.trim())
        .find((line) => line.startsWith(prefix));
      expect(finding, check.stdout).toBeDefined();
      expect(finding?.slice(prefix.length)).toMatch(stack.reason);
    },
  );
});

describe("a bad config registers no resource", () => {
  it("the program run by renderStack stops before the provider or any component exists", async () => {
    const stack = CHOSEN.find((entry) => entry.name === "zero PgBouncer replicas")!;
    const file = writeStackFile(stack, 999);
    const result = await run(path.join(__dirname, "bad-stack-registrations.ts"), [file]);
    const answer = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as {
      configError: boolean;
      issues: { key: string }[];
      registered: string[];
    };
    expect(answer.configError).toBe(true);
    expect(answer.issues.map(({ key }) => key)).toEqual([fullKey(stack)]);
    // The stack resource is the engine's root, registered before the program runs.
    expect(answer.registered.filter((type) => type !== "pulumi:pulumi:Stack")).toEqual([]);
  });

  it("while the same program with a good stack file registers every resource", async () => {
    const result = await run(path.join(__dirname, "bad-stack-registrations.ts"), [
      path.join(ROOT, "Pulumi.dev.yaml"),
    ]);
    const answer = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as {
      configError: boolean;
      registered: string[];
    };
    expect(answer.configError).toBe(false);
    expect(answer.registered).toContain("pulumi:providers:kubernetes");
    expect(answer.registered.length).toBeGreaterThan(100);
  });
});
