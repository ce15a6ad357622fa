import type { z } from "zod";
import { SECRET_KEYS } from "./types";

/**
 * The words of every schema problem the schema does not word itself: zod's defaults ("Too small:
 * expected number to be >=1") said in the stack file's terms, with the value that was given. A
 * secret's value is never repeated.
 */

/** A given value as a message names it: `the string "two"`, `the number 123`, `a list`. */
export function describeInput(input: unknown, secret = false): string {
  if (input === undefined) return "nothing";
  if (input === null) return "null";
  if (typeof input === "string") return secret ? "a string" : `the string ${JSON.stringify(input)}`;
  if (typeof input === "number") return `the number ${input}`;
  if (typeof input === "boolean") return String(input);
  if (Array.isArray(input)) return "a list";
  return "a mapping";
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping of keys to values",
  array: "a list",
};

/** What to do about the commonest type slips in YAML. */
function typeHint(expected: string, input: unknown): string {
  if (expected === "string" && (typeof input === "number" || typeof input === "boolean")) {
    return ": quote it";
  }
  if (
    (expected === "number" || expected === "int") &&
    typeof input === "string" &&
    input.trim() !== "" &&
    Number.isFinite(Number(input))
  ) {
    return ": remove the quotes";
  }
  if (expected === "boolean" && typeof input === "string") {
    return ": write true or false without quotes";
  }
  return "";
}

function isSecretPath(path: readonly PropertyKey[]): boolean {
  return (SECRET_KEYS as readonly PropertyKey[]).includes(path[0]);
}

/** An example for a string expected at a path, for "must be a string such as …". */
function stringExample(path: readonly PropertyKey[]): string {
  const examples: Record<string, string> = {
    namespace: "platform",
    domain: "platform.example.com",
    host: "app.example.com",
    storageClass: "local-path",
    ingressClass: "traefik",
    tlsSecretName: "platform-tls",
  };
  const example = examples[String(path.at(-1))];
  return example ? ` such as ${example}` : "";
}

type RawIssue = z.core.$ZodRawIssue;

function typeMessage(issue: RawIssue & { expected?: string }): string {
  const expected = issue.expected ?? "value";
  const input = issue.input;
  if (input === undefined) return "is required";
  const wanted =
    (EXPECTED[expected] ?? `a ${expected}`) +
    (expected === "string" ? stringExample(issue.path ?? []) : "");
  const got = describeInput(input, isSecretPath(issue.path ?? []));
  return `must be ${wanted} (got ${got}${typeHint(expected, input)})`;
}

function sizeMessage(
  issue: RawIssue & { origin?: string; minimum?: unknown; maximum?: unknown; inclusive?: boolean },
): string | undefined {
  const small = issue.code === "too_small";
  const bound = Number(small ? issue.minimum : issue.maximum);
  const input = issue.input;
  switch (issue.origin) {
    case "number":
      return issue.inclusive === false
        ? `must be ${small ? "greater" : "less"} than ${bound} (got ${String(input)})`
        : `must be at ${small ? "least" : "most"} ${bound} (got ${String(input)})`;
    case "string": {
      const length = typeof input === "string" ? ` (got ${input.length})` : "";
      if (small && bound === 1) return "must not be empty";
      return `must be at ${small ? "least" : "most"} ${bound} characters${length}`;
    }
    case "array": {
      const count = Array.isArray(input) ? ` (got ${input.length})` : "";
      return `must list at ${small ? "least" : "most"} ${bound} item${bound === 1 ? "" : "s"}${count}`;
    }
    default:
      return undefined;
  }
}

/**
 * The message of a schema problem the schema leaves to the parse (`safeParse(v, { error })`); zod
 * keeps its own words for anything else.
 */
export function schemaMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      return typeMessage(issue);
    case "too_small":
    case "too_big":
      return sizeMessage(issue);
    case "invalid_value": {
      const values = (issue as { values?: unknown[] }).values ?? [];
      return `must be one of ${values.map((value) => JSON.stringify(value)).join(", ")} (got ${describeInput(issue.input, isSecretPath(issue.path ?? []))})`;
    }
    default:
      return undefined;
  }
}
