import { objectStoreRules, type ObjectStoreArgs } from "../../components/object-store/args";
import type { Settings } from "../../core/validation";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * The ObjectStore's settings. Loki's and Tempo's buckets exist only when observability keeps its
 * data in the object store (prod); the app's and the backups' always do.
 */
export function argsForObjectStore(config: PlatformSettings): Settings<ObjectStoreArgs> {
  const { objectStore } = config;
  return {
    storageClass: config.cluster.storageClass,
    resources: objectStore.resources,
    storageSize: objectStore.storageSize,
    buckets: {
      app: objectStore.buckets.app,
      backups: objectStore.buckets.backups,
      ...(config.observability.objectStorage
        ? { loki: objectStore.buckets.loki, tempo: objectStore.buckets.tempo }
        : {}),
    },
    protect: config.protectStateful,
  };
}

export const objectStoreCheck: ComponentCheck = {
  rules: (config) => objectStoreRules(argsForObjectStore(config)),
  keys: {
    storageSize: "objectStore.storageSize",
    buckets: "objectStore.buckets",
  },
};
