import * as fs from "node:fs";
import * as path from "node:path";
import { runTool } from "./lib/cli";
import { configReference } from "./lib/config-reference";
import { REPOSITORY_ROOT } from "./lib/engine";

/** `npm run docs`: regenerates the README's config reference from the schema and defaults. */

export const START = "<!-- config-reference:start -->";
export const END = "<!-- config-reference:end -->";

runTool(async () => {
  const readme = path.join(REPOSITORY_ROOT, "README.md");
  const text = fs.readFileSync(readme, "utf8");
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  const updated = `${text.slice(0, start + START.length)}\n${configReference()}\n${text.slice(end)}`;
  fs.writeFileSync(readme, updated);
  console.log("README.md: config reference regenerated");
  return 0;
});
