import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { hashedName } from "./lib/hash";
import { IMAGES, imageRef, tagOf } from "../core/images";
import { selectorFor, type WorkloadIdentity } from "../core/labels";
import { check, probesFor } from "./lib/probes";
import { QUANTITY_PATTERN } from "../core/quantity";
import { memoryCeiling, RESOURCE_PRESETS, type ResourceSpec } from "./lib/resources";
import { keepData, serviceArgs } from "./lib/stateful";
import { container, emptyDir, objectMeta, podTemplate } from "./lib/workload";

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

/** GPUs for the Ollama pod. */
export interface OllamaGpu {
  /** GPUs to request (`nvidia.com/gpu` limit). */
  count: number;
  /** RuntimeClass whose handler exposes the GPUs, e.g. `nvidia`; required with a count. */
  runtimeClassName?: string;
}

/** Arguments of an {@link Ollama}. */
export interface OllamaArgs {
  /** Namespace of every object it creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its labels. @default the component's name */
  instance?: string;
  /** Image reference. @default the catalogue's `ollama` */
  image?: string;
  /** Requests and limits of the server: models are loaded into this memory. */
  resources: ResourceSpec;
  /** Size of the model volume, e.g. `20Gi`. */
  storageSize: string;
  /** StorageClass of the model volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /** Models the pull Job fetches, e.g. `["qwen2.5:0.5b"]`. @default none (no Job) */
  models?: string[];
  /** `OLLAMA_KEEP_ALIVE`: how long an idle model stays loaded (Go duration). @default "5m" */
  keepAlive?: string;
  /** `OLLAMA_NUM_PARALLEL`: requests served at once per model. @default 1 */
  numParallel?: number;
  /** `OLLAMA_MAX_LOADED_MODELS`. @default unset: Ollama's own (3 per GPU, 3 on CPU) */
  maxLoadedModels?: number;
  /** GPUs; CPU-only without. @default none */
  gpu?: OllamaGpu;
  /** Image of the pull Job (curl and sh). @default the catalogue's `curl` */
  pullImage?: string;
  /** Pull attempts per model, with exponential backoff (5 s doubling, at most 5 min). @default 8 */
  pullAttempts?: number;
  /** How long the pull Job may run: large models take a while. @default 3600 */
  pullDeadlineSeconds?: number;
  /** Protect the model volume and keep it on delete (prod). @default false */
  protect?: boolean;
}

/** Throws the error Pulumi reports for a bad input; the message starts with the field's path. */
function invalid(propertyPath: string, reason: string): never {
  throw new pulumi.InputPropertyError({ propertyPath, reason: `${propertyPath} ${reason}` });
}

/** Why a GPU setting is refused, or undefined. For the config layer and the component. */
export function gpuProblem(gpu: OllamaGpu | undefined): string | undefined {
  if (gpu === undefined) return undefined;
  if (!Number.isInteger(gpu.count) || gpu.count < 1) {
    return (
      `gpu.count must be a whole number of at least 1 (got ${gpu.count}); ` +
      `leave gpu unset for CPU only`
    );
  }
  if (!gpu.runtimeClassName) {
    return (
      `gpu.count is ${gpu.count} but gpu.runtimeClassName is not set: without the RuntimeClass ` +
      `whose handler injects the NVIDIA driver (e.g. "nvidia", from the NVIDIA container toolkit) ` +
      `the pod is given a GPU it cannot use, and Ollama silently runs on the CPU; set ` +
      `gpu.runtimeClassName`
    );
  }
  return undefined;
}

/** Refuses a GPU count without a runtime class (or a count that is not a positive integer). */
export function validateGpu(args: { gpu?: OllamaGpu }): void {
  const problem = gpuProblem(args.gpu);
  // The problem already names the field (gpu.count or gpu.runtimeClassName).
  if (problem) throw new pulumi.InputPropertyError({ propertyPath: "gpu", reason: problem });
}

const MODEL = /^[A-Za-z0-9][A-Za-z0-9._/:-]{0,199}$/;
const DURATION = /^(-?\d+|-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/;

/** Checks the args; every message names the field. Returns the model list, deduplicated. */
export function validateOllamaArgs(args: OllamaArgs): string[] {
  validateGpu(args);
  if (!QUANTITY_PATTERN.test(args.storageSize)) {
    invalid("storageSize", `must be a quantity such as 20Gi (got "${args.storageSize}")`);
  }
  if (args.keepAlive !== undefined && !DURATION.test(args.keepAlive)) {
    invalid(
      "keepAlive",
      `must be a duration such as 5m or 1h, or seconds (got "${args.keepAlive}")`,
    );
  }
  for (const [key, value] of Object.entries({
    numParallel: args.numParallel,
    maxLoadedModels: args.maxLoadedModels,
    pullAttempts: args.pullAttempts,
    pullDeadlineSeconds: args.pullDeadlineSeconds,
  })) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      invalid(key, `must be a whole number of at least 1 (got ${value})`);
    }
  }
  const models = [...new Set(args.models ?? [])];
  for (const model of models) {
    if (!MODEL.test(model)) {
      invalid("models", `"${model}" is not a model name such as qwen2.5:0.5b`);
    }
  }
  return models;
}

/** The server's environment. */
export function ollamaEnv(args: OllamaArgs): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "HOME", value: OLLAMA_HOME },
    { name: "OLLAMA_MODELS", value: OLLAMA_MODELS_DIR },
    { name: "OLLAMA_HOST", value: `0.0.0.0:${OLLAMA_PORT}` },
    { name: "OLLAMA_KEEP_ALIVE", value: args.keepAlive ?? "5m" },
    { name: "OLLAMA_NUM_PARALLEL", value: String(args.numParallel ?? 1) },
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
  args: OllamaArgs;
  claimName: pulumi.Input<string>;
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
    metadata: objectMeta(spec.name, spec.namespace, spec.identity, {
      // A failed pull is "unready": the next `pulumi up` replaces the Job, i.e. pulls again.
      "pulumi.com/replaceUnready": "true",
      "pulumi.com/timeoutSeconds": String(spec.activeDeadlineSeconds + 60),
    }),
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

/**
 * Ollama, the local LLM server: one pod with its models on a PVC, a Service on 11434, optional
 * NVIDIA GPUs, and a Job that pulls the configured models once per model list. The app's worker
 * waits for {@link modelsReady}.
 */
export class Ollama extends pulumi.ComponentResource {
  /** `http://<service>.<namespace>.svc:11434`: the app's `OLLAMA_HOST`. */
  public readonly host: pulumi.Output<string>;
  /** Labels of the server's pods and of the pull Job's pods, for network policies. */
  public readonly identities: { server: WorkloadIdentity; pullJob: WorkloadIdentity };
  /** The Deployment, for `dependsOn`. */
  public readonly deployment: k8s.apps.v1.Deployment;
  /** The pull Job (the Deployment when no model is configured): wait on it for the models. */
  public readonly modelsReady: pulumi.Resource;
  /** The pull Job, when there are models to pull. */
  public readonly pullJob?: k8s.batch.v1.Job;

  constructor(name: string, args: OllamaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:ai:Ollama", name, {}, opts);
    const models = validateOllamaArgs(args);
    const image = args.image ?? imageRef("ollama");
    const pullImage = args.pullImage ?? imageRef("curl");
    const instance = args.instance ?? name;
    this.identities = {
      server: { name: "ollama", component: "llm", instance, version: tagOf(image) },
      pullJob: {
        name: "ollama-pull",
        component: "llm-models",
        instance,
        version: tagOf(pullImage),
      },
    };
    const child = { parent: this };

    const claim = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-data`,
      {
        metadata: objectMeta(`${name}-data`, args.namespace, this.identities.server),
        spec: {
          accessModes: ["ReadWriteOnce"],
          ...(args.storageClass ? { storageClassName: args.storageClass } : {}),
          resources: { requests: { storage: args.storageSize } },
        },
      },
      { ...child, ...keepData(args.protect ?? false) },
    );
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      ollamaDeployment({
        name,
        namespace: args.namespace,
        identity: this.identities.server,
        image,
        args,
        claimName: claim.metadata.name,
      }),
      child,
    );
    const service = new k8s.core.v1.Service(
      name,
      serviceArgs(name, args.namespace, this.identities.server, [
        { name: "http", port: OLLAMA_PORT },
      ]),
      child,
    );
    const { name: svc, namespace: svcNamespace } = service.metadata;
    this.host = pulumi.interpolate`http://${svc}.${svcNamespace}.svc:${OLLAMA_PORT}`;

    if (models.length > 0) {
      const jobName = modelPullJobName(name, models);
      this.pullJob = new k8s.batch.v1.Job(
        jobName,
        modelPullJob({
          name: jobName,
          namespace: args.namespace,
          identity: this.identities.pullJob,
          image: pullImage,
          url: this.host,
          models,
          attempts: args.pullAttempts ?? 8,
          activeDeadlineSeconds: args.pullDeadlineSeconds ?? 3600,
        }),
        // The server must be up to take the pulls; a retried Job keeps its name, so the old one
        // must go first.
        { ...child, dependsOn: [this.deployment], deleteBeforeReplace: true },
      );
    }
    this.modelsReady = this.pullJob ?? this.deployment;

    this.registerOutputs({ host: this.host });
  }
}
