import { objectId } from "../../../tools/lib/manifests";
import type { Manifest } from "../../../core/render-model";
import { sleep } from "./control-plane";
import { condition, type KubeClient, type KubeObject } from "./kube-client";
import type { PlanResource } from "./render-objects";

/**
 * Applies a render the way `pulumi up` would: each object only after everything it depends on is
 * applied and ready, independent ones in parallel, every one server-side applied with strict field
 * validation, then awaited as the Pulumi Kubernetes provider awaits its kind.
 */

export interface ObjectResult {
  id: string;
  urn: string;
  /** `ready`, or why not: `rejected` by the API server, `not-ready`, or `skipped` after a failure. */
  outcome: "ready" | "rejected" | "not-ready" | "skipped";
  /** The API server's message, verbatim, or what the wait saw last. */
  error?: string;
  /** Warning headers of the apply (Pod Security, deprecations): each one counts as a failure. */
  warnings: string[];
  /** What this harness could not wait on as the provider would, and why. */
  note?: string;
  /** Milliseconds from the rollout's start to the apply, and to ready. */
  appliedAt?: number;
  readyAt?: number;
}

export interface RolloutOptions {
  /** Upper bound on any one wait, so a broken render fails in minutes, not the provider's 10. */
  maxWaitMs: number;
  log: (line: string) => void;
}

/** The provider's default await timeout (10 minutes) when `pulumi.com/timeoutSeconds` is unset. */
const PROVIDER_DEFAULT_TIMEOUT_S = 600;

export async function rollout(
  client: KubeClient,
  resources: PlanResource[],
  options: RolloutOptions,
): Promise<ObjectResult[]> {
  const started = Date.now();
  const objects = resources.filter((resource) => resource.manifest !== undefined);
  const dependencies = kubernetesDependencies(resources);
  const deadlocks = serviceAwaitDeadlocks(objects, dependencies);
  const run = async (resource: PlanResource, upstream: ObjectResult[]): Promise<ObjectResult> => {
    const manifest = resource.manifest as Manifest;
    const result: ObjectResult = {
      id: objectId(manifest),
      urn: resource.urn,
      outcome: "ready",
      warnings: [],
    };
    const failed = upstream.find((entry) => entry.outcome !== "ready");
    if (failed) {
      return report({
        ...result,
        outcome: "skipped",
        error: `depends on ${failed.id} (${failed.outcome})`,
      });
    }
    const response = await client.apply(manifest);
    result.appliedAt = Date.now() - started;
    result.warnings = response.warnings;
    if (response.status >= 300) {
      return report({
        ...result,
        outcome: "rejected",
        error: `${response.status} ${response.body.message ?? ""}`,
      });
    }
    const deadlock = deadlocks.get(resource.urn);
    if (deadlock) {
      // Waiting here would hang until the workload it depends on exists, which never happens.
      result.note = deadlock;
      result.readyAt = Date.now() - started;
      return report(result);
    }
    const wait = await awaitReady(client, manifest, response.body, options.maxWaitMs);
    result.readyAt = Date.now() - started;
    if (wait.note) result.note = wait.note;
    if (!wait.ready) {
      return report({ ...result, outcome: "not-ready", error: wait.last });
    }
    return report(result);
  };
  const report = (result: ObjectResult): ObjectResult => {
    const at = ((result.readyAt ?? result.appliedAt ?? Date.now() - started) / 1000).toFixed(1);
    const detail = [result.error, ...result.warnings.map((w) => `warning: ${w}`), result.note]
      .filter(Boolean)
      .join("; ");
    options.log(
      `[${at.padStart(6)} s] ${result.outcome.padEnd(9)} ${result.id}${detail ? `  ${detail}` : ""}`,
    );
    return result;
  };

  return inGraphOrder(objects, dependencies, run, (resource, error) =>
    report({
      id: objectId(resource.manifest as Manifest),
      urn: resource.urn,
      outcome: "rejected",
      error,
      warnings: [],
    }),
  );
}

/**
 * Runs `step` for every object as soon as the objects it waits for (`waitsFor`, by URN) have
 * settled, and all the others at once, as the Pulumi engine walks its graph; `step` gets their
 * results. A step that throws settles as `onError` makes it.
 */
export function inGraphOrder<T>(
  objects: PlanResource[],
  waitsFor: Map<string, string[]>,
  step: (resource: PlanResource, settled: T[]) => Promise<T>,
  onError: (resource: PlanResource, error: string) => T,
): Promise<T[]> {
  const results = new Map<string, Promise<T>>();
  // Every object's promise exists before any awaits another's, so the order of creation is free.
  for (const resource of objects) {
    let settle: (result: T) => void = () => {};
    results.set(resource.urn, new Promise((resolve) => (settle = resolve)));
    queueMicrotask(() => {
      Promise.all((waitsFor.get(resource.urn) ?? []).map((urn) => results.get(urn) as Promise<T>))
        .then((settled) => step(resource, settled))
        .then(settle, (error: unknown) =>
          settle(onError(resource, error instanceof Error ? error.message : String(error))),
        );
    });
  }
  return Promise.all([...results.values()]);
}

/**
 * The Kubernetes objects each object waits for: its recorded dependencies (a component stands for
 * all the Kubernetes objects under it; anything else, like a RandomPassword, is ready at once),
 * plus the Namespace it lives in when the render creates it, so namespaces always come first.
 */
export function kubernetesDependencies(resources: PlanResource[]): Map<string, string[]> {
  const byUrn = new Map(resources.map((resource) => [resource.urn, resource]));
  const children = new Map<string, PlanResource[]>();
  for (const resource of resources) {
    if (resource.parent)
      children.set(resource.parent, [...(children.get(resource.parent) ?? []), resource]);
  }
  const expand = (urn: string, into: Set<string>) => {
    const resource = byUrn.get(urn);
    if (!resource) return;
    if (resource.manifest) into.add(urn);
    else if (!resource.custom) for (const child of children.get(urn) ?? []) expand(child.urn, into);
  };
  const namespaces = new Map(
    resources
      .filter((resource) => resource.manifest?.kind === "Namespace")
      .map((resource) => [resource.manifest?.metadata.name, resource.urn]),
  );
  const result = new Map<string, string[]>();
  for (const resource of resources) {
    if (!resource.manifest) continue;
    const into = new Set<string>();
    for (const urn of resource.dependencies) expand(urn, into);
    const namespace = namespaces.get(resource.manifest.metadata.namespace);
    if (namespace) into.add(namespace);
    into.delete(resource.urn);
    result.set(resource.urn, [...into]);
  }
  return result;
}

/**
 * Services the provider would wait on forever: it awaits a (non-headless) Service with a selector
 * until its Endpoints list a pod, so if the workload whose pods it selects depends on the Service,
 * `pulumi up` waits the 10-minute timeout and fails. Returns, per Service, the finding.
 */
export function serviceAwaitDeadlocks(
  objects: PlanResource[],
  dependencies: Map<string, string[]>,
): Map<string, string> {
  const reaches = (from: string, to: string, seen = new Set<string>()): boolean => {
    if (from === to) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    return (dependencies.get(from) ?? []).some((next) => reaches(next, to, seen));
  };
  const findings = new Map<string, string>();
  for (const service of objects) {
    const manifest = service.manifest as Manifest;
    const spec = manifest.spec as {
      selector?: Record<string, string>;
      clusterIP?: string;
      type?: string;
    };
    if (manifest.kind !== "Service" || !spec.selector || spec.clusterIP === "None") continue;
    if (spec.type === "ExternalName") continue;
    for (const workload of objects) {
      const template = podTemplate(workload.manifest as Manifest);
      if (!template || workload.manifest?.metadata.namespace !== manifest.metadata.namespace)
        continue;
      const labels = template.metadata?.labels ?? {};
      const selects = Object.entries(spec.selector).every(([key, value]) => labels[key] === value);
      if (selects && reaches(workload.urn, service.urn)) {
        findings.set(
          service.urn,
          `provider await would deadlock: it waits for Endpoints of pods of ` +
            `${objectId(workload.manifest as Manifest)}, which depends on this Service ` +
            `(pulumi up would fail after ${PROVIDER_DEFAULT_TIMEOUT_S / 60} min)`,
        );
      }
    }
  }
  return findings;
}

function podTemplate(
  manifest: Manifest,
): { metadata?: { labels?: Record<string, string> } } | undefined {
  if (!["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(manifest.kind)) return undefined;
  return (manifest.spec as { template?: { metadata?: { labels?: Record<string, string> } } })
    .template;
}

interface Wait {
  ready: boolean;
  /** The last state seen, for the report when not ready. */
  last?: string;
  note?: string;
}

/** Waits as the provider's awaiter for the kind does; kinds it does not await are ready at once. */
async function awaitReady(
  client: KubeClient,
  manifest: Manifest,
  applied: KubeObject,
  maxWaitMs: number,
): Promise<Wait> {
  const annotations = manifest.metadata.annotations ?? {};
  if (annotations["pulumi.com/skipAwait"] === "true") return { ready: true, note: "skipAwait" };
  const check = readinessCheck(client, manifest);
  if (!check) return { ready: true };
  const timeoutS = Number(annotations["pulumi.com/timeoutSeconds"] ?? PROVIDER_DEFAULT_TIMEOUT_S);
  const deadline = Date.now() + Math.min(timeoutS * 1000, maxWaitMs);
  const path = await client.objectPath(manifest.apiVersion, manifest.kind, manifest.metadata);
  let last = "";
  for (;;) {
    const object = await client.get(path).catch(() => applied);
    const state = await check(object);
    if (state.failed) return { ready: false, last: state.failed };
    if (state.ready) return { ready: true, note: state.note };
    last = state.waiting ?? "";
    if (Date.now() > deadline) {
      const events = await failureEvents(client, manifest);
      return {
        ready: false,
        last: `not ready after ${Math.round(Math.min(timeoutS * 1000, maxWaitMs) / 1000)} s: ${last}${events}`,
      };
    }
    await sleep(500);
  }
}

interface State {
  ready?: boolean;
  failed?: string;
  waiting?: string;
  note?: string;
}

function readinessCheck(
  client: KubeClient,
  manifest: Manifest,
): ((object: KubeObject) => Promise<State>) | undefined {
  const generationSeen = (object: KubeObject) =>
    Number(object.status?.observedGeneration ?? 0) >= Number(object.metadata?.generation ?? 1);
  const desired = (object: KubeObject) => Number(object.spec?.replicas ?? 1);
  switch (manifest.kind) {
    case "Deployment":
      // Provider: Available, and Progressing with reason NewReplicaSetAvailable (the new
      // ReplicaSet's replicas are all available).
      return async (object) => {
        const progressing = condition(object, "Progressing");
        const available = condition(object, "Available");
        const ready =
          generationSeen(object) &&
          available?.status === "True" &&
          progressing?.reason === "NewReplicaSetAvailable" &&
          Number(object.status?.updatedReplicas ?? 0) >= desired(object);
        return {
          ready,
          waiting: `Available=${available?.status}, Progressing=${progressing?.reason}, ${JSON.stringify(object.status ?? {})}`,
        };
      };
    case "StatefulSet":
      // Provider: ready replicas at the current revision.
      return async (object) => {
        const status = object.status ?? {};
        const ready =
          generationSeen(object) &&
          Number(status.readyReplicas ?? 0) >= desired(object) &&
          Number(status.updatedReplicas ?? 0) >= desired(object) &&
          status.currentRevision === status.updateRevision;
        return { ready, waiting: JSON.stringify(status) };
      };
    case "DaemonSet":
      return async (object) => {
        const status = object.status ?? {};
        const wanted = Number(status.desiredNumberScheduled ?? -1);
        const ready =
          generationSeen(object) &&
          wanted > 0 &&
          Number(status.numberReady ?? 0) >= wanted &&
          Number(status.updatedNumberScheduled ?? 0) >= wanted;
        return { ready, waiting: JSON.stringify(status) };
      };
    case "Job":
      // Provider: Complete; Failed fails the update.
      return async (object) => {
        const failed = condition(object, "Failed");
        if (failed?.status === "True")
          return { failed: `Job Failed: ${failed.reason}: ${failed.message}` };
        return {
          ready: condition(object, "Complete")?.status === "True",
          waiting: JSON.stringify(object.status ?? {}),
        };
      };
    case "Service":
      return async (object) => {
        const spec = object.spec ?? {};
        if (!spec.selector || spec.clusterIP === "None" || spec.type === "ExternalName")
          return { ready: true };
        if (spec.type === "LoadBalancer") {
          return { ready: true, note: "LoadBalancer address not awaited (no ServiceLB here)" };
        }
        const endpoints = await client
          .get(
            `/api/v1/namespaces/${manifest.metadata.namespace}/endpoints/${manifest.metadata.name}`,
          )
          .catch(() => ({}) as KubeObject);
        const subsets = (endpoints.subsets ?? []) as unknown[];
        return { ready: subsets.length > 0, waiting: "no Endpoints subsets yet" };
      };
    case "PersistentVolumeClaim":
      return async (object) => {
        if (object.status?.phase === "Bound") return { ready: true };
        const className = object.spec?.storageClassName as string | undefined;
        const storageClass = className
          ? await client
              .get(`/apis/storage.k8s.io/v1/storageclasses/${className}`)
              .catch(() => undefined)
          : undefined;
        const waits = storageClass?.volumeBindingMode === "WaitForFirstConsumer";
        return {
          ready: waits,
          note: waits ? "Pending until its first consumer (WaitForFirstConsumer)" : undefined,
          waiting: `phase ${object.status?.phase}`,
        };
      };
    case "Ingress":
      return async () => ({
        ready: true,
        note: "load balancer address not awaited (no Traefik here)",
      });
    default:
      return undefined;
  }
}

/** Why pods did not come: FailedCreate (e.g. Pod Security) and FailedScheduling events. */
async function failureEvents(client: KubeClient, manifest: Manifest): Promise<string> {
  const namespace = manifest.metadata.namespace;
  if (!namespace) return "";
  const events = await client
    .get(`/api/v1/namespaces/${namespace}/events`)
    .catch(() => ({ items: [] }) as KubeObject);
  const messages = new Set<string>();
  for (const event of events.items ?? []) {
    const reason = event.reason as string | undefined;
    const involved = (event.involvedObject ?? {}) as { name?: string };
    if (!reason || !/^Failed|BackoffLimitExceeded|DeadlineExceeded/.test(reason)) continue;
    if (!involved.name?.startsWith(manifest.metadata.name)) continue;
    messages.add(`${reason}: ${event.message as string}`);
  }
  return messages.size > 0 ? `; events: ${[...messages].join(" | ")}` : "";
}
