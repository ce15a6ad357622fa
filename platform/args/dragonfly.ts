import { dragonflyRules, type DragonflySettings } from "../../components/dragonfly/args";
import type { StackProblem } from "../../stack-config/stack-rules";
import type { PlatformSettings, ValidatedConfig } from "../../stack-config/types";
import type { ComponentCheck } from "./check";
import { externalTargetOf, storeTargetProblems, type ExternalTarget } from "./store-target";

/**
 * Dragonfly's settings from the stack config. Of a snapshot target other than the volume, the
 * folder, and an external one's endpoint and region; the bucket and keys of an in-cluster target
 * are the object store's outputs, which the Platform adds.
 */
export function argsForDragonfly(config: PlatformSettings): DragonflySettings {
  const { dragonfly } = config;
  const target = dragonfly.snapshotTarget;
  return {
    resources: dragonfly.resources,
    threads: dragonfly.proactorThreads,
    storageSize: dragonfly.storageSize,
    snapshotCron: dragonfly.snapshotCron,
    storageClass: config.cluster.storageClass,
    protect: config.protectStateful,
    snapshotStore:
      target.type === "volume"
        ? undefined
        : {
            prefix: target.prefix,
            ...(target.type === "s3" ? { endpoint: target.endpoint, region: target.region } : {}),
          },
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
    "snapshotStore.prefix": "dragonfly.snapshotTarget.prefix",
    "snapshotStore.endpoint": "dragonfly.snapshotTarget.endpoint",
  },
};

/** The external bucket Dragonfly's snapshots go to, or undefined: the volume or the object store. */
export function externalSnapshotTarget(
  config: Pick<PlatformSettings, "dragonfly">,
): ExternalTarget | undefined {
  return externalTargetOf(config.dragonfly.snapshotTarget);
}

const TARGET = "dragonfly.snapshotTarget";

/**
 * The snapshot target given whole (see {@link storeTargetProblems}), less what Dragonfly cannot
 * do with an external bucket at v1.36: it has no setting for a private CA, and it addresses a
 * given endpoint path-style only (`https://endpoint/bucket/key`).
 */
export function snapshotTargetProblems(
  config: Pick<ValidatedConfig, "dragonfly">,
  written: (key: string) => boolean,
): StackProblem[] {
  const target = config.dragonfly.snapshotTarget;
  const problems = storeTargetProblems(
    target,
    { at: TARGET, secrets: ["dragonflyS3AccessKeyId", "dragonflyS3SecretAccessKey"] },
    written,
  );
  const add = (key: string, message: string) => problems.push({ keys: [key], message });
  if (target.type !== "s3") return problems;
  if (target.caBundle !== undefined) {
    add(
      `${TARGET}.caBundle`,
      "cannot be used: Dragonfly has no setting for a private CA, so the endpoint's certificate " +
        "must chain to a public root; leave it out, or use an endpoint with such a certificate",
    );
  }
  if (target.pathStyle === false) {
    add(
      `${TARGET}.pathStyle`,
      "cannot be false: Dragonfly addresses a given endpoint path-style only " +
        "(https://endpoint/bucket/key); leave it out or set it true",
    );
  }
  return problems;
}
