import { isDeepStrictEqual } from "node:util";
import type { Manifest } from "../../policy/model/render-model";
import { objectId } from "./manifests";

/** What happens to one object between two renders. */
export type ChangeKind = "create" | "delete" | "update" | "replace";

/** One field that differs: its dotted path and both values (undefined where absent). */
export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

export interface ObjectChange {
  object: string;
  kind: ChangeKind;
  /** Stateful objects (data lives in them): a replace or delete loses data unless protected. */
  stateful: boolean;
  fields: FieldChange[];
  /** Fields Kubernetes cannot change in place, which force the replacement. */
  immutableFields: string[];
}

/** Kinds whose deletion or replacement can lose data. */
const STATEFUL_KINDS = new Set(["StatefulSet", "PersistentVolumeClaim", "PersistentVolume"]);

/**
 * Field paths (prefixes) that Kubernetes refuses to update in place, per kind: changing one
 * makes Pulumi delete and recreate the object.
 */
const IMMUTABLE_FIELDS: Record<string, string[]> = {
  Job: ["spec.template", "spec.selector", "spec.completionMode"],
  StatefulSet: [
    "spec.volumeClaimTemplates",
    "spec.selector",
    "spec.serviceName",
    "spec.podManagementPolicy",
  ],
  Deployment: ["spec.selector"],
  DaemonSet: ["spec.selector"],
  ReplicaSet: ["spec.selector"],
  Service: ["spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies"],
  PersistentVolumeClaim: [
    "spec.storageClassName",
    "spec.accessModes",
    "spec.volumeName",
    "spec.volumeMode",
  ],
  ConfigMap: ["immutable"],
  Secret: ["immutable", "type"],
};

/** Compares two sets of manifests object by object. */
export function diffRenders(before: Manifest[], after: Manifest[]): ObjectChange[] {
  const index = (manifests: Manifest[]) => new Map(manifests.map((m) => [objectId(m), m]));
  const old = index(before);
  const current = index(after);
  const changes: ObjectChange[] = [];
  for (const [id, manifest] of current) {
    const previous = old.get(id);
    if (!previous) {
      changes.push(change(id, "create", manifest.kind, []));
      continue;
    }
    const fields = fieldChanges(previous, manifest, []);
    if (fields.length === 0) continue;
    const immutable = fields
      .map((field) => field.path)
      .filter((path) =>
        (IMMUTABLE_FIELDS[manifest.kind] ?? []).some((prefix) => isUnder(path, prefix)),
      );
    changes.push({
      ...change(id, immutable.length > 0 ? "replace" : "update", manifest.kind, fields),
      immutableFields: immutable,
    });
  }
  for (const [id, manifest] of old) {
    if (!current.has(id)) changes.push(change(id, "delete", manifest.kind, []));
  }
  return changes.sort((a, b) => a.object.localeCompare(b.object));
}

function change(
  object: string,
  kind: ChangeKind,
  manifestKind: string,
  fields: FieldChange[],
): ObjectChange {
  return { object, kind, stateful: STATEFUL_KINDS.has(manifestKind), fields, immutableFields: [] };
}

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/** Leaf-level differences; arrays compare element by element. */
function fieldChanges(before: unknown, after: unknown, path: string[]): FieldChange[] {
  if (isDeepStrictEqual(before, after)) return [];
  const bothObjects =
    typeof before === "object" && before !== null && typeof after === "object" && after !== null;
  if (!bothObjects || Array.isArray(before) !== Array.isArray(after)) {
    return [{ path: path.join("."), before, after }];
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const length = Math.max(before.length, after.length);
    return Array.from({ length }, (_, i) =>
      fieldChanges(before[i], after[i], [...path.slice(0, -1), `${path.at(-1) ?? ""}[${i}]`]),
    ).flat();
  }
  const keys = new Set([...Object.keys(before as object), ...Object.keys(after as object)]);
  return [...keys]
    .sort()
    .flatMap((key) =>
      fieldChanges(
        (before as Record<string, unknown>)[key],
        (after as Record<string, unknown>)[key],
        [...path, key],
      ),
    );
}

/** A Markdown report for a terminal or a pull-request comment. */
export function formatDiff(stack: string, changes: ObjectChange[]): string {
  if (changes.length === 0) return `### ${stack}: no changes\n`;
  const counts = (kind: ChangeKind) => changes.filter((c) => c.kind === kind).length;
  const lines = [
    `### ${stack}: ${counts("create")} to create, ${counts("update")} to update, ` +
      `${counts("replace")} to replace, ${counts("delete")} to delete`,
    "",
  ];
  const dangerous = changes.filter(
    (c) => c.stateful && (c.kind === "replace" || c.kind === "delete"),
  );
  for (const c of dangerous) {
    lines.push(
      `> **WARNING: ${c.kind.toUpperCase()} OF STATEFUL ${c.object}**: its data is lost unless the ` +
        `resource is protected/retained; ${c.immutableFields.length > 0 ? `forced by ${c.immutableFields.join(", ")}` : "it is gone from the new render"}.`,
    );
  }
  if (dangerous.length > 0) lines.push("");
  for (const c of changes) {
    lines.push(
      `- **${c.kind.toUpperCase()}** \`${c.object}\`${c.kind === "replace" ? ` (cannot change in place: ${c.immutableFields.join(", ")})` : ""}`,
    );
    for (const field of c.fields) {
      lines.push(`  - \`${field.path}\`: ${show(field.before)} → ${show(field.after)}`);
    }
  }
  return lines.join("\n") + "\n";
}

function show(value: unknown): string {
  if (value === undefined) return "(absent)";
  const text = JSON.stringify(value);
  return `\`${text.length > 120 ? `${text.slice(0, 117)}...` : text}\``;
}
