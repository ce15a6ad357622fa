import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, runTool } from "./lib";

/**
 * The tools take user input (a stack name, an output directory, a stack file) and must never
 * turn it into a path outside what they own, delete what they did not write, or answer bad input
 * with a stack trace.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tool-safety-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A directory with a file in it that must survive. */
function precious(name: string): { dir: string; file: string } {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "keep-me.txt");
  fs.writeFileSync(file, "not a render\n");
  return { dir, file };
}

describe("the engine-less tools and user input", () => {
  it.each(["render", "check", "graph"])(
    "%s refuses a stack name that is a path, deleting nothing",
    (tool) => {
      const { dir, file } = precious(`victim-${tool}`);
      const relative = path.relative(ROOT, dir);
      const result = runTool(tool, [relative, "--stack-file", path.join(ROOT, "Pulumi.dev.yaml")]);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/is not a stack name/);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(fs.existsSync(file)).toBe(true);
    },
  );

  it("render refuses an --out that holds something other than a render, and keeps it", () => {
    const { dir, file } = precious("not-a-render");
    const result = runTool("render", ["dev", "--out", dir]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/refusing to write into a directory .* no plan\.json/);
    expect(fs.readdirSync(dir)).toEqual(["keep-me.txt"]);
    expect(fs.existsSync(file)).toBe(true);
  });

  it("render refuses --out . (the repository) without touching it", () => {
    const before = fs.readdirSync(ROOT).sort();
    const result = runTool("render", ["dev", "--out", "."]);
    expect(result.status).toBe(2);
    expect(fs.readdirSync(ROOT).sort()).toEqual(before);
  });

  it("render replaces a previous render, keeping files it did not write there", () => {
    const out = path.join(scratch, "render");
    expect(runTool("render", ["dev", "--out", out]).status).toBe(0);
    fs.writeFileSync(path.join(out, "graph.mmd"), "flowchart LR\n");
    fs.writeFileSync(path.join(out, "manifests", "stale.yaml"), "kind: Stale\n");
    expect(runTool("render", ["dev", "--out", out]).status).toBe(0);
    expect(fs.existsSync(path.join(out, "graph.mmd"))).toBe(true);
    expect(fs.existsSync(path.join(out, "manifests", "stale.yaml"))).toBe(false);
    expect(fs.existsSync(path.join(out, "plan.json"))).toBe(true);
  });

  it.each([
    ["a missing stack file", null, 2, /no such stack file/],
    ["a YAML syntax error", "config:\n  k3s-platform:profile: [dev\n", 1, /not valid YAML/],
    ["config given as a list", "config:\n  - k3s-platform:profile: dev\n", 1, /must be a mapping/],
  ])("render and check answer %s with one line, no stack trace", (_, text, status, message) => {
    const file = path.join(scratch, `Pulumi.${status}-${String(text?.length)}.yaml`);
    if (text !== null) fs.writeFileSync(file, text);
    for (const tool of ["render", "check"]) {
      const result = runTool(tool, ["dev", "--stack-file", file, "--out", path.join(scratch, "x")]);
      expect(result.status, tool).toBe(status);
      expect(result.stderr + result.stdout, tool).toMatch(message);
      expect(result.stderr, tool).not.toMatch(/\n\s+at /);
    }
  });
});
