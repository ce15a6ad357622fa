import { z } from "zod";
import type { Profile } from "../../policy/model/profile";
import { COMMON_DEFAULTS, PROFILE_DEFAULTS, type Defaults } from "../../stack-config/defaults";
import { schema } from "../../stack-config/schema";
import { SECRET_KEYS } from "../../stack-config/types";

/**
 * The README's config reference, generated from the zod schema and the profile defaults so the
 * documentation can never disagree with what `config.ts` accepts.
 */

interface JsonSchema {
  type?: string;
  enum?: unknown[];
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  required?: string[];
  anyOf?: JsonSchema[];
}

/** Fields documented as one row although they are objects. */
const LEAF_OBJECTS = new Set(["resources"]);
/** Sections whose every leaf is a secret. */
const SECRET_SECTIONS = new Set<string>(["credentials"]);
/** The secret keys that are one value each: the config's own list, so a new one is never missed. */
const SECRET_FIELDS = new Set<string>(SECRET_KEYS.filter((key) => !SECRET_SECTIONS.has(key)));

export function configReference(): string {
  const root = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const defaults = { dev: merged("dev"), prod: merged("prod") };
  const rows = leaves(root, [], true).map(({ path, node, required }) => {
    const key = `\`${path.join(".")}\``;
    const value = (profile: Profile) => show(at(defaults[profile], path), required);
    return `| ${key} | ${typeOf(path, node)} | ${value("dev")} | ${value("prod")} |`;
  });
  return [
    "| key (`k3s-platform:` + …) | type | dev default | prod default |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}

function merged(profile: Profile): unknown {
  return mergeDeep(mergeDeep({ profile }, COMMON_DEFAULTS), PROFILE_DEFAULTS[profile]);
}

function mergeDeep(base: unknown, extra: Defaults | unknown): unknown {
  if (!isObject(base) || !isObject(extra)) return extra === undefined ? base : extra;
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) result[key] = mergeDeep(result[key], value);
  return result;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function leaves(
  node: JsonSchema,
  path: string[],
  required: boolean,
): { path: string[]; node: JsonSchema; required: boolean }[] {
  const isLeaf = !node.properties || LEAF_OBJECTS.has(path.at(-1) ?? "");
  if (isLeaf && path.length > 0) return [{ path, node, required }];
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) =>
    leaves(child, [...path, key], required && (node.required ?? []).includes(key)),
  );
}

function typeOf(path: string[], node: JsonSchema): string {
  const name = path.at(-1) ?? "";
  if (SECRET_FIELDS.has(name) || SECRET_SECTIONS.has(path[0])) return "secret string";
  if (LEAF_OBJECTS.has(name))
    return "preset (`nano`…`large`) or `{cpu, memory, cpuLimit?, memoryLimit?}`";
  if (node.enum) return node.enum.map((value) => `\`${String(value)}\``).join(" \\| ");
  if (node.type === "array") return `list of ${node.items?.type ?? "values"}`;
  if (node.pattern?.includes("Ki|Mi|Gi")) return "quantity";
  return node.type ?? "object";
}

function at(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>(
    (current, key) => (isObject(current) ? current[key] : undefined),
    value,
  );
}

function show(value: unknown, required: boolean): string {
  if (value === undefined) return required ? "**required**" : "—";
  return `\`${JSON.stringify(value)}\``.replace(/\|/g, "\\|");
}
