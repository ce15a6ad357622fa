import { spawnSync } from "node:child_process";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");

/** Runs one of the engine-less tools in its own process, as a user would. */
export function runTool(
  tool: string,
  args: string[],
): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    [
      path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"),
      path.join(ROOT, "tools", `${tool}.ts`),
      ...args,
    ],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000 },
  );
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
