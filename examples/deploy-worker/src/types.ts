/**
 * What the web side hands the deploy workflow and what it gets back: plain data, shared by the
 * workflow (which runs in Temporal's sandbox and may import nothing with side effects) and the
 * activities.
 */

/** The task queue the worker polls when `DEPLOY_TASK_QUEUE` does not name another. */
export const DEFAULT_TASK_QUEUE = "deployments";

/** CPU and memory of a container, as Kubernetes quantities (`250m`, `256Mi`). */
export interface Quantities {
  cpu?: string;
  memory?: string;
}

/** A user's service: one container behind a Service and an Ingress, its settings in a ConfigMap. */
export interface ServiceSpec {
  /** DNS label: the name of every object and the host's first label. */
  name: string;
  /** One of `DEPLOY_NAMESPACES`; the first of them when left out. */
  namespace?: string;
  image: string;
  /** @default 1 */
  replicas?: number;
  /** The container's HTTP port; the Service maps 80 to it. @default 8080 */
  port?: number;
  /** Plain settings, put in the service's ConfigMap and read with `envFrom`. */
  env?: Record<string, string>;
  /** Left out, the target's LimitRange fills in its defaults. */
  resources?: { requests?: Quantities; limits?: Quantities };
  /** A readiness probe on this HTTP path, when given. */
  readinessPath?: string;
}

export interface DeployRequest {
  service: ServiceSpec;
  /** Who asked, for the notification. */
  requestedBy?: string;
  /** How long the health check waits for the rollout. @default 120 */
  healthDeadlineSeconds?: number;
}

/** What `deployToK3s` applied. */
export interface Applied {
  namespace: string;
  name: string;
  host: string;
  /** `Kind/name` of every object applied, in order. */
  objects: string[];
  /** The Deployment's `metadata.generation` after the apply: the rollout to watch. */
  generation: number;
}

/** Where a rollout ended. */
export interface Health {
  healthy: boolean;
  /** Why not, in the API server's and kubelet's words. */
  reason?: string;
  /** The Deployment's revision that was checked. */
  revision?: string;
  /** Milliseconds the check took. */
  elapsedMs: number;
}

export interface RollbackResult {
  /** False when there was no earlier revision to return to. */
  rolledBack: boolean;
  fromRevision?: string;
  /** The revision whose template was restored. */
  toRevision?: string;
  /** The restored rollout's health, once it settled. */
  health?: Health;
  reason?: string;
}

export type Outcome = "deployed" | "rolled-back" | "failed";

/** The JSON body `notifyUsers` posts to the webhook. */
export interface Notification {
  outcome: Outcome;
  workflowId: string;
  service: string;
  namespace: string;
  image: string;
  host?: string;
  requestedBy?: string;
  reason?: string;
  revision?: string;
}

export interface DeploymentResult {
  outcome: "deployed";
  namespace: string;
  name: string;
  host: string;
  revision?: string;
  notified: boolean;
}
