import type * as k8s from "@pulumi/kubernetes";
type EnvVar = k8s.types.input.core.v1.EnvVar;
import { DEFAULT_INGRESS_CLASS, type IngressSettings } from "../lib/ingress";
import * as pulumi from "@pulumi/pulumi";
import { selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { check, probesFor } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import { scrapeAnnotations } from "../lib/scrape";
import type { SecretKey } from "../lib/secrets";
import type { ServicePortSpec } from "../lib/stateful";
import { container, emptyDir, objectMeta, podTemplate } from "../lib/workload";
import { serverUpdateStrategy } from "./args";
import {
  FRONTEND_HTTP_PORT,
  TEMPORAL_CONFIG_DIR,
  TEMPORAL_CONFIG_ENV,
  TEMPORAL_CONFIG_FILE,
  TEMPORAL_METRICS_PORT,
  TEMPORAL_PORTS,
  type TemporalServiceName,
} from "./config";

/**
 * Builders of the server and UI workloads and of the objects around them (Services, PDBs,
 * Ingress). Pure: the component wires them to resources.
 */

/** The gRPC health service name each Temporal service reports (`grpc.health.v1`). */
export const HEALTH_SERVICES: Readonly<Record<TemporalServiceName, string>> = {
  frontend: "temporal.api.workflowservice.v1.WorkflowService",
  history: "temporal.api.workflowservice.v1.HistoryService",
  matching: "temporal.api.workflowservice.v1.MatchingService",
  worker: "temporal.api.workflowservice.v1.WorkerService",
};

/** The UI's HTTP port (`TEMPORAL_UI_PORT`). */
export const TEMPORAL_UI_PORT = 8080;

/** Container port names (at most 15 characters, unique in a pod that runs all services). */
export function portNames(service: TemporalServiceName): { grpc: string; membership: string } {
  return { grpc: `grpc-${service}`, membership: `memb-${service}` };
}

/** The server's command line: one config file, the given services. */
export function serverCommand(services: readonly TemporalServiceName[]): string[] {
  return [
    "temporal-server",
    "--config-file",
    `${TEMPORAL_CONFIG_DIR}/${TEMPORAL_CONFIG_FILE}`,
    // No authorizer: clients are limited by the network policies instead. Saying so explicitly
    // silences the warning that a future server will require the flag.
    "--allow-no-auth",
    "start",
    ...services.flatMap((service) => ["--service", service]),
  ];
}

function serverPorts(services: readonly TemporalServiceName[]) {
  return [
    ...services.flatMap((service) => [
      { name: portNames(service).grpc, containerPort: TEMPORAL_PORTS[service].grpc },
      { name: portNames(service).membership, containerPort: TEMPORAL_PORTS[service].membership },
    ]),
    ...(services.includes("frontend")
      ? [{ name: "http-frontend", containerPort: FRONTEND_HTTP_PORT }]
      : []),
    { name: "metrics", containerPort: TEMPORAL_METRICS_PORT },
  ];
}

/**
 * Readiness asks the gRPC health of the pod's first service (the frontend when it has one: it
 * turns SERVING once cluster membership is initialised; history once it holds its shards);
 * liveness only needs the port open, so a slow database makes pods unready instead of restarting
 * them. Start-up (joining membership, acquiring shards) gets three minutes.
 */
export function serverProbes(services: readonly TemporalServiceName[]) {
  const first = services[0];
  return probesFor(check.grpc(TEMPORAL_PORTS[first].grpc, HEALTH_SERVICES[first]), {
    liveness: check.tcp(portNames(first).grpc),
    startupSeconds: 180,
  });
}

/** What one server Deployment is made of. */
export interface ServerWorkloadSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  /** The services its pods run: all four (dev) or one (prod). */
  services: readonly TemporalServiceName[];
  image: string;
  uid: number;
  replicas: number;
  resources: ResourceSpec;
  configMapName: pulumi.Input<string>;
  user: SecretKey;
  password: SecretKey;
  /** Pod-template annotations besides the scrape ones (the config hash). */
  podAnnotations: pulumi.Input<Record<string, string>>;
}

/** A Deployment of Temporal server pods. */
export function serverDeployment(spec: ServerWorkloadSpec): k8s.apps.v1.DeploymentArgs {
  const main = container({
    name: "temporal",
    image: spec.image,
    command: serverCommand(spec.services),
    ports: serverPorts(spec.services),
    env: [
      spec.user.env(TEMPORAL_CONFIG_ENV.user),
      spec.password.env(TEMPORAL_CONFIG_ENV.password),
      { name: TEMPORAL_CONFIG_ENV.podIp, valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
    ],
    resources: spec.resources,
    probes: serverProbes(spec.services),
    volumeMounts: [
      { name: "config", mountPath: TEMPORAL_CONFIG_DIR, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
  });
  const annotations = pulumi
    .output(spec.podAnnotations)
    .apply((hash) => ({ ...hash, ...scrapeAnnotations(TEMPORAL_METRICS_PORT) }));
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selectorFor(spec.identity) },
      strategy: serverUpdateStrategy(spec.replicas),
      template: podTemplate(
        spec.identity,
        {
          containers: [main],
          volumes: [
            { name: "config", configMap: { name: spec.configMapName, defaultMode: 0o444 } },
            emptyDir("tmp"),
          ],
          security: { runAsUser: spec.uid },
          // History hands its shards over on shutdown; give it time to do so cleanly.
          terminationGracePeriodSeconds: 60,
          spreadAcrossNodes: spec.replicas > 1,
        },
        annotations,
      ),
    },
  };
}

/**
 * The ports of a server Deployment's headless Service: the gRPC and membership ports of the
 * services its pods run, which the other members of the cluster reach pod by pod. (Temporal finds
 * its members in the `cluster_membership` table; the Service names the pods, addresses and ports
 * for DNS and network policies.)
 */
export function memberPorts(services: readonly TemporalServiceName[]): ServicePortSpec[] {
  return services.flatMap((service) => [
    { name: portNames(service).grpc, port: TEMPORAL_PORTS[service].grpc },
    { name: portNames(service).membership, port: TEMPORAL_PORTS[service].membership },
  ]);
}

/** What the UI Deployment is made of. */
export interface UiWorkloadSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  uid: number;
  replicas: number;
  resources: ResourceSpec;
  frontendAddress: pulumi.Input<string>;
  /** Namespace the UI opens by default: the app's. */
  defaultNamespace: string;
  /** The URL users open, the only origin the UI accepts requests from. */
  url: string;
  /** Served over TLS (then the CSRF cookie is `Secure`). */
  tls: boolean;
  /** Terminate, cancel, reset, signal and batch actions. */
  writeActions: boolean;
  /** The OIDC login, when it has one. */
  auth?: UiAuth;
  /** Pod-template annotations (the config hash of the login's Secret). */
  podAnnotations?: pulumi.Input<Record<string, string>>;
}

/** The UI's OIDC login as its container gets it. */
export interface UiAuth {
  issuerUrl: string;
  clientId: string;
  scopes: readonly string[];
  /** Where the provider sends the browser back: `<UI URL>/auth/sso/callback`. */
  callbackUrl: string;
  /** The client secret, in a Secret: never a plain env value or a ConfigMap. */
  clientSecret: SecretKey;
}

/** The UI server's callback path (ui-server's `/auth/sso/callback` route). */
export const UI_CALLBACK_PATH = "/auth/sso/callback";

/**
 * The UI server's auth and write-action settings, by the variables its Docker image's config
 * template reads (temporalio/ui `server/docker/config-template.yaml`).
 */
export function uiAccessEnv(spec: Pick<UiWorkloadSpec, "writeActions" | "auth">): EnvVar[] {
  const { auth } = spec;
  return [
    // One switch for every write action (terminate, cancel, reset, signal, batch).
    { name: "TEMPORAL_DISABLE_WRITE_ACTIONS", value: String(!spec.writeActions) },
    { name: "TEMPORAL_AUTH_ENABLED", value: String(auth !== undefined) },
    ...(auth
      ? [
          { name: "TEMPORAL_AUTH_PROVIDER_URL", value: auth.issuerUrl },
          { name: "TEMPORAL_AUTH_CLIENT_ID", value: auth.clientId },
          auth.clientSecret.env("TEMPORAL_AUTH_CLIENT_SECRET"),
          { name: "TEMPORAL_AUTH_CALLBACK_URL", value: auth.callbackUrl },
          { name: "TEMPORAL_AUTH_SCOPES", value: auth.scopes.join(",") },
        ]
      : []),
  ];
}

/** The Temporal Web UI. */
export function uiDeployment(spec: UiWorkloadSpec): k8s.apps.v1.DeploymentArgs {
  const main = container({
    name: "ui",
    image: spec.image,
    ports: [{ name: "http", containerPort: TEMPORAL_UI_PORT }],
    env: [
      { name: "TEMPORAL_ADDRESS", value: spec.frontendAddress },
      { name: "TEMPORAL_UI_PORT", value: String(TEMPORAL_UI_PORT) },
      { name: "TEMPORAL_DEFAULT_NAMESPACE", value: spec.defaultNamespace },
      { name: "TEMPORAL_CORS_ORIGINS", value: spec.url },
      // A Secure cookie is dropped by browsers on plain http, and every write action then fails
      // its CSRF check: only mark it Secure where the Ingress serves TLS.
      { name: "TEMPORAL_CSRF_COOKIE_INSECURE", value: String(!spec.tls) },
      ...uiAccessEnv(spec),
    ],
    resources: spec.resources,
    probes: probesFor(check.http("/healthz", "http"), { liveness: check.tcp("http") }),
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  });
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selectorFor(spec.identity) },
      template: podTemplate(
        spec.identity,
        {
          containers: [main],
          volumes: [emptyDir("tmp")],
          security: { runAsUser: spec.uid },
          spreadAcrossNodes: spec.replicas > 1,
        },
        spec.podAnnotations,
      ),
    },
  };
}

/** The UI's Ingress: one host, TLS when a certificate Secret is named. */
export function uiIngressArgs(
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
  ingress: IngressSettings,
  serviceName: pulumi.Input<string>,
): k8s.networking.v1.IngressArgs {
  return {
    metadata: objectMeta(name, namespace, identity),
    spec: {
      ingressClassName: ingress.ingressClassName ?? DEFAULT_INGRESS_CLASS,
      rules: [
        {
          host: ingress.host,
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: serviceName, port: { number: TEMPORAL_UI_PORT } } },
              },
            ],
          },
        },
      ],
      ...(ingress.tlsSecretName
        ? { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }] }
        : {}),
    },
  };
}
