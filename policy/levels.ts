import * as fs from "node:fs";
import type { EnforcementOverride } from "./run";

/*
 * Per-rule levels in the file `pulumi preview --policy-pack-config` reads
 * (`{ "<rule>": { "enforcementLevel": "advisory" } }`), read the same way by the engine-less runs.
 */

const LEVELS: readonly EnforcementOverride[] = ["mandatory", "advisory", "disabled"];

/** The enforcement overrides in `file`; a rule with another setting only keeps its level. */
export function readEnforcement(file: string): Record<string, EnforcementOverride> {
  const settings: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    throw new Error(`${file}: expected an object of rule settings`);
  }
  const overrides: Record<string, EnforcementOverride> = {};
  for (const [rule, setting] of Object.entries(settings)) {
    const level = (setting as { enforcementLevel?: unknown } | null)?.enforcementLevel;
    if (level === undefined) continue;
    if (!LEVELS.includes(level as EnforcementOverride)) {
      throw new Error(
        `${file}: ${rule}.enforcementLevel is ${JSON.stringify(level)}; use one of ` +
          LEVELS.join(", "),
      );
    }
    overrides[rule] = level as EnforcementOverride;
  }
  return overrides;
}
