import type { Quantities, ServiceSpec } from "./types";

/**
 * A user's service as Kubernetes objects: a ConfigMap of its settings, a Deployment that reads
 * it, a Service on port 80 and an Ingress on `<name>.<appsDomain>`. The pod satisfies Pod
 * Security `restricted`, which every deploy target enforces, and rolls out one surge pod at a
 * time without taking a ready pod away, so a broken version never replaces a working one before
 * the health check has judged it.
 */

/** A Kubernetes object as applied: enough shape for the object API. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Labels on every object of a service; the selector is the name label alone, which never changes. */
export function serviceLabels(name: string): Record<string, string> {
  return { "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "deploy-worker" };
}

/** The namespace a service goes to, refused unless it is a deploy target. */
export function targetNamespace(spec: ServiceSpec, deployNamespaces: string[]): string {
  const namespace = spec.namespace ?? deployNamespaces[0];
  if (!namespace || !deployNamespaces.includes(namespace)) {
    throw new Error(
      `namespace ${namespace ?? "(none)"} is not a deploy target (${deployNamespaces.join(", ")})`,
    );
  }
  return namespace;
}

/** Every object of the service, in the order they are applied (settings before their readers). */
export function serviceManifests(
  spec: ServiceSpec,
  namespace: string,
  appsDomain: string,
): Manifest[] {
  if (!DNS_LABEL.test(spec.name)) throw new Error(`service name ${spec.name} is not a DNS label`);
  const labels = serviceLabels(spec.name);
  const metadata = (name: string) => ({ name, namespace, labels });
  const port = spec.port ?? 8080;
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: metadata(`${spec.name}-config`),
      data: spec.env ?? {},
    },
    deployment(spec, namespace, port),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(spec.name),
      spec: {
        selector: { "app.kubernetes.io/name": spec.name },
        ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
      },
    },
    ingress(spec.name, namespace, `${spec.name}.${appsDomain}`),
  ];
}

function deployment(spec: ServiceSpec, namespace: string, port: number): Manifest {
  const labels = serviceLabels(spec.name);
  const container: Record<string, unknown> = {
    name: "app",
    image: spec.image,
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    envFrom: [{ configMapRef: { name: `${spec.name}-config` } }],
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    ...(spec.resources ? { resources: resources(spec.resources) } : {}),
    ...(spec.readinessPath
      ? { readinessProbe: { httpGet: { path: spec.readinessPath, port: "http" } } }
      : {}),
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: spec.name, namespace, labels },
    spec: {
      replicas: spec.replicas ?? 1,
      selector: { matchLabels: { "app.kubernetes.io/name": spec.name } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      // Kubernetes keeps the old ReplicaSets that `rollback` returns to.
      revisionHistoryLimit: 5,
      template: {
        metadata: { labels },
        spec: { automountServiceAccountToken: false, containers: [container] },
      },
    },
  };
}

function resources(given: { requests?: Quantities; limits?: Quantities }) {
  const clean = (quantities?: Quantities) =>
    quantities && Object.keys(quantities).length > 0 ? { ...quantities } : undefined;
  const requests = clean(given.requests);
  const limits = clean(given.limits);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

function ingress(name: string, namespace: string, host: string): Manifest {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace, labels: serviceLabels(name) },
    spec: {
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name, port: { name: "http" } } },
              },
            ],
          },
        },
      ],
    },
  };
}
