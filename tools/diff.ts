import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { parseCommandLine, runTool, stackName, usage } from "./lib/cli";
import { renderStack, REPOSITORY_ROOT } from "./lib/engine";
import { manifestFiles } from "./lib/manifests";
import { diffRenders, formatDiff } from "./lib/render-diff";
import type { Manifest } from "../policy/model/render-model";

/**
 * `npm run diff -- <base> <stack> [--out <file>]`: what would change on the cluster, object by
 * object, between a base (a render directory, or a git ref that is rendered here) and the current
 * tree. Changes Kubernetes cannot apply in place are REPLACE, stateful ones with a loud warning.
 * Needs no credentials, so it works on fork pull requests.
 */
runTool(async () => {
  const { positional, options } = parseCommandLine(process.argv.slice(2));
  if (positional.length < 2)
    usage("npm run diff -- <base-render-dir|git-ref> <stack> [--out <file>]");
  const [base, stackArgument] = positional;
  const stack = stackName(stackArgument);
  const before = fs.existsSync(base) ? readRenderDir(base) : renderGitRef(base, stack);
  const current = await renderStack({ stack });
  const after = manifestFiles(current.resources).map(({ manifest }) => manifest);
  const text = formatDiff(stack, diffRenders(before, after));
  if (options.out) fs.writeFileSync(options.out, text);
  console.log(text);
  return 0;
});

/** Manifests of a render directory (`out/<stack>` or its `manifests/`). */
function readRenderDir(dir: string): Manifest[] {
  const manifestsDir = fs.existsSync(path.join(dir, "manifests"))
    ? path.join(dir, "manifests")
    : dir;
  return fs
    .readdirSync(manifestsDir)
    .filter((file) => file.endsWith(".yaml"))
    .map((file) => parse(fs.readFileSync(path.join(manifestsDir, file), "utf8")) as Manifest);
}

/** Renders the stack as it was at a git ref, in a throwaway worktree that shares node_modules. */
function renderGitRef(ref: string, stack: string): Manifest[] {
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: REPOSITORY_ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  try {
    git("rev-parse", "--verify", `${ref}^{commit}`);
  } catch {
    throw new Error(`base "${ref}" is neither a render directory nor a git ref of this repository`);
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "diff-base-"));
  const worktree = path.join(scratch, "tree");
  git("worktree", "add", "--detach", worktree, ref);
  try {
    fs.symlinkSync(path.join(REPOSITORY_ROOT, "node_modules"), path.join(worktree, "node_modules"));
    if (!fs.existsSync(path.join(worktree, "tools", "render.ts"))) {
      throw new Error(`${ref} has no tools/render.ts: render it by hand and pass the directory`);
    }
    const out = path.join(scratch, "render");
    execFileSync(
      process.execPath,
      [
        path.join(REPOSITORY_ROOT, "node_modules", "tsx", "dist", "cli.mjs"),
        "tools/render.ts",
        stack,
        "--out",
        out,
      ],
      {
        cwd: worktree,
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    return readRenderDir(out);
  } finally {
    git("worktree", "remove", "--force", worktree);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
