import * as fs from "node:fs";
import * as path from "node:path";
import { parseCommandLine, runTool, stackName, usage } from "./lib/cli";
import { renderStack, REPOSITORY_ROOT } from "./lib/engine";
import { componentGraph, mermaidGraph } from "./lib/graph";

/**
 * `npm run graph -- <stack> [--out <file>]`: the component tree and rollout order as Mermaid
 * (`out/<stack>/graph.mmd` by default, and `components.mmd` beside it: one node per component, as
 * the README shows it), which GitHub draws inline in Markdown. No SVG: every npm renderer of
 * Mermaid drives a headless browser it downloads, which this toolchain cannot fetch.
 */
runTool(async () => {
  const { positional, options } = parseCommandLine(process.argv.slice(2));
  const stack = stackName(positional[0] ?? usage("npm run graph -- <stack> [--out <file>]"));
  const result = await renderStack({ stack });
  const out = path.resolve(options.out ?? path.join(REPOSITORY_ROOT, "out", stack, "graph.mmd"));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const graph = mermaidGraph(result.resources);
  fs.writeFileSync(out, graph);
  const components = componentGraph(result.resources);
  fs.writeFileSync(path.join(path.dirname(out), "components.mmd"), components);
  console.log(components);
  console.log(`written to ${path.relative(process.cwd(), out)}`);
  return 0;
});
