import type * as k8s from "@pulumi/kubernetes";

/**
 * Requests and limits of one container. The memory limit defaults to the request, because a pod
 * that may grow past its request is the first one the kubelet evicts under memory pressure.
 */
export interface ResourceSpec {
  /** CPU request, e.g. `100m`. */
  cpu: string;
  /** Memory request, e.g. `256Mi`. */
  memory: string;
  /** CPU limit. @default none: CPU is compressible, a limit only adds throttling */
  cpuLimit?: string;
  /** Memory limit. @default the memory request */
  memoryLimit?: string;
}

/** Named sizes a stack config may use instead of spelling out requests and limits. */
export const RESOURCE_PRESETS = {
  nano: { cpu: "25m", memory: "64Mi", cpuLimit: "250m", memoryLimit: "128Mi" },
  small: { cpu: "100m", memory: "256Mi", cpuLimit: "1", memoryLimit: "512Mi" },
  medium: { cpu: "500m", memory: "1Gi", cpuLimit: "2", memoryLimit: "2Gi" },
  large: { cpu: "1", memory: "4Gi", cpuLimit: "4", memoryLimit: "8Gi" },
} as const satisfies Record<string, ResourceSpec>;

export type ResourcePreset = keyof typeof RESOURCE_PRESETS;

/** The Kubernetes `resources` block of a container. */
export function resourceRequirements(
  spec: ResourceSpec,
): k8s.types.input.core.v1.ResourceRequirements {
  return {
    requests: { cpu: spec.cpu, memory: spec.memory },
    limits: {
      memory: spec.memoryLimit ?? spec.memory,
      ...(spec.cpuLimit ? { cpu: spec.cpuLimit } : {}),
    },
  };
}

/** The memory a container may use: its limit, else its request. */
export function memoryCeiling(spec: ResourceSpec): string {
  return spec.memoryLimit ?? spec.memory;
}
