import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Profile } from "../../policy/model/profile";
import type { SecretKey } from "../lib/secrets";

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** One variable of the app's environment contract (docs/env-contract.md, README). */
export interface AppEnvVariable {
  name: string;
  /** Arrives through `secretKeyRef`, never as a value. */
  credential: boolean;
  /** Set only when `directDatabaseAccess` is on. */
  onlyWithDirectDatabaseAccess?: boolean;
  /** Set only when the stack has an Arcjet key. */
  onlyWithArcjetKey?: boolean;
  /** Set only on the worker, and only when it has deploy namespaces (its API rights). */
  onlyOnWorkerWithDeployNamespaces?: boolean;
  description: string;
}

/**
 * The environment `web` and `worker` receive (`DEPLOY_NAMESPACES` the worker alone).
 * `AWS_REGION` is in it although no region matters here: the AWS SDKs refuse to start without
 * one, even against MinIO.
 */
export const APP_ENV_VARIABLES: readonly AppEnvVariable[] = [
  {
    name: "DATABASE_URL",
    credential: true,
    description: "Postgres through PgBouncer (transaction pooling)",
  },
  {
    name: "DATABASE_DIRECT_URL",
    credential: true,
    onlyWithDirectDatabaseAccess: true,
    description: "Postgres directly, for session features (LISTEN, advisory locks); off by default",
  },
  {
    name: "REDIS_URL",
    credential: true,
    description: "Dragonfly (BullMQ); queues use {hashtag} prefixes",
  },
  { name: "OTEL_EXPORTER_OTLP_ENDPOINT", credential: false, description: "OTel Collector, OTLP" },
  { name: "OTEL_SERVICE_NAME", credential: false, description: "`web` or `worker`" },
  {
    name: "OTEL_RESOURCE_ATTRIBUTES",
    credential: false,
    description: "deployment.environment, service.namespace, service.version, k8s.* of the pod",
  },
  { name: "TEMPORAL_ADDRESS", credential: false, description: "Temporal frontend, host:7233" },
  { name: "TEMPORAL_NAMESPACE", credential: false, description: "Temporal namespace" },
  { name: "S3_ENDPOINT", credential: false, description: "S3-compatible endpoint URL" },
  { name: "S3_BUCKET", credential: false, description: "The app's bucket" },
  { name: "AWS_ACCESS_KEY_ID", credential: true, description: "S3 access key id" },
  { name: "AWS_SECRET_ACCESS_KEY", credential: true, description: "S3 secret access key" },
  { name: "AWS_REGION", credential: false, description: "S3 region (any value for MinIO)" },
  { name: "OLLAMA_HOST", credential: false, description: "Ollama base URL" },
  {
    name: "ARCJET_KEY",
    credential: true,
    onlyWithArcjetKey: true,
    description:
      "Arcjet site key; only when the stack sets `arcjetKey` (without it, no Arcjet egress)",
  },
  {
    name: "DEPLOY_NAMESPACES",
    credential: false,
    onlyOnWorkerWithDeployNamespaces: true,
    description:
      "Worker only: the deploy target namespaces it may deploy user services to, comma-separated",
  },
  {
    name: "APPS_DOMAIN",
    credential: false,
    onlyOnWorkerWithDeployNamespaces: true,
    description:
      "Worker only: the domain users' services are served under (`<service>.<APPS_DOMAIN>`); the cluster refuses their Ingresses elsewhere",
  },
];

/** The contract's variable names, in order. */
export const APP_ENV_CONTRACT: readonly string[] = APP_ENV_VARIABLES.map((v) => v.name);

/**
 * The variables a pod gets for the given `directDatabaseAccess` and Arcjet key;
 * `workerWithDeployNamespaces` for the worker of a stack with deploy targets (never for `web`).
 */
export function contractFor(
  directDatabaseAccess: boolean,
  arcjetKey = true,
  workerWithDeployNamespaces = false,
): string[] {
  return APP_ENV_VARIABLES.filter(
    (v) =>
      (directDatabaseAccess || !v.onlyWithDirectDatabaseAccess) &&
      (arcjetKey || !v.onlyWithArcjetKey) &&
      (workerWithDeployNamespaces || !v.onlyOnWorkerWithDeployNamespaces),
  ).map((v) => v.name);
}

/** Downward-API variables that `OTEL_RESOURCE_ATTRIBUTES` refers to as `$(NAME)`. */
const POD_FIELDS = {
  K8S_POD_NAME: "metadata.name",
  K8S_NAMESPACE_NAME: "metadata.namespace",
  K8S_NODE_NAME: "spec.nodeName",
} as const;

/** Everything the environment is built from, already resolved. */
export interface AppEnvSpec {
  profile: Profile;
  /** OTel `service.name`: `web` or `worker`; also `k8s.deployment.name`'s workload. */
  serviceName: string;
  /** OTel `service.namespace`. */
  serviceNamespace: string;
  /** OTel `service.version` when the image has a tag. */
  serviceVersion?: string;
  /** Kubernetes Deployment name, for `k8s.deployment.name`. */
  deploymentName: string;
  databaseUrl: SecretKey;
  /** Present only when direct database access is on. */
  databaseDirectUrl?: SecretKey;
  redisUrl: SecretKey;
  otlpEndpoint: pulumi.Input<string>;
  temporalAddress: pulumi.Input<string>;
  temporalNamespace: pulumi.Input<string>;
  s3Endpoint: pulumi.Input<string>;
  s3Bucket: pulumi.Input<string>;
  s3Region: string;
  accessKeyId: SecretKey;
  secretAccessKey: SecretKey;
  ollamaHost: pulumi.Input<string>;
  /** Present only when the stack has an Arcjet key. */
  arcjetKey?: SecretKey;
  /** Present only for the worker, when deploy targets give it namespaces to deploy to. */
  deployNamespaces?: pulumi.Input<string[]>;
  /** The domain users' services live under; set with `deployNamespaces`. */
  appsDomain?: pulumi.Input<string>;
}

/**
 * `key=value,…` for OTEL_RESOURCE_ATTRIBUTES. The pod's own names come from the downward API and
 * are expanded by the kubelet (`$(VAR)` of variables defined earlier in the list).
 */
export function resourceAttributes(spec: AppEnvSpec): string {
  const attributes: [string, string][] = [
    ["deployment.environment", spec.profile],
    // The semantic-conventions name since 1.27; older SDKs and dashboards read the one above.
    ["deployment.environment.name", spec.profile],
    ["service.namespace", spec.serviceNamespace],
    ...(spec.serviceVersion
      ? ([["service.version", spec.serviceVersion]] as [string, string][])
      : []),
    ["k8s.deployment.name", spec.deploymentName],
    ["k8s.pod.name", "$(K8S_POD_NAME)"],
    ["k8s.namespace.name", "$(K8S_NAMESPACE_NAME)"],
    ["k8s.node.name", "$(K8S_NODE_NAME)"],
  ];
  return attributes.map(([key, value]) => `${key}=${value}`).join(",");
}

/** The container environment: the contract, credentials only through `secretKeyRef`. */
export function appEnv(spec: AppEnvSpec): EnvVar[] {
  const value = (name: string, input: pulumi.Input<string>): EnvVar => ({ name, value: input });
  return [
    ...Object.entries(POD_FIELDS).map(([name, fieldPath]) => ({
      name,
      valueFrom: { fieldRef: { fieldPath } },
    })),
    spec.databaseUrl.env("DATABASE_URL"),
    ...(spec.databaseDirectUrl ? [spec.databaseDirectUrl.env("DATABASE_DIRECT_URL")] : []),
    spec.redisUrl.env("REDIS_URL"),
    value("OTEL_EXPORTER_OTLP_ENDPOINT", spec.otlpEndpoint),
    value("OTEL_SERVICE_NAME", spec.serviceName),
    value("OTEL_RESOURCE_ATTRIBUTES", resourceAttributes(spec)),
    value("TEMPORAL_ADDRESS", spec.temporalAddress),
    value("TEMPORAL_NAMESPACE", spec.temporalNamespace),
    value("S3_ENDPOINT", spec.s3Endpoint),
    value("S3_BUCKET", spec.s3Bucket),
    spec.accessKeyId.env("AWS_ACCESS_KEY_ID"),
    spec.secretAccessKey.env("AWS_SECRET_ACCESS_KEY"),
    value("AWS_REGION", spec.s3Region),
    value("OLLAMA_HOST", spec.ollamaHost),
    ...(spec.arcjetKey ? [spec.arcjetKey.env("ARCJET_KEY")] : []),
    ...(spec.deployNamespaces !== undefined
      ? [
          value(
            "DEPLOY_NAMESPACES",
            pulumi.output(spec.deployNamespaces).apply((names) => names.join(",")),
          ),
          ...(spec.appsDomain !== undefined ? [value("APPS_DOMAIN", spec.appsDomain)] : []),
        ]
      : []),
  ];
}

/**
 * What the pods read from Secrets, for the config-hash annotation: a rotated credential changes
 * the hash and rolls the pods. A key whose owner did not share the Secret's content is hashed by
 * its reference, so at least re-pointing it rolls them.
 */
export function secretHashInputs(keys: SecretKey[]): pulumi.Input<unknown>[] {
  return keys.map(
    (key) => key.content ?? pulumi.all([key.secretName, key.key]).apply(([n, k]) => `${n}/${k}`),
  );
}
