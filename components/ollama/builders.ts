import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../../core/images";
import { selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { hashedName } from "../lib/hash";
import { check, probesFor } from "../lib/probes";
import { memoryCeiling, RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import {
  container,
  emptyDir,
  objectMeta,
  podTemplate,
  retriedJobAnnotations,
} from "../lib/workload";
import { OLLAMA_DEFAULTS, type OllamaArgs } from "./args";

/** Ollama's API port. */
export const OLLAMA_PORT = 11434;
/**
 * Upstream runs as root with HOME=/root and keeps keys and models in `/root/.ollama`. We run it as
 * a non-root UID (Pod Security `restricted`), so HOME points at a path that UID can use and the
 * PVC is mounted at `$HOME/.ollama`: the same layout upstream's volume has, writable through
 * `fsGroup`. The root filesystem stays read-only.
 */
export const OLLAMA_HOME = "/data";
/** The PVC's mount: keys (`id_ed25519`) and models live here. */
export const OLLAMA_DATA_DIR = `${OLLAMA_HOME}/.ollama`;
/** `OLLAMA_MODELS`: upstream's default under HOME, said explicitly. */
export const OLLAMA_MODELS_DIR = `${OLLAMA_DATA_DIR}/models`;
/** The resource a GPU is requested as (NVIDIA device plugin). */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** What the server's container is built from. */
export type OllamaServerSettings = Pick<
  OllamaArgs,
  "resources" | "keepAlive" | "numParallel" | "maxLoadedModels" | "gpu"
>;

/** The server's environment. */
export function ollamaEnv(args: OllamaServerSettings): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "HOME", value: OLLAMA_HOME },
    { name: "OLLAMA_MODELS", value: OLLAMA_MODELS_DIR },
    { name: "OLLAMA_HOST", value: `0.0.0.0:${OLLAMA_PORT}` },
    { name: "OLLAMA_KEEP_ALIVE", value: args.keepAlive ?? OLLAMA_DEFAULTS.keepAlive },
    { name: "OLLAMA_NUM_PARALLEL", value: String(args.numParallel ?? OLLAMA_DEFAULTS.numParallel) },
    ...(args.maxLoadedModels
      ? [{ name: "OLLAMA_MAX_LOADED_MODELS", value: String(args.maxLoadedModels) }]
      : []),
    // Cloud models and web search would send prompts off the cluster; only pulls leave it.
    { name: "OLLAMA_NO_CLOUD", value: "1" },
    // The image sets NVIDIA_VISIBLE_DEVICES=all: on a node whose default runtime is nvidia a
    // CPU-only pod would see every GPU. "void" makes that runtime behave like runc. With GPUs the
    // device plugin sets the variable to the allocated devices.
    ...(args.gpu ? [] : [{ name: "NVIDIA_VISIBLE_DEVICES", value: "void" }]),
  ];
}

/**
 * Requests and limits with GPUs: the baseline's, plus the GPU count as a limit (an extended
 * resource is requested as a limit; its request defaults to it).
 */
export function gpuResources(
  spec: ResourceSpec,
  count: number,
): k8s.types.input.core.v1.ResourceRequirements {
  return {
    requests: { cpu: spec.cpu, memory: spec.memory },
    limits: {
      memory: memoryCeiling(spec),
      ...(spec.cpuLimit ? { cpu: spec.cpuLimit } : {}),
      [GPU_RESOURCE]: String(count),
    },
  };
}

/** What {@link ollamaDeployment} builds from. */
export interface OllamaWorkloadSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  args: OllamaServerSettings;
  claimName: pulumi.Input<string>;
}

/** The model volume: ReadWriteOnce, in the given StorageClass or the cluster's default. */
export function ollamaDataClaim(
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
  args: Pick<OllamaArgs, "storageSize" | "storageClass">,
): k8s.core.v1.PersistentVolumeClaimArgs {
  return {
    metadata: objectMeta(name, namespace, identity),
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(args.storageClass ? { storageClassName: args.storageClass } : {}),
      resources: { requests: { storage: args.storageSize } },
    },
  };
}

/** The server Deployment: one pod, replaced (not rolled) because its volume is ReadWriteOnce. */
export function ollamaDeployment(spec: OllamaWorkloadSpec): k8s.apps.v1.DeploymentArgs {
  const { args } = spec;
  const main = container({
    name: "ollama",
    image: spec.image,
    args: ["serve"],
    ports: [{ name: "http", containerPort: OLLAMA_PORT }],
    env: ollamaEnv(args),
    resources: args.resources,
    // No curl in the image: HTTP probes. Liveness only asks the root, which answers at once.
    probes: probesFor(check.http("/api/version", "http"), { liveness: check.http("/", "http") }),
    volumeMounts: [
      { name: "data", mountPath: OLLAMA_DATA_DIR },
      { name: "tmp", mountPath: "/tmp" },
    ],
  });
  const gpu = args.gpu;
  if (gpu) main.resources = gpuResources(args.resources, gpu.count);
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      replicas: 1,
      // Recreate: the ReadWriteOnce volume cannot be mounted by a second pod on another node,
      // and two servers must not write one model store.
      strategy: { type: "Recreate" },
      selector: { matchLabels: selectorFor(spec.identity) },
      template: podTemplate(spec.identity, {
        containers: [main],
        volumes: [
          { name: "data", persistentVolumeClaim: { claimName: spec.claimName } },
          emptyDir("tmp", "1Gi"),
        ],
        security: { runAsUser: IMAGES.ollama.uid },
        ...(gpu?.runtimeClassName ? { runtimeClassName: gpu.runtimeClassName } : {}),
      }),
    },
  };
}

/** Variable the pull script reads the server's URL from. */
export const PULL_URL_ENV = "OLLAMA_URL";

/**
 * The pull Job's script: `POST /api/pull` with `"stream": false` for each model, so the answer
 * is one JSON object and a failed pull is an HTTP error (`--fail-with-body` prints Ollama's
 * message); each model is retried with exponential backoff. A model already present is only
 * checked against the registry, so rerunning is cheap.
 */
export function modelPullScript(models: readonly string[], attempts: number): string {
  return [
    "set -eu",
    "pull() {",
    "  model=$1",
    "  attempt=1",
    "  delay=5",
    "  while :; do",
    `    echo "pulling $model (attempt $attempt of ${attempts})"`,
    "    if curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' \\",
    `      -d "{\\"model\\":\\"$model\\",\\"stream\\":false}" "$${PULL_URL_ENV}/api/pull"; then`,
    '      echo; echo "pulled $model"',
    "      return 0",
    "    fi",
    "    echo",
    `    if [ "$attempt" -ge ${attempts} ]; then echo "giving up on $model" >&2; return 1; fi`,
    '    echo "pulling $model failed; retrying in ${delay}s" >&2',
    '    sleep "$delay"',
    "    attempt=$((attempt + 1))",
    "    delay=$((delay * 2))",
    '    if [ "$delay" -gt 300 ]; then delay=300; fi',
    "  done",
    "}",
    ...models.map((model) => `pull '${model}'`),
    `curl -sS --fail "$${PULL_URL_ENV}/api/tags"`,
    "echo",
    "",
  ].join("\n");
}

/** The pull Job's name: it changes with the model list (not its order), and only with it. */
export function modelPullJobName(name: string, models: readonly string[]): string {
  return hashedName(`${name}-pull`, [...models].sort());
}

/** What {@link modelPullJob} builds from. */
export interface ModelPullJobSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  url: pulumi.Input<string>;
  models: readonly string[];
  attempts: number;
  activeDeadlineSeconds: number;
}

/** The Job that pulls the models through the server's API. */
export function modelPullJob(spec: ModelPullJobSpec): k8s.batch.v1.JobArgs {
  const main = container({
    name: "pull",
    image: spec.image,
    command: ["/bin/sh", "-c", modelPullScript(spec.models, spec.attempts)],
    env: [{ name: PULL_URL_ENV, value: spec.url }],
    resources: RESOURCE_PRESETS.nano,
  });
  return {
    // A failed pull is rerun (pulls again) by the next `pulumi up`.
    metadata: objectMeta(
      spec.name,
      spec.namespace,
      spec.identity,
      retriedJobAnnotations(spec.activeDeadlineSeconds),
    ),
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      template: podTemplate(spec.identity, {
        containers: [main],
        security: { runAsUser: IMAGES.curl.uid },
        restartPolicy: "Never",
      }),
    },
  };
}
