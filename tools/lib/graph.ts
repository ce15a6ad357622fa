import type { RenderedResource } from "../../policy/model/render-model";

/** Kinds shown as their own node: what runs, and what the rollout waits for. */
const WORKLOAD_TYPES = new Set([
  "kubernetes:apps/v1:Deployment",
  "kubernetes:apps/v1:StatefulSet",
  "kubernetes:apps/v1:DaemonSet",
  "kubernetes:batch/v1:Job",
  "kubernetes:batch/v1:CronJob",
]);

const isComponent = (r: RenderedResource) => !r.custom && r.type !== "pulumi:pulumi:Stack";
const isNode = (r: RenderedResource) => isComponent(r) || WORKLOAD_TYPES.has(r.type);

/**
 * The component tree and rollout order as a Mermaid flowchart: components are subgraphs,
 * workloads and Jobs are nodes, and an arrow A → B means B waits for A on `pulumi up`.
 */
export function mermaidGraph(resources: RenderedResource[]): string {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const ids = new Map(resources.map((r, i) => [r.urn, `n${i}`]));
  const nodeOf = (urn: string | undefined): RenderedResource | undefined => {
    let current = urn ? byUrn.get(urn) : undefined;
    while (current && !isNode(current))
      current = current.parent ? byUrn.get(current.parent) : undefined;
    return current;
  };
  const ancestors = (r: RenderedResource): Set<string> => {
    const found = new Set<string>();
    for (let p = r.parent; p; p = byUrn.get(p)?.parent) found.add(p);
    return found;
  };

  const lines = ["flowchart LR"];
  const emit = (parentUrn: string | undefined, depth: number) => {
    for (const r of resources.filter(
      (candidate) => nodeOf(candidate.parent)?.urn === parentUrn && isNode(candidate),
    )) {
      const indent = "  ".repeat(depth);
      const label = `${r.type.split(":").pop()} ${r.name}`;
      if (isComponent(r)) {
        lines.push(`${indent}subgraph ${ids.get(r.urn)}["${label}"]`);
        emit(r.urn, depth + 1);
        lines.push(`${indent}end`);
      } else {
        lines.push(`${indent}${ids.get(r.urn)}["${label}"]`);
      }
    }
  };
  // The stack is not a node, so top-level components are those whose nearest node is none.
  emit(undefined, 1);

  const edges = new Set<string>();
  for (const r of resources) {
    const to = nodeOf(r.urn);
    if (!to) continue;
    for (const dependency of r.dependencies) {
      const from = nodeOf(dependency);
      if (!from || from.urn === to.urn) continue;
      if (ancestors(to).has(from.urn) || ancestors(from).has(to.urn)) continue;
      edges.add(`  ${ids.get(from.urn)} --> ${ids.get(to.urn)}`);
    }
  }
  return [...lines, ...[...edges].sort()].join("\n") + "\n";
}

/**
 * The same graph one level up, for the README: each component directly under the Platform is a
 * node, and A → B when anything in B waits for anything in A.
 */
export function componentGraph(resources: RenderedResource[]): string {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const platform = resources.find((r) => r.type === "k3s-platform:platform:Platform");
  const topLevel = resources.filter((r) => isComponent(r) && r.parent === platform?.urn);
  const ids = new Map(topLevel.map((r, i) => [r.urn, `c${i}`]));
  const componentOf = (urn: string): string | undefined => {
    for (
      let current = byUrn.get(urn);
      current;
      current = current.parent ? byUrn.get(current.parent) : undefined
    ) {
      if (ids.has(current.urn)) return current.urn;
    }
    return undefined;
  };
  const edges = new Set<string>();
  for (const r of resources) {
    const to = componentOf(r.urn);
    for (const dependency of r.dependencies) {
      const from = componentOf(dependency);
      if (from && to && from !== to) edges.add(`  ${ids.get(from)} --> ${ids.get(to)}`);
    }
  }
  const typeName = (r: RenderedResource) => r.type.split(":").pop() ?? r.type;
  const shared = (r: RenderedResource) => topLevel.filter((o) => o.type === r.type).length > 1;
  const nodes = topLevel.map(
    (r) => `  ${ids.get(r.urn)}["${shared(r) ? `${typeName(r)} ${r.name}` : typeName(r)}"]`,
  );
  return ["flowchart LR", ...nodes, ...[...edges].sort()].join("\n") + "\n";
}
