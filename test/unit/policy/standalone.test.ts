import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * `pulumi policy publish` packs the pack's own directory and nothing else: every import of a file
 * under policy/ must stay inside it, and every package it imports must be one its own
 * package.json declares (the lockfile pins them).
 */

const POLICY = path.resolve(__dirname, "..", "..", "..", "policy");
const manifest = JSON.parse(fs.readFileSync(path.join(POLICY, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules") return [];
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return entry.name.endsWith(".ts") ? [file] : [];
  });
}

/** Every module specifier of a file: static imports, re-exports and dynamic imports. */
function specifiers(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)].map(
    ([, specifier]) => specifier,
  );
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const files = sourceFiles(POLICY);

describe("the policy pack is a package of its own", () => {
  it("has sources to check", () => {
    expect(files.length).toBeGreaterThan(40);
  });

  it("imports no file outside policy/", () => {
    const outside = files.flatMap((file) =>
      specifiers(file)
        .filter((specifier) => specifier.startsWith("."))
        .filter((specifier) => {
          const target = path.resolve(path.dirname(file), specifier);
          return path.relative(POLICY, target).startsWith("..");
        })
        .map((specifier) => `${path.relative(POLICY, file)}: ${specifier}`),
    );
    expect(outside).toEqual([]);
  });

  it("imports only packages its own package.json declares", () => {
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.devDependencies),
    ]);
    const builtins = new Set(builtinModules);
    const undeclared = files.flatMap((file) =>
      specifiers(file)
        .filter((specifier) => !specifier.startsWith("."))
        .filter((specifier) => !specifier.startsWith("node:") && !builtins.has(specifier))
        .filter((specifier) => !declared.has(packageOf(specifier)))
        .map((specifier) => `${path.relative(POLICY, file)}: ${specifier}`),
    );
    expect(undeclared).toEqual([]);
  });

  it("pins what it shares with the program at the program's versions", () => {
    const program = JSON.parse(
      fs.readFileSync(path.join(POLICY, "..", "package.json"), "utf8"),
    ) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const pinned = { ...program.devDependencies, ...program.dependencies };
    const all = { ...manifest.devDependencies, ...manifest.dependencies };
    for (const [name, version] of Object.entries(all)) {
      if (name in pinned) expect(version, name).toBe(pinned[name]);
    }
  });
});
