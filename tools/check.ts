import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, parseConfig } from "../config";
import type { Profile } from "../policy/model/profile";
import type { ImageLock } from "../policy/model/image-lock";
import {
  renderedProfile,
  runPolicyPack,
  type EnforcementOverride,
  type PolicyViolation,
} from "../policy/run";
import { readEnforcement } from "../policy/levels";
import { validateMigrationDir } from "../core/atlas-sum";
import { validateSchemas } from "./lib/checks/schema";
import { secretLeaks } from "./lib/checks/secrets";
import { parseCommandLine, runTool, stackName, usage, UsageError } from "./lib/cli";
import { renderStack, REPOSITORY_ROOT } from "./lib/engine";
import { manifestFiles } from "./lib/manifests";
import { readStackConfig, stackFilePath } from "./lib/stack-file";

/**
 * `npm run check -- <stack> [--stack-file <file>]`: config validation, then the rendered stack
 * against the Kubernetes schemas, the policy pack (per-resource and whole-stack rules), the
 * migration directory's `atlas.sum`, and a leak scan. Prints a report; exits 1 on any mandatory
 * finding. Writes nothing.
 */

interface Section {
  title: string;
  failures: string[];
  notes: string[];
  summary: string;
}

runTool(async () => {
  const { positional, options } = parseCommandLine(process.argv.slice(2));
  const stack = stackName(positional[0] ?? usage("npm run check -- <stack> [--stack-file <file>]"));
  const stackFile = options["stack-file"] ?? stackFilePath(REPOSITORY_ROOT, stack);

  const { section: config, profile, imageLock } = configSection(stackFile);
  if (!profile) return report(stack, [config]);

  const result = await renderStack({ stack, stackFile });
  const files = manifestFiles(result.resources);
  const judgedAs = renderedProfile(result.resources);
  const sections = [
    config,
    await schemaSection(files),
    policySection(
      // Judged by the lock the stack pinned its images with (`imagesLock`, else the pack's).
      await runPolicyPack(result.resources, {
        enforcement: policyEnforcement(judgedAs),
        imageLock,
      }),
      judgedAs,
    ),
    migrationsSection(),
    leakSection(secretLeaks(result.resources, result.secretValues)),
  ];
  return report(stack, sections);
});

/**
 * Enforcement levels from `policy/config/<profile>.json` when there is one, the file
 * `pulumi preview --policy-pack policy --policy-pack-config` reads too, so the engine-less check
 * and the real preview agree. Chosen by the profile the render declares, never by the stack's name.
 */
function policyEnforcement(profile: Profile): Record<string, EnforcementOverride> {
  const file = path.join(REPOSITORY_ROOT, "policy", "config", `${profile}.json`);
  return fs.existsSync(file) ? readEnforcement(file) : {};
}

/** The config on its own first: with a bad config nothing else is worth running. */
function configSection(stackFile: string): {
  section: Section;
  profile?: Profile;
  imageLock?: ImageLock;
} {
  const title = "config";
  try {
    // With the stack's secret keys, as the engine and `render` pass them: a `secure:` value is
    // what a secret key must be, not a plain-text leak.
    const { values, secretKeys } = readStackConfig(stackFile);
    const { profile, imageLock } = parseConfig(values, secretKeys);
    const summary = `${path.basename(stackFile)} is valid (profile ${profile})`;
    return { section: { title, failures: [], notes: [], summary }, profile, imageLock };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const failures =
      error instanceof ConfigError
        ? error.issues.map((issue) => `${issue.key}: ${issue.message}`)
        : [(error as Error).message];
    return {
      section: { title, failures, notes: [], summary: `${path.basename(stackFile)} is invalid` },
    };
  }
}

async function schemaSection(files: ReturnType<typeof manifestFiles>): Promise<Section> {
  const findings = await validateSchemas(files);
  return {
    title: "schema",
    failures: findings.flatMap((finding) =>
      finding.errors.map((error) => `${finding.object} (${finding.file}): ${error}`),
    ),
    notes: [],
    summary: `${files.length - findings.length} of ${files.length} manifests valid`,
  };
}

function policySection(violations: PolicyViolation[], profile: Profile): Section {
  const line = (violation: PolicyViolation) => `[${violation.policy}] ${violation.message}`;
  const mandatory = violations.filter((violation) => violation.level === "mandatory");
  const advisory = violations.filter((violation) => violation.level === "advisory");
  return {
    title: "policy",
    failures: mandatory.map(line),
    notes: advisory.map(line),
    summary: `${mandatory.length} mandatory, ${advisory.length} advisory (judged as ${profile})`,
  };
}

function migrationsSection(): Section {
  const dir = path.join(REPOSITORY_ROOT, "atlas", "migrations");
  const { findings } = validateMigrationDir(dir);
  return {
    title: "migrations",
    failures: findings,
    notes: [],
    summary:
      findings.length === 0 ? "atlas.sum matches atlas/migrations" : "atlas.sum does not match",
  };
}

function leakSection(findings: string[]): Section {
  return {
    title: "secrets",
    failures: findings,
    notes: [],
    summary: findings.length === 0 ? "no secret value in any manifest" : "secrets in plain text",
  };
}

function report(stack: string, sections: Section[]): number {
  console.log(`check ${stack}`);
  for (const section of sections) {
    const mark = section.failures.length > 0 ? "FAIL" : "ok";
    console.log(`  ${section.title.padEnd(11, ".")} ${mark.padEnd(5)}${section.summary}`);
    for (const failure of section.failures) console.log(`      ✗ ${failure}`);
    for (const note of section.notes) console.log(`      · ${note}`);
  }
  const failures = sections.reduce((count, section) => count + section.failures.length, 0);
  console.log(failures === 0 ? `check ${stack}: passed` : `check ${stack}: ${failures} finding(s)`);
  return failures === 0 ? 0 : 1;
}
