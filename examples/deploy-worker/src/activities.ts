import type { V1Deployment, V1PodTemplateSpec } from "@kubernetes/client-node";
import { PatchStrategy } from "@kubernetes/client-node";
import { ApplicationFailure, Context } from "@temporalio/activity";
import type { WorkerEnv } from "./env";
import { apiMessage, type Kube } from "./kube";
import { ownedReplicaSets, revisionOf, waitForRollout } from "./rollout";
import { serviceManifests, targetNamespace, type Manifest } from "./service";
import type { Applied, Health, Notification, RollbackResult, ServiceSpec } from "./types";

/**
 * The deploy workflow's activities: everything that talks to the API server or the outside
 * world. They hold the worker's own clients and settings, so the workflow stays deterministic.
 */
export function createActivities(kube: Kube, env: WorkerEnv) {
  return {
    deployToK3s: (service: ServiceSpec) => deployToK3s(kube, env, service),
    healthCheck: (target: { namespace: string; name: string; deadlineSeconds: number }) =>
      waitForRollout(kube, target.namespace, target.name, target.deadlineSeconds * 1000, (why) =>
        Context.current().heartbeat(why),
      ),
    rollback: (target: { namespace: string; name: string; deadlineSeconds: number }) =>
      rollback(kube, env, target),
    notifyUsers: (notification: Notification) => notifyUsers(env, notification),
  };
}

export type DeployActivities = ReturnType<typeof createActivities>;

/** HTTP statuses a retry cannot fix: the request itself is refused (RBAC, admission, schema). */
const PERMANENT = new Set([400, 403, 404, 409, 422]);

async function apply(kube: Kube, env: WorkerEnv, manifest: Manifest): Promise<Manifest> {
  try {
    // Server-side apply under our own field manager, forcing: the worker is the one owner of a
    // user's service, and a field someone else changed by hand is taken back.
    return await kube.objects.patch(
      manifest,
      undefined,
      undefined,
      env.fieldManager,
      true,
      PatchStrategy.ServerSideApply,
    );
  } catch (error) {
    const { status, message } = apiMessage(error);
    const what = `${manifest.kind} ${manifest.metadata.namespace}/${manifest.metadata.name}`;
    if (status !== undefined && PERMANENT.has(status)) {
      throw ApplicationFailure.nonRetryable(`${what}: ${message}`, "ApplyRefused");
    }
    throw new Error(`${what}: ${message}`);
  }
}

async function deployToK3s(kube: Kube, env: WorkerEnv, service: ServiceSpec): Promise<Applied> {
  let manifests: Manifest[];
  let namespace: string;
  try {
    namespace = targetNamespace(service, env.deployNamespaces);
    manifests = serviceManifests(service, namespace, env.appsDomain);
  } catch (error) {
    throw ApplicationFailure.nonRetryable((error as Error).message, "InvalidService");
  }
  const objects: string[] = [];
  let generation = 0;
  for (const manifest of manifests) {
    const applied = await apply(kube, env, manifest);
    objects.push(`${manifest.kind}/${manifest.metadata.name}`);
    if (manifest.kind === "Deployment") {
      generation = (applied as V1Deployment).metadata?.generation ?? 0;
    }
  }
  return {
    namespace,
    name: service.name,
    host: `${service.name}.${env.appsDomain}`,
    objects,
    generation,
  };
}

/**
 * `kubectl rollout undo`: the Deployment's template becomes that of the ReplicaSet one revision
 * back (its `pod-template-hash` label removed), so the controller scales that ReplicaSet up again
 * instead of creating a new one. Applied under the same field manager, so the worker keeps owning
 * every field, then waited on until the restored revision is available.
 */
async function rollback(
  kube: Kube,
  env: WorkerEnv,
  target: { namespace: string; name: string; deadlineSeconds: number },
): Promise<RollbackResult> {
  const { namespace, name } = target;
  const deployment = await kube.apps.readNamespacedDeployment({ name, namespace });
  const current = revisionOf(deployment);
  const previous = (await ownedReplicaSets(kube, deployment)).find(
    (set) => revisionOf(set) < current,
  );
  if (!previous?.spec?.template) {
    return { rolledBack: false, fromRevision: String(current), reason: "no earlier revision" };
  }
  const template = withoutHashLabel(previous.spec.template);
  await apply(kube, env, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels: deployment.metadata?.labels ?? {} },
    spec: { ...deploymentSpecWeOwn(deployment), template },
  });
  const health: Health = await waitForRollout(
    kube,
    namespace,
    name,
    target.deadlineSeconds * 1000,
    (why) => Context.current().heartbeat(why),
  );
  return {
    rolledBack: true,
    fromRevision: String(current),
    toRevision: String(revisionOf(previous)),
    health,
  };
}

/** The spec fields `serviceManifests` sets besides the template, as they are now. */
function deploymentSpecWeOwn(deployment: V1Deployment) {
  const spec = deployment.spec;
  return {
    replicas: spec?.replicas,
    selector: spec?.selector,
    strategy: spec?.strategy,
    revisionHistoryLimit: spec?.revisionHistoryLimit,
  };
}

function withoutHashLabel(template: V1PodTemplateSpec): V1PodTemplateSpec {
  const labels = { ...(template.metadata?.labels ?? {}) };
  delete labels["pod-template-hash"];
  return { ...template, metadata: { ...template.metadata, labels } };
}

/** Posts the outcome as JSON; false when no webhook is configured. */
async function notifyUsers(env: WorkerEnv, notification: Notification): Promise<boolean> {
  if (!env.notifyWebhookUrl) return false;
  const response = await fetch(env.notifyWebhookUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(notification),
    signal: AbortSignal.timeout(10_000),
  });
  // A 4xx will not get better on a retry; a 5xx or a refused connection may.
  if (response.status >= 400 && response.status < 500) {
    throw ApplicationFailure.nonRetryable(`webhook answered ${response.status}`, "NotifyRefused");
  }
  if (!response.ok) throw new Error(`webhook answered ${response.status}`);
  return true;
}
