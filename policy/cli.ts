import { parseArgs } from "node:util";
import { readEnforcement } from "./levels";
import { readRender } from "./render-reader";
import { renderedProfile, runPolicyPack, type PolicyViolation } from "./run";

/*
 * The pack on its own, on a render written by `npm run render`:
 *   npx tsx cli.ts <render-dir> [--config <levels.json>]
 * prints one line per finding (`✗` mandatory, `·` advisory, as `npm run check` does) and exits 1
 * on any mandatory finding. It needs nothing outside this directory, so a reviewer or an
 * organisation can run the published pack against any render.
 */

const USAGE = "usage: tsx cli.ts <render-dir> [--config <policy-pack-config.json>]";

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: "string" } },
  });
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const resources = readRender(positionals[0]);
  const enforcement = values.config === undefined ? {} : readEnforcement(values.config);
  const violations = await runPolicyPack(resources, { enforcement });
  for (const violation of violations) console.log(findingLine(violation));
  const mandatory = violations.filter((violation) => violation.level === "mandatory").length;
  console.log(
    `policy: ${mandatory} mandatory, ${violations.length - mandatory} advisory ` +
      `(judged as ${renderedProfile(resources)})`,
  );
  return mandatory > 0 ? 1 : 0;
}

/** A finding as `npm run check` prints it. */
function findingLine(violation: PolicyViolation): string {
  const mark = violation.level === "mandatory" ? "✗" : "·";
  return `${mark} [${violation.policy}] ${violation.message}`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(2);
    },
  );
}
