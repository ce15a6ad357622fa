import { waitFor } from "./control-plane";
import { condition, type KubeClient } from "./kube-client";

/**
 * User workloads for the deploy targets' admission checks: what a tenant's service looks like when
 * it satisfies Pod Security `restricted`, and how a refusal shows up once a Deployment's
 * ReplicaSet, not the caller, creates the pods.
 */

/** `2` → 2000, `500m` → 500: enough of the quantity syntax for the presets' CPU values. */
export function cpuMillis(quantity: string): number {
  return quantity.endsWith("m") ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
}

/** A user container that satisfies `restricted`, with the given limits (requests stay small). */
export function restrictedContainer(limits?: { cpu: string; memory: string }) {
  return {
    name: "app",
    image: "registry.example.com/user/service:1.0.0",
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    } as Record<string, unknown>,
    ...(limits ? { resources: { requests: { cpu: "100m", memory: "128Mi" }, limits } } : {}),
  };
}

export function userPod(namespace: string, name: string, container: Record<string, unknown>) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: { containers: [container] },
  };
}

export function userDeployment(
  namespace: string,
  name: string,
  replicas: number,
  container: Record<string, unknown>,
) {
  const labels = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [container] } },
    },
  };
}

/** The ReplicaSet controller's `ReplicaFailure` message for the Deployment's ReplicaSet. */
export async function replicaFailure(
  client: KubeClient,
  namespace: string,
  deployment: string,
): Promise<string> {
  let message = "";
  await waitFor(`ReplicaFailure on the ReplicaSet of ${deployment}`, 60_000, async () => {
    const sets = await client.get(`/apis/apps/v1/namespaces/${namespace}/replicasets`);
    const set = (sets.items ?? []).find((candidate) =>
      (candidate.metadata?.ownerReferences ?? []).some(
        (owner) => owner.kind === "Deployment" && owner.name === deployment,
      ),
    );
    const failure = set ? condition(set, "ReplicaFailure") : undefined;
    message = failure?.message ?? "";
    return failure?.status === "True";
  });
  return message;
}

/** Names of the pods the Deployment's ReplicaSet did create. */
export async function podsOf(
  client: KubeClient,
  namespace: string,
  app: string,
): Promise<string[]> {
  const pods = await client.get(`/api/v1/namespaces/${namespace}/pods?labelSelector=app%3D${app}`);
  return (pods.items ?? []).map((pod) => pod.metadata?.name as string);
}
