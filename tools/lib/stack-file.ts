import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { InputError, UsageError } from "./cli";
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
    throw new UsageError(
      `${file}: no such stack file; create it with at least "config: {k3s-platform:profile: dev}"`,
    );
  }
  let document: unknown;
  try {
    document = parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new InputError(`${file}: not valid YAML: ${firstLine((error as Error).message)}`);
  }
  const config = (document as { config?: unknown } | null)?.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new InputError(`${file}: "config" must be a mapping of keys to values`);
  }
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const decoded = withMockSecrets(value, [key]);
    if (decoded.secret) secretKeys.push(key);
    values[key] = typeof decoded.value === "string" ? decoded.value : JSON.stringify(decoded.value);
  }
  return { values, secretKeys };
}

/**
 * The value with every `secure:` leaf (top-level, or nested as `pulumi config set --secret --path`
 * writes it) replaced by a mock secret named after its path, and whether there was any: the engine
 * then treats the whole key as secret, and so do we.
 */
function withMockSecrets(value: unknown, path: string[]): { value: unknown; secret: boolean } {
  if (isSecure(value)) {
    const name = path.join("-").replace(/[^A-Za-z0-9]+/g, "-");
    return { value: `${MOCK_SECRET_PREFIX}config-${name}`, secret: true };
  }
  if (typeof value !== "object" || value === null) return { value, secret: false };
  const entries = Object.entries(value).map(
    ([key, child]) => [key, withMockSecrets(child, [...path, key])] as const,
  );
  return {
    value: Array.isArray(value)
      ? entries.map(([, child]) => child.value)
      : Object.fromEntries(entries.map(([key, child]) => [key, child.value])),
    secret: entries.some(([, child]) => child.secret),
  };
}

function isSecure(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    "secure" in value &&
    Object.keys(value).length === 1
  );
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}
