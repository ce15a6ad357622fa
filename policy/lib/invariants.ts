import type { StackValidationArgs } from "@pulumi/policy";
import { parseWiring, WIRING_ANNOTATION } from "../model/network";
import * as ports from "../model/port-set";
import type { PortSet } from "../model/port-set";
import {
  reachabilityMatrix,
  type Endpoint,
  type MatrixEntry,
  type ReachabilityMatrix,
} from "../model/reachability";
import type { Manifest } from "../model/render-model";
import type { KubeObject, Labels } from "./k8s";
import { asArray } from "./k8s";
import type { StackIndex } from "./stack";

/*
 * What the wiring invariants share. They judge the connections the rendered NetworkPolicies allow
 * (computed as kube-router enforces them, like `reachability`), but never read the wiring table's
 * edges: a wrong edge agrees with itself, so these rules say, from the render alone, who may reach
 * Postgres, what Traefik may reach and what may reach the internet. Workloads are recognised by
 * their `app.kubernetes.io/name` and `app.kubernetes.io/component` pod labels (policy/model/labels.ts).
 */

/** A workload's role, by its pod labels; the instance is never part of it. */
export interface Role {
  /** `app.kubernetes.io/name`. */
  name: string;
  /** `app.kubernetes.io/component`; any when absent. */
  component?: string;
  /** How messages call it. */
  label: string;
}

/** True when the endpoint's pod labels are the role's. */
export function plays(endpoint: Endpoint, role: Role): boolean {
  const labels = endpoint.labels;
  return (
    endpoint.kind === "workload" &&
    labels["app.kubernetes.io/name"] === role.name &&
    (role.component === undefined || labels["app.kubernetes.io/component"] === role.component)
  );
}

/** The roles the invariants name, as the components label their pods. */
export const ROLES = {
  postgres: { name: "postgres", component: "database", label: "Postgres" },
  pgbouncer: { name: "pgbouncer", component: "pooler", label: "PgBouncer" },
  migrations: { name: "atlas", component: "migrations", label: "the migrations Job" },
  temporalServer: { name: "temporal-server", label: "a Temporal server" },
  temporalSchema: {
    name: "temporal-admin-tools",
    component: "temporal-schema",
    label: "the Temporal schema Job",
  },
  backup: { name: "postgres-backup", component: "database-backup", label: "the backup CronJob" },
  baseBackup: {
    name: "postgres-basebackup",
    component: "database-basebackup",
    label: "the base backup CronJob",
  },
  roleReconcile: {
    name: "postgres-roles",
    component: "database-roles",
    label: "the role-reconcile Job",
  },
  web: { name: "web", component: "web", label: "the app's web" },
  worker: { name: "worker", component: "worker", label: "the app's worker" },
  grafana: { name: "grafana", component: "dashboards", label: "Grafana" },
  temporalUi: { name: "temporal-ui", component: "temporal-ui", label: "the Temporal UI" },
  ollama: { name: "ollama", component: "llm", label: "Ollama" },
  loki: { name: "loki", label: "Loki" },
  tempo: { name: "tempo", label: "Tempo" },
  dragonfly: { name: "dragonfly", component: "cache", label: "Dragonfly" },
} as const satisfies Record<string, Role>;

function manifestOf(object: KubeObject): Manifest {
  return { ...object.body, kind: object.kind, metadata: object.metadata } as Manifest;
}

/**
 * The reachability matrix of the render, with the cluster's CIDRs from a wiring document when one
 * is there (only its CIDRs, never its edges) and K3s's defaults otherwise. Not applicable while
 * any fact is unknown (a preview).
 */
export function matrixOf(stack: StackIndex, args: StackValidationArgs): ReachabilityMatrix {
  const cidrs = stack
    .ofKind("NetworkPolicy")
    .flatMap((policy) => {
      const text = policy.metadata.annotations?.[WIRING_ANNOTATION];
      if (typeof text !== "string") return [];
      try {
        const { podCidr, serviceCidr } = parseWiring(text);
        return [{ podCidr, serviceCidr }];
      } catch {
        // `reachability` reports a broken annotation; here the defaults serve.
        return [];
      }
    })
    .at(0);
  const matrix = reachabilityMatrix(stack.objects.map(manifestOf), cidrs ?? {});
  if (matrix.undecidable.length > 0) args.notApplicable(matrix.undecidable.join("; "));
  return matrix;
}

/** The matrix's connections into the endpoints `to` selects, with both ends resolved. */
export function connectionsInto(
  matrix: ReachabilityMatrix,
  to: (endpoint: Endpoint) => boolean,
): { from: Endpoint; to: Endpoint; entry: MatrixEntry }[] {
  const byId = new Map(matrix.endpoints.map((endpoint) => [endpoint.id, endpoint]));
  return matrix.entries.flatMap((entry) => {
    const source = byId.get(entry.from);
    const target = byId.get(entry.to);
    return source && target && to(target) ? [{ from: source, to: target, entry }] : [];
  });
}

/** The ports of `set` outside `allowed`, as text (` on TCP 5432`), one line per range. */
export function beyond(set: PortSet, allowed: PortSet): string[] {
  return ports.describePorts(ports.subtract(set, allowed));
}

/** TCP ports as a set. */
export function tcp(...numbers: number[]): PortSet {
  return ports.union(...numbers.map((number) => ports.portRange("TCP", number)));
}

/** The rendered object an endpoint stands for (its id is the object's), for reports and env. */
export function objectOf(stack: StackIndex, endpoint: Endpoint): KubeObject | undefined {
  return stack.objects.find((object) => object.id === endpoint.id);
}

/** True when a container of the workload's pod template sets the env variable (value or ref). */
export function setsEnv(stack: StackIndex, endpoint: Endpoint, name: string): boolean {
  return envOf(stack, endpoint, name).length > 0;
}

/** The literal values an endpoint's containers give an env variable (not `valueFrom` ones). */
export function envValues(stack: StackIndex, endpoint: Endpoint, name: string): string[] {
  return envOf(stack, endpoint, name).flatMap((variable) =>
    typeof variable.value === "string" ? [variable.value] : [],
  );
}

function envOf(stack: StackIndex, endpoint: Endpoint, name: string): { value?: unknown }[] {
  const workload = stack.workloads.find((candidate) => candidate.object.id === endpoint.id);
  if (workload === undefined) return [];
  return [...asArray(workload.spec.containers), ...asArray(workload.spec.initContainers)].flatMap(
    (container) => asArray(container.env).filter((variable) => variable.name === name),
  );
}

/** The endpoint's labels as `k=v, …`, to say which pods a finding means. */
export function describeEndpoint(endpoint: Endpoint): string {
  const labels: Labels = endpoint.labels;
  const name = labels["app.kubernetes.io/name"];
  const component = labels["app.kubernetes.io/component"];
  return endpoint.kind === "workload"
    ? `${endpoint.id} (name=${name ?? "?"}, component=${component ?? "?"})`
    : endpoint.kind;
}
