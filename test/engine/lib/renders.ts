import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type { EngineEvent } from "@pulumi/pulumi/automation";

/**
 * The engine-less tools as a user runs them (`npm run render`, `npm run diff`, `npm run check`),
 * and the link between what they name and what the engine names. The tools name a Kubernetes
 * object `Kind/namespace/name` (`objectId`) and write it to `manifests/<file>.yaml`; the engine
 * names a resource by URN. The link, both ways explicit:
 *
 *   URN ──(the step's `new` or `old` state: apiVersion, kind, metadata)──▶ Kind/namespace/name
 *   manifest file ──(its own kind and metadata)──▶ Kind/namespace/name
 */

/** `npm run --silent <script> -- ...args` in `cwd`; resolves to stdout, rejects with stderr. */
export function npmRun(cwd: string, script: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      "npm",
      ["run", "--silent", script, "--", ...args],
      { cwd, timeout: 300_000, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`npm run ${script} -- ${args.join(" ")}: ${stderr || stdout}`))
          : resolve(stdout),
    ),
  );
}

interface ObjectMetadata {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

function idOf(object: ObjectMetadata | undefined): string | undefined {
  const { kind, metadata } = object ?? {};
  if (!kind || !metadata?.name) return undefined;
  return metadata.namespace
    ? `${kind}/${metadata.namespace}/${metadata.name}`
    : `${kind}/${metadata.name}`;
}

/** `Kind/namespace/name` → manifest file, for every file of a render's `manifests/`. */
export function renderedObjects(renderDir: string): Map<string, string> {
  const dir = path.join(renderDir, "manifests");
  const result = new Map<string, string>();
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith(".yaml"))) {
    const id = idOf(parse(fs.readFileSync(path.join(dir, file), "utf8")) as ObjectMetadata);
    if (!id) throw new Error(`${file} is not a Kubernetes object`);
    if (result.has(id)) throw new Error(`${id} is written twice: ${result.get(id)} and ${file}`);
    result.set(id, file);
  }
  return result;
}

/**
 * URN → `Kind/namespace/name` of every Kubernetes object the engine stepped on, from the step's
 * own states (the new inputs, else the old outputs), as the provider will apply them.
 */
export function engineObjects(events: EngineEvent[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const event of events) {
    const metadata = event.resourcePreEvent?.metadata;
    if (!metadata || !metadata.type.startsWith("kubernetes:")) continue;
    const id =
      idOf(metadata.new?.inputs as ObjectMetadata) ??
      idOf(metadata.new?.outputs as ObjectMetadata) ??
      idOf(metadata.old?.outputs as ObjectMetadata) ??
      idOf(metadata.old?.inputs as ObjectMetadata);
    if (id) result.set(metadata.urn, id);
  }
  return result;
}

export type DiffKind = "create" | "update" | "replace" | "delete";

/** `npm run diff`'s verdicts: `- **REPLACE** \`Kind/ns/name\` …` lines, by kind. */
export function parseDiff(text: string): Record<DiffKind, string[]> {
  const result: Record<DiffKind, string[]> = { create: [], update: [], replace: [], delete: [] };
  for (const match of text.matchAll(/^- \*\*(CREATE|UPDATE|REPLACE|DELETE)\*\* `([^`]+)`/gm)) {
    result[match[1].toLowerCase() as DiffKind].push(match[2]);
  }
  return result;
}
