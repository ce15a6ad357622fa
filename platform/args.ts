import type { DragonflyArgs } from "../components/dragonfly";
import type { Settings } from "../core/validation";
import type { PlatformSettings } from "../stack-config/types";

/*
 * One pure function per component: its settings from the stack config. The Platform adds what
 * only exists at run time (the namespace object, other components' outputs); the stack config
 * runs each component's rules on exactly these settings, so a problem is found, and named by its
 * stack key, before any resource exists.
 */

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
