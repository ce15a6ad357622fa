import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { MOCK_SECRET_PREFIX } from "./mocks";

/** A stack's config as the Pulumi engine would hand it to the program, plus which keys are secret. */
export interface StackConfig {
  /** Config values keyed `namespace:key`, structured values as JSON text (as the engine does). */
  values: Record<string, string>;
  /** Keys whose values are secret. */
  secretKeys: string[];
}

/** The stack file of a stack: `Pulumi.<stack>.yaml` in the project directory. */
export function stackFilePath(projectDir: string, stack: string): string {
  return path.join(projectDir, `Pulumi.${stack}.yaml`);
}

/**
 * Reads a stack file. Values marked `secure:` hold ciphertext only the engine can decrypt; here
 * they become recognisable mock secrets, which the renderer redacts like any other secret.
 */
export function readStackConfig(file: string): StackConfig {
  if (!fs.existsSync(file)) {
    throw new Error(
      `${file}: no such stack file; create it with at least "config: {k3s-platform:profile: dev}"`,
    );
  }
  let document: unknown;
  try {
    document = parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: not valid YAML: ${(error as Error).message}`);
  }
  const config = (document as { config?: unknown } | null)?.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error(`${file}: "config" must be a mapping of keys to values`);
  }
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (isSecure(value)) {
      values[key] = `${MOCK_SECRET_PREFIX}config-${key.replace(/[^A-Za-z0-9]+/g, "-")}`;
      secretKeys.push(key);
    } else {
      values[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return { values, secretKeys };
}

function isSecure(value: unknown): boolean {
  return typeof value === "object" && value !== null && "secure" in value;
}
