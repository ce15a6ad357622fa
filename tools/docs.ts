import * as fs from "node:fs";
import * as path from "node:path";
import { runTool } from "./lib/cli";
import { REPOSITORY_ROOT } from "./lib/engine";
import { withGeneratedSections } from "./lib/readme-sections";

/** `npm run docs`: regenerates the README's config reference and app environment contract. */
runTool(async () => {
  const readme = path.join(REPOSITORY_ROOT, "README.md");
  fs.writeFileSync(readme, withGeneratedSections(fs.readFileSync(readme, "utf8")));
  console.log("README.md: generated sections rewritten");
  return 0;
});
