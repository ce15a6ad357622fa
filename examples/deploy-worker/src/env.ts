import { DEFAULT_TASK_QUEUE } from "./types";

/**
 * The worker's settings, all from the platform's env contract (docs/env-contract.md), so the same
 * code runs in the app-worker pod and in a test that sets the variables itself.
 */
export interface WorkerEnv {
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  /** `DEPLOY_NAMESPACES`: the only namespaces the worker may deploy to. */
  deployNamespaces: string[];
  /** Users' hosts are `<service>.<appsDomain>`. */
  appsDomain: string;
  /** Where `notifyUsers` posts; no notification without it. */
  notifyWebhookUrl?: string;
  /** Server-side apply's field manager: who owns the fields the worker sets. */
  fieldManager: string;
}

/** The field manager when `DEPLOY_FIELD_MANAGER` does not name another. */
export const DEFAULT_FIELD_MANAGER = "k3s-platform-deploy-worker";

export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new Error(`${name} is not set: the platform's env contract provides it`);
    return value;
  };
  const deployNamespaces = required("DEPLOY_NAMESPACES")
    .split(",")
    .map((namespace) => namespace.trim())
    .filter((namespace) => namespace.length > 0);
  const notifyWebhookUrl = env.NOTIFY_WEBHOOK_URL?.trim();
  if (notifyWebhookUrl) new URL(notifyWebhookUrl); // refuse a malformed URL at start, not at the end of a deploy
  return {
    temporalAddress: required("TEMPORAL_ADDRESS"),
    temporalNamespace: required("TEMPORAL_NAMESPACE"),
    taskQueue: env.DEPLOY_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE,
    deployNamespaces,
    appsDomain: required("APPS_DOMAIN").replace(/^\*\./, ""),
    ...(notifyWebhookUrl ? { notifyWebhookUrl } : {}),
    fieldManager: env.DEPLOY_FIELD_MANAGER?.trim() || DEFAULT_FIELD_MANAGER,
  };
}
