import type { V1Deployment, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import type { Kube } from "./kube";
import type { Health } from "./types";

/**
 * Whether a Deployment's rollout is done, still going, or failed, judged the way `kubectl rollout
 * status` judges it (observed generation, updated and available replicas, `ProgressDeadlineExceeded`)
 * plus what kubectl leaves to the reader: a ReplicaSet the API server refused pods to (quota, Pod
 * Security), and pods of the new revision that crash or cannot pull their image, which a
 * Deployment only reports once its progress deadline has passed.
 */

export type RolloutState =
  { phase: "waiting"; why: string } | { phase: "done" } | { phase: "failed"; reason: string };

/** Container states that do not recover by waiting. */
const FAILING_REASONS = new Set([
  "CrashLoopBackOff",
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
]);

export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";

export function rolloutState(deployment: V1Deployment, newPods: V1Pod[]): RolloutState {
  const { metadata, spec, status } = deployment;
  // Until the controller has seen the spec, the status and the "current" revision's pods are the
  // previous rollout's: judging them would pass or fail the wrong revision.
  if ((status?.observedGeneration ?? 0) < (metadata?.generation ?? 0)) {
    return { phase: "waiting", why: "the controller has not seen the new spec yet" };
  }
  const conditions = status?.conditions ?? [];
  const progressing = conditions.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return { phase: "failed", reason: `ProgressDeadlineExceeded: ${progressing.message ?? ""}` };
  }
  const replicaFailure = conditions.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  if (replicaFailure) {
    return { phase: "failed", reason: `${replicaFailure.reason}: ${replicaFailure.message ?? ""}` };
  }
  const failing = newPods.flatMap(podFailures);
  if (failing.length > 0) return { phase: "failed", reason: failing.join("; ") };
  const wanted = spec?.replicas ?? 1;
  const updated = status?.updatedReplicas ?? 0;
  if (updated < wanted) return { phase: "waiting", why: `${updated} of ${wanted} updated` };
  if ((status?.replicas ?? 0) > updated) {
    return { phase: "waiting", why: `${(status?.replicas ?? 0) - updated} old pods terminating` };
  }
  const available = status?.availableReplicas ?? 0;
  if (available < updated) return { phase: "waiting", why: `${available} of ${updated} available` };
  return { phase: "done" };
}

function podFailures(pod: V1Pod): string[] {
  const name = pod.metadata?.name ?? "(pod)";
  if (pod.status?.phase === "Failed") {
    return [`pod ${name} failed: ${pod.status.reason ?? ""} ${pod.status.message ?? ""}`.trim()];
  }
  return (pod.status?.containerStatuses ?? []).flatMap((container) => {
    const waiting = container.state?.waiting;
    if (!waiting?.reason || !FAILING_REASONS.has(waiting.reason)) return [];
    const last = container.lastState?.terminated;
    const exit = last ? ` (last exit ${last.exitCode}${last.reason ? ` ${last.reason}` : ""})` : "";
    return [
      `pod ${name} container ${container.name}: ${waiting.reason}${exit}, ` +
        `${container.restartCount} restarts${waiting.message ? `: ${waiting.message}` : ""}`,
    ];
  });
}

/** The ReplicaSets a Deployment owns, newest revision first. */
export async function ownedReplicaSets(
  kube: Kube,
  deployment: V1Deployment,
): Promise<V1ReplicaSet[]> {
  const namespace = deployment.metadata?.namespace as string;
  const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  const list = await kube.apps.listNamespacedReplicaSet({ namespace, labelSelector: selector });
  return list.items
    .filter((set) =>
      (set.metadata?.ownerReferences ?? []).some(
        (owner) => owner.kind === "Deployment" && owner.uid === deployment.metadata?.uid,
      ),
    )
    .sort((a, b) => revisionOf(b) - revisionOf(a));
}

export function revisionOf(object: { metadata?: { annotations?: Record<string, string> } }) {
  return Number(object.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0);
}

/** Pods of the Deployment's current revision (none before its ReplicaSet exists). */
async function newRevisionPods(kube: Kube, deployment: V1Deployment): Promise<V1Pod[]> {
  const current = (await ownedReplicaSets(kube, deployment)).find(
    (set) => revisionOf(set) === revisionOf(deployment),
  );
  const hash = current?.metadata?.labels?.["pod-template-hash"];
  if (!hash) return [];
  const pods = await kube.core.listNamespacedPod({
    namespace: deployment.metadata?.namespace as string,
    labelSelector: `pod-template-hash=${hash}`,
  });
  return pods.items;
}

/**
 * Waits for a Deployment's rollout to finish or fail, or for the deadline. A watch on the one
 * Deployment (the list+watch the worker's Role grants) wakes the check at every status change;
 * pods are looked at on each wake and at least every second, since a crash-looping pod changes
 * nothing on the Deployment until its progress deadline.
 */
export async function waitForRollout(
  kube: Kube,
  namespace: string,
  name: string,
  deadlineMs: number,
  onProgress: (why: string) => void = () => {},
): Promise<Health> {
  const started = Date.now();
  let wake: () => void = () => {};
  const watching = await kube.watch.watch(
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    { fieldSelector: `metadata.name=${name}` },
    () => wake(),
    () => wake(), // the watch ended (a server timeout): the loop keeps reading on its own
  );
  try {
    for (;;) {
      const deployment = await kube.apps.readNamespacedDeployment({ name, namespace });
      const state = rolloutState(deployment, await newRevisionPods(kube, deployment));
      const revision = String(revisionOf(deployment));
      const elapsedMs = Date.now() - started;
      if (state.phase === "done") return { healthy: true, revision, elapsedMs };
      if (state.phase === "failed") {
        return { healthy: false, reason: state.reason, revision, elapsedMs };
      }
      if (elapsedMs > deadlineMs) {
        const reason = `not available after ${Math.round(deadlineMs / 1000)} s: ${state.why}`;
        return { healthy: false, reason, revision, elapsedMs };
      }
      onProgress(state.why);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    watching.abort();
  }
}
