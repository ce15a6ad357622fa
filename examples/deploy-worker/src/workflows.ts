/**
 * The deploy workflow, run in Temporal's deterministic sandbox: it only orders activities. Apply
 * the user's service; check its rollout; when the check fails, roll back to the previous
 * revision; tell the users either way. A rolled-back or refused deployment ends the workflow as
 * failed (an `ApplicationFailure` whose type says which), so Temporal's own failure counts and
 * alerts see it; a healthy one returns where the service now runs.
 */
import { ApplicationFailure, proxyActivities, workflowInfo } from "@temporalio/workflow";
import type { DeployActivities } from "./activities";
import type { DeployRequest, DeploymentResult, Notification } from "./types";

const DEFAULT_HEALTH_DEADLINE_SECONDS = 120;

const { deployToK3s, rollback, notifyUsers } = proxyActivities<DeployActivities>({
  startToCloseTimeout: "1 minute",
  retry: { maximumAttempts: 5, initialInterval: "1 second", backoffCoefficient: 2 },
});

/** Long enough for the deadline it is given, heartbeating so a dead worker is noticed early. */
const { healthCheck } = proxyActivities<DeployActivities>({
  startToCloseTimeout: "15 minutes",
  heartbeatTimeout: "30 seconds",
  retry: { maximumAttempts: 3, initialInterval: "1 second" },
});

export async function deploymentWorkflow(request: DeployRequest): Promise<DeploymentResult> {
  const { service } = request;
  const deadlineSeconds = request.healthDeadlineSeconds ?? DEFAULT_HEALTH_DEADLINE_SECONDS;
  const base: Omit<Notification, "outcome"> = {
    workflowId: workflowInfo().workflowId,
    service: service.name,
    namespace: service.namespace ?? "",
    image: service.image,
    ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
  };
  let applied;
  try {
    applied = await deployToK3s(service);
  } catch (error) {
    await notifyUsers({ ...base, outcome: "failed", reason: failureMessage(error) });
    throw error;
  }
  const target = { namespace: applied.namespace, name: applied.name, deadlineSeconds };
  const where = { ...base, namespace: applied.namespace, host: applied.host };
  const health = await healthCheck(target);
  if (health.healthy) {
    const notified = await notifyUsers({
      ...where,
      outcome: "deployed",
      revision: health.revision,
    });
    return {
      outcome: "deployed",
      namespace: applied.namespace,
      name: applied.name,
      host: applied.host,
      ...(health.revision ? { revision: health.revision } : {}),
      notified,
    };
  }
  const restored = await rollback(target);
  const outcome = restored.rolledBack && restored.health?.healthy ? "rolled-back" : "failed";
  const reason = restored.rolledBack
    ? health.reason
    : `${health.reason}; no rollback: ${restored.reason}`;
  await notifyUsers({
    ...where,
    outcome,
    ...(reason ? { reason } : {}),
    ...(restored.toRevision ? { revision: restored.toRevision } : {}),
  });
  throw ApplicationFailure.nonRetryable(
    `${service.name}: health check failed (${health.reason}); ` +
      (restored.rolledBack
        ? `rolled back from revision ${restored.fromRevision} to ${restored.toRevision}`
        : `not rolled back: ${restored.reason}`),
    outcome === "rolled-back" ? "DeploymentRolledBack" : "DeploymentFailed",
    { health, rollback: restored },
  );
}

function failureMessage(error: unknown): string {
  // An activity's failure arrives wrapped: its cause carries the API server's message.
  const cause = (error as { cause?: { message?: string } }).cause;
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}
