import type * as pulumi from "@pulumi/pulumi";
import {
  fieldError,
  fieldErrorIf,
  type FieldError,
  type Settings,
  storageSizeErrors,
} from "../../core/validation";
import type { ResourceSpec } from "../lib/resources";

/** GPUs for the Ollama pod. */
export interface OllamaGpu {
  /** GPUs to request (`nvidia.com/gpu` limit): a whole number of at least 1. */
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
  /**
   * Models the pull Job fetches, e.g. `["qwen2.5:0.5b"]`; repeats are pulled once.
   * @default none (no Job)
   */
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

/** Every default of {@link OllamaArgs} in one place. */
export const OLLAMA_DEFAULTS = {
  keepAlive: "5m",
  numParallel: 1,
  pullAttempts: 8,
  pullDeadlineSeconds: 3600,
  protect: false,
} as const;

/** The models to pull, each once, in the order first given. */
export function uniqueModels(models: readonly string[] = []): string[] {
  return [...new Set(models)];
}

const MODEL = /^[A-Za-z0-9][A-Za-z0-9._/:-]{0,199}$/;
const DURATION = /^(-?\d+|-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/;

/** Every problem with an Ollama's args. */
export function ollamaRules(args: Settings<OllamaArgs>): FieldError[] {
  const counts = {
    numParallel: args.numParallel,
    maxLoadedModels: args.maxLoadedModels,
    pullAttempts: args.pullAttempts,
    pullDeadlineSeconds: args.pullDeadlineSeconds,
  };
  return [
    ...gpuRules(args.gpu),
    ...storageSizeErrors("storageSize", args.storageSize, "20Gi"),
    ...fieldErrorIf(
      args.keepAlive !== undefined && !DURATION.test(args.keepAlive),
      "keepAlive",
      () => `must be a duration such as 5m or 1h, or seconds (got "${args.keepAlive}")`,
    ),
    ...Object.entries(counts).flatMap(([key, value]) =>
      fieldErrorIf(
        value !== undefined && (!Number.isInteger(value) || value < 1),
        key,
        () => `must be a whole number of at least 1 (got ${value})`,
      ),
    ),
    ...(args.models ?? []).flatMap((model, index, models) =>
      fieldErrorIf(
        models.indexOf(model) === index && !MODEL.test(model),
        `models.${index}`,
        () => `"${model}" is not a model name such as qwen2.5:0.5b`,
      ),
    ),
  ];
}

/**
 * A GPU count must be whole and positive, and needs the RuntimeClass that makes the GPU usable.
 * The runtime-class problem is reported at `gpu`: it is the pair that is wrong.
 */
function gpuRules(gpu: OllamaGpu | undefined): FieldError[] {
  if (gpu === undefined) return [];
  if (!Number.isInteger(gpu.count) || gpu.count < 1) {
    return [
      fieldError(
        "gpu.count",
        `must be a whole number of at least 1 (got ${gpu.count}); leave gpu unset for CPU only`,
      ),
    ];
  }
  return fieldErrorIf(
    !gpu.runtimeClassName,
    "gpu",
    () =>
      `gpu.count is ${gpu.count} but gpu.runtimeClassName is not set: without the RuntimeClass ` +
      `whose handler injects the NVIDIA driver (e.g. "nvidia", from the NVIDIA container toolkit) ` +
      `the pod is given a GPU it cannot use, and Ollama silently runs on the CPU; set ` +
      `gpu.runtimeClassName`,
  );
}
