import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { withGeneratedSections } from "../../tools/lib/readme-sections";

const readme = fs.readFileSync(path.resolve(__dirname, "..", "..", "README.md"), "utf8");

describe("README", () => {
  it("documents every config key and the app environment exactly as the code has them", () => {
    // If this fails, run `npm run docs` and commit the README.
    expect(readme).toBe(withGeneratedSections(readme));
  });

  it("quick start shows exactly the two set-up commands the project runs", () => {
    expect(readme).toContain("npm ci && npm run render -- dev && npm run check -- dev");
    expect(readme).toContain("bash tools/test-all.sh");
    expect(fs.readFileSync(path.resolve(__dirname, "..", "..", ".ci", "run"), "utf8")).toContain(
      "tools/test-all.sh",
    );
  });
});
