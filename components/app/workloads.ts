import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { check, probesFor } from "../lib/probes";
import { scrapeAnnotations } from "../lib/scrape";
import { container, emptyDir, objectMeta, podTemplate, type PodArgs } from "../lib/workload";
import type { AppProbe, ResolvedProbes, ResolvedWeb, ResolvedWorker } from "./args";

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** Port of the web Service; the Ingress targets it by name. */
export const WEB_SERVICE_PORT = 80;
/** Paths the Ingress routes to web (Prefix: `/api` covers `/api/openapi.json`). */
export const INGRESS_PATHS = ["/api", "/trpc"] as const;
/** The path that carries tRPC subscriptions as Server-Sent Events. */
export const SSE_PATH = "/trpc";
/**
 * Our record on the Ingress of which paths stream (SSE): Traefik has no per-router timeout or
 * buffering annotation, so this tells readers and checks what the entrypoint must allow.
 */
export const STREAMING_PATHS_ANNOTATION = "k3s-platform/streaming-paths";

/**
 * What K3s's Traefik needs for SSE, set once per cluster in
 * `/var/lib/rancher/k3s/server/manifests/traefik-config.yaml`. Traefik v3 (K3s ≥ 1.32) sets the
 * entrypoint `readTimeout` to 60s by default, and Go's HTTP server cancels a request whose read
 * deadline passes even while its response is still streaming: every subscription would drop
 * after a minute. The timeout is entrypoint (static) configuration, which no Ingress annotation,
 * Middleware or ServersTransport can change. An hour keeps a bound on slow uploads; SSE clients
 * reconnect (tRPC resumes with Last-Event-ID). Traefik does not buffer responses unless a
 * `buffering` middleware is attached, and flushes `text/event-stream` at once: attach none.
 */
export const TRAEFIK_SSE_HELM_CHART_CONFIG = `apiVersion: helm.cattle.io/v1
kind: HelmChartConfig
metadata:
  name: traefik
  namespace: kube-system
spec:
  valuesContent: |-
    ports:
      web:
        transport:
          respondingTimeouts:
            readTimeout: 3600s
      websecure:
        transport:
          respondingTimeouts:
            readTimeout: 3600s
`;

/** What the web Deployment is built from. */
export interface WebWorkloadSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: pulumi.Input<string>;
  uid: number;
  gid: number;
  /** Secrets the kubelet pulls the image with. */
  imagePullSecrets: pulumi.Input<string>[];
  env: EnvVar[];
  web: ResolvedWeb;
  metrics: { port: number; path: string } | false;
  /** The config hash of the Secrets the pods read. */
  configHash: pulumi.Output<Record<string, string>>;
}

/** What the worker Deployment is built from. */
export interface WorkerWorkloadSpec extends Omit<WebWorkloadSpec, "web"> {
  worker: ResolvedWorker;
  serviceAccountName?: pulumi.Input<string>;
}

function podAnnotations(
  configHash: pulumi.Output<Record<string, string>>,
  metrics: { port: number; path: string } | false,
): pulumi.Output<Record<string, string>> {
  return configHash.apply((hash) => ({
    ...hash,
    ...(metrics ? scrapeAnnotations(metrics.port, metrics.path) : {}),
  }));
}

/** The `/tmp` both containers write to (the root filesystem is read-only). */
const TMP_MOUNT = { name: "tmp", mountPath: "/tmp" };

/**
 * The frame web and worker share: one container with a writable `/tmp`, run as the image's
 * user, rolled out one new pod before an old one goes (maxUnavailable 0), annotated with the
 * config hash and the scrape target. `pod` adds what differs; no `replicas` unless given.
 */
function appDeployment(
  spec: Omit<WebWorkloadSpec, "web" | "env" | "image">,
  main: ReturnType<typeof container>,
  pod: Omit<PodArgs, "containers" | "volumes" | "security">,
  replicas?: number,
): k8s.apps.v1.DeploymentArgs {
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: selectorFor(spec.identity) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: podTemplate(
        spec.identity,
        {
          containers: [main],
          volumes: [emptyDir(TMP_MOUNT.name, "256Mi")],
          security: { runAsUser: spec.uid, runAsGroup: spec.gid },
          imagePullSecrets: spec.imagePullSecrets,
          ...pod,
        },
        podAnnotations(spec.configHash, spec.metrics),
      ),
    },
  };
}

/** The probe handler of an app probe: a GET on its port (else the named container port), or exec. */
function handlerOf(probe: AppProbe, portName: string) {
  return probe.exec !== undefined
    ? check.exec(...probe.exec)
    : check.http(probe.path ?? "/", probe.port ?? portName);
}

function appProbes(probes: ResolvedProbes, portName: string) {
  return probesFor(handlerOf(probes.readiness, portName), {
    liveness: handlerOf(probes.liveness, portName),
    startup: handlerOf(probes.startup, portName),
    startupSeconds: probes.startupSeconds,
  });
}

/** Whether a probe reaches the container's own health port (an HTTP probe without a port of its own). */
function servesHealthPort(probes: ResolvedProbes): boolean {
  return [probes.readiness, probes.liveness, probes.startup].some(
    (probe) => probe.exec === undefined && probe.port === undefined,
  );
}

function metricsPort(metrics: { port: number } | false) {
  return metrics ? [{ name: "metrics", containerPort: metrics.port }] : [];
}

/**
 * The web Deployment. No `spec.replicas`: the HPA owns the count, and a value here would reset
 * it on every update. A new pod is ready before an old one goes (maxUnavailable 0); an old one
 * keeps serving for `preStopSeconds` after it is marked terminating, so Traefik stops sending
 * it requests before the process sees SIGTERM.
 */
export function webDeployment(spec: WebWorkloadSpec): k8s.apps.v1.DeploymentArgs {
  const main = container({
    name: "web",
    image: spec.image,
    command: spec.web.command,
    args: spec.web.args,
    ports: [{ name: "http", containerPort: spec.web.port }, ...metricsPort(spec.metrics)],
    env: spec.env,
    resources: spec.web.resources,
    probes: appProbes(spec.web.probes, "http"),
    // sleep runs in the kubelet: it needs no shell in the image (Kubernetes ≥ 1.30).
    lifecycle: { preStop: { sleep: { seconds: spec.web.preStopSeconds } } },
    volumeMounts: [TMP_MOUNT],
  });
  return appDeployment(spec, main, {
    terminationGracePeriodSeconds: spec.web.terminationGracePeriodSeconds,
    spreadAcrossNodes: true,
    nodeSpread: spec.web.nodeSpread,
  });
}

/**
 * The worker Deployment: no Service, its own replicas. Its token is mounted only when it has its
 * own ServiceAccount, i.e. when deploy targets give it API rights.
 */
export function workerDeployment(spec: WorkerWorkloadSpec): k8s.apps.v1.DeploymentArgs {
  const main = container({
    name: "worker",
    image: spec.image,
    command: spec.worker.command,
    args: spec.worker.args,
    ports: [
      ...(servesHealthPort(spec.worker.probes)
        ? [{ name: "health", containerPort: spec.worker.healthPort }]
        : []),
      ...metricsPort(spec.metrics),
    ],
    env: spec.env,
    resources: spec.worker.resources,
    probes: appProbes(spec.worker.probes, "health"),
    volumeMounts: [TMP_MOUNT],
  });
  return appDeployment(
    spec,
    main,
    {
      terminationGracePeriodSeconds: spec.worker.terminationGracePeriodSeconds,
      spreadAcrossNodes: spec.worker.replicas > 1,
      ...(spec.serviceAccountName
        ? { serviceAccountName: spec.serviceAccountName, automountServiceAccountToken: true }
        : {}),
    },
    spec.worker.replicas,
  );
}

/** The web Service (ClusterIP, port 80 → the `http` container port). */
export function webService(
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
): k8s.core.v1.ServiceArgs {
  return {
    metadata: objectMeta(name, namespace, identity),
    spec: {
      type: "ClusterIP",
      selector: selectorFor(identity),
      ports: [{ name: "http", port: WEB_SERVICE_PORT, targetPort: "http", protocol: "TCP" }],
    },
  };
}

/** Traefik router annotations of the web Ingress. */
export function webIngressAnnotations(tls: boolean): Record<string, string> {
  return {
    // The entrypoint whose timeouts TRAEFIK_SSE_HELM_CHART_CONFIG raises.
    "traefik.ingress.kubernetes.io/router.entrypoints": tls ? "websecure" : "web",
    ...(tls ? { "traefik.ingress.kubernetes.io/router.tls": "true" } : {}),
    // Deliberately no router.middlewares: a buffering or compress middleware would hold back
    // SSE frames.
    [STREAMING_PATHS_ANNOTATION]: SSE_PATH,
  };
}

/** What the web Ingress is built from. */
export interface WebIngressSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  host: string;
  tlsSecretName?: string;
  ingressClassName: string;
  serviceName: pulumi.Input<string>;
}

/** `/api` and `/trpc` on the host to the web Service. */
export function webIngress(spec: WebIngressSpec): k8s.networking.v1.IngressArgs {
  const tls = spec.tlsSecretName !== undefined;
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity, webIngressAnnotations(tls)),
    spec: {
      ingressClassName: spec.ingressClassName,
      ...(tls ? { tls: [{ hosts: [spec.host], secretName: spec.tlsSecretName }] } : {}),
      rules: [
        {
          host: spec.host,
          http: {
            paths: INGRESS_PATHS.map((path) => ({
              path,
              pathType: "Prefix",
              backend: { service: { name: spec.serviceName, port: { name: "http" } } },
            })),
          },
        },
      ],
    },
  };
}

/** CPU-based HPA of the web Deployment. */
export function webAutoscaler(
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
  deploymentName: pulumi.Input<string>,
  web: ResolvedWeb,
): k8s.autoscaling.v2.HorizontalPodAutoscalerArgs {
  return {
    metadata: objectMeta(name, namespace, identity),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deploymentName },
      minReplicas: web.minReplicas,
      maxReplicas: web.maxReplicas,
      metrics: [
        {
          type: "Resource",
          resource: {
            name: "cpu",
            target: { type: "Utilization", averageUtilization: web.targetCpuUtilization },
          },
        },
      ],
    },
  };
}
