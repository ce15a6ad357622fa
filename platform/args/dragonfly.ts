import { dragonflyRules, type DragonflyArgs } from "../../components/dragonfly/args";
import type { Settings } from "../../core/validation";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

export function argsForDragonfly(config: PlatformSettings): Settings<DragonflyArgs> {
  const { dragonfly } = config;
  return {
    resources: dragonfly.resources,
    threads: dragonfly.proactorThreads,
    storageSize: dragonfly.storageSize,
    snapshotCron: dragonfly.snapshotCron,
    storageClass: config.cluster.storageClass,
    protect: config.protectStateful,
  };
}

export const dragonflyCheck: ComponentCheck = {
  rules: (config) => dragonflyRules(argsForDragonfly(config)),
  keys: {
    resources: "dragonfly.resources",
    threads: "dragonfly.proactorThreads",
    // The default maxmemory follows the memory limit: that is the key to raise, unless the stack
    // asked for the threads that need more of it.
    maxMemoryMiB: ["dragonfly.resources.memoryLimit", "dragonfly.proactorThreads"],
    storageSize: "dragonfly.storageSize",
    snapshotCron: "dragonfly.snapshotCron",
  },
};
