import * as net from "node:net";
import * as k8s from "@kubernetes/client-node";

/**
 * The worker's Kubernetes credentials, as a pod has them: the API server from the
 * `KUBERNETES_SERVICE_HOST`/`_PORT` variables the kubelet sets, and the projected ServiceAccount
 * token and cluster CA mounted at the standard path. Each can be pointed elsewhere
 * (`KUBE_API_URL`, `KUBE_TOKEN_FILE`, `KUBE_CA_FILE`) so a process outside a pod runs with a
 * token from the TokenRequest API, without a kubeconfig.
 */

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export function inClusterConfig(env: NodeJS.ProcessEnv = process.env): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  config.loadFromClusterAndUser(
    {
      name: "in-cluster",
      server: env.KUBE_API_URL?.trim() || serviceUrl(env),
      caFile: env.KUBE_CA_FILE?.trim() || `${SERVICE_ACCOUNT_DIR}/ca.crt`,
      skipTLSVerify: false,
    },
    {
      name: "deploy-worker",
      // The client re-reads the file as the token nears expiry: the kubelet rotates a projected
      // token in place, and a long-lived worker must follow it.
      authProvider: {
        name: "tokenFile",
        config: { tokenFile: env.KUBE_TOKEN_FILE?.trim() || `${SERVICE_ACCOUNT_DIR}/token` },
      },
    },
  );
  return config;
}

function serviceUrl(env: NodeJS.ProcessEnv): string {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error(
      "no API server: KUBERNETES_SERVICE_HOST/PORT are unset (not in a pod) and KUBE_API_URL is not set",
    );
  }
  return `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** The clients the activities use. */
export interface Kube {
  objects: k8s.KubernetesObjectApi;
  apps: k8s.AppsV1Api;
  core: k8s.CoreV1Api;
  watch: k8s.Watch;
}

export function kubeClients(config: k8s.KubeConfig): Kube {
  return {
    objects: k8s.KubernetesObjectApi.makeApiClient(config),
    apps: config.makeApiClient(k8s.AppsV1Api),
    core: config.makeApiClient(k8s.CoreV1Api),
    watch: new k8s.Watch(config),
  };
}

/** The API server's own message from a failed call (`403 … is forbidden: …`), else the error's. */
export function apiMessage(error: unknown): { status?: number; message: string } {
  if (error instanceof k8s.ApiException) {
    const body: unknown = error.body;
    let message = typeof body === "string" ? body : JSON.stringify(body);
    try {
      const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { message?: string };
      if (parsed?.message) message = parsed.message;
    } catch {
      // Not JSON (a proxy's HTML page): the raw body is the best there is.
    }
    return { status: error.code, message: `${error.code} ${message}` };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}
