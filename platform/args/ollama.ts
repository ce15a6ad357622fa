import { ollamaRules, type OllamaArgs } from "../../components/ollama/args";
import type { Settings } from "../../core/validation";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/** Ollama's settings from the stack config; the pull Job's settings keep their defaults. */
export function argsForOllama(config: PlatformSettings): Settings<OllamaArgs> {
  const { ollama } = config;
  return {
    storageClass: config.cluster.storageClass,
    resources: ollama.resources,
    storageSize: ollama.storageSize,
    models: ollama.models,
    keepAlive: ollama.keepAlive,
    numParallel: ollama.numParallel,
    gpu: ollama.gpu,
    protect: config.protectStateful,
  };
}

export const ollamaCheck: ComponentCheck = {
  rules: (config) => ollamaRules(argsForOllama(config)),
  // maxLoadedModels, pullAttempts and pullDeadlineSeconds have no stack key: argsForOllama leaves
  // them unset, so the rules never report them here.
  keys: {
    storageSize: "ollama.storageSize",
    keepAlive: "ollama.keepAlive",
    numParallel: "ollama.numParallel",
    models: "ollama.models",
    gpu: "ollama.gpu",
  },
};
