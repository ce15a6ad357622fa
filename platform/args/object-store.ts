import { objectStoreRules, type ObjectStoreArgs } from "../../components/object-store/args";
import type { Settings } from "../../core/validation";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * The ObjectStore's settings. Loki's and Tempo's buckets exist only when observability keeps its
 * data in the object store (prod), not at the backup target; the backups' unless they go to an
 * external target (`s3`), so its quota no longer takes a share of the volume; Dragonfly's only
 * when its snapshots go here (`in-cluster`); the app's always.
 */
export function argsForObjectStore(config: PlatformSettings): Settings<ObjectStoreArgs> {
  const { objectStore } = config;
  const { quotas } = objectStore;
  const telemetry =
    config.observability.objectStorage && config.observability.objectStorageTarget === "in-cluster";
  const backups = config.postgres.backup.target.type === "in-cluster";
  const snapshots = config.dragonfly.snapshotTarget.type === "in-cluster";
  return {
    storageClass: config.cluster.storageClass,
    resources: objectStore.resources,
    storageSize: objectStore.storageSize,
    buckets: {
      app: objectStore.buckets.app,
      ...(backups ? { backups: objectStore.buckets.backups } : {}),
      ...(telemetry ? { loki: objectStore.buckets.loki, tempo: objectStore.buckets.tempo } : {}),
      ...(snapshots ? { dragonfly: objectStore.buckets.dragonfly } : {}),
    },
    // Only the buckets that exist get a quota, and only theirs count against the volume.
    quotas: {
      app: quotas.app,
      ...(backups ? { backups: quotas.backups } : {}),
      ...(telemetry ? { loki: quotas.loki, tempo: quotas.tempo } : {}),
      ...(snapshots ? { dragonfly: quotas.dragonfly } : {}),
    },
    protect: config.protectStateful,
  };
}

export const objectStoreCheck: ComponentCheck = {
  rules: (config) => objectStoreRules(argsForObjectStore(config)),
  keys: {
    storageSize: "objectStore.storageSize",
    buckets: "objectStore.buckets",
    // The quotas' sum clashes with the volume: the stack raised a quota or shrank the volume.
    quotas: ["objectStore.quotas", "objectStore.storageSize"],
  },
};
