import type { Profile } from "../../policy/model/profile";
import { parseQuantity, QUANTITY_PATTERN } from "../../core/quantity";
import { fieldError, type FieldError } from "../../core/validation";

/*
 * How big a deploy target is: its ResourceQuota (all user workloads of the namespace together)
 * and its LimitRange (one container), so users' services can never starve the platform.
 */

/** ResourceQuota of one target namespace: what all user workloads there may use together. */
export interface DeployTargetQuota {
  /** `requests.cpu`, e.g. `2`. */
  requestsCpu: string;
  /** `requests.memory`, e.g. `4Gi`. */
  requestsMemory: string;
  /** `limits.cpu`. */
  limitsCpu: string;
  /** `limits.memory`. */
  limitsMemory: string;
  /** `pods`. */
  pods: number;
  /** `services` (`services.loadbalancers` and `services.nodeports` are always 0). */
  services: number;
  /** `persistentvolumeclaims`; the worker's Role cannot create any: 0 unless an admin adds some. */
  persistentVolumeClaims: number;
}

/** CPU and memory of one container. */
export interface CpuMemory {
  cpu: string;
  memory: string;
}

/** LimitRange of one target namespace, per container. */
export interface ContainerLimits {
  /** Limits of a container that sets none (`default`). */
  default: CpuMemory;
  /** Requests of a container that sets none (`defaultRequest`). */
  defaultRequest: CpuMemory;
  /** The most one container may ask for (`max`). */
  max: CpuMemory;
}

/** Size of every target namespace. */
export interface DeployTargetSizing {
  quota: DeployTargetQuota;
  containerLimits: ContainerLimits;
}

/**
 * Sizes per profile. Dev shares one small node with the whole platform, so users get a slice of
 * it; prod assumes nodes with room to spare. The quota bounds limits as well as requests, so a
 * burst of user pods cannot take the memory the platform's pods were scheduled against.
 */
export const DEPLOY_TARGET_PRESETS = {
  dev: {
    quota: {
      requestsCpu: "2",
      requestsMemory: "4Gi",
      limitsCpu: "4",
      limitsMemory: "8Gi",
      pods: 20,
      services: 10,
      persistentVolumeClaims: 0,
    },
    containerLimits: {
      default: { cpu: "500m", memory: "512Mi" },
      defaultRequest: { cpu: "100m", memory: "128Mi" },
      max: { cpu: "2", memory: "2Gi" },
    },
  },
  prod: {
    quota: {
      requestsCpu: "8",
      requestsMemory: "16Gi",
      limitsCpu: "16",
      limitsMemory: "32Gi",
      pods: 100,
      services: 50,
      persistentVolumeClaims: 0,
    },
    containerLimits: {
      default: { cpu: "1", memory: "1Gi" },
      defaultRequest: { cpu: "250m", memory: "256Mi" },
      max: { cpu: "4", memory: "8Gi" },
    },
  },
} as const satisfies Record<Profile, DeployTargetSizing>;

type QuantityPath =
  | `quota.${"requestsCpu" | "requestsMemory" | "limitsCpu" | "limitsMemory"}`
  | `containerLimits.${keyof ContainerLimits}.${keyof CpuMemory}`;

function quantityAt(sizing: DeployTargetSizing, path: QuantityPath): string {
  const [section, key, resource] = path.split(".");
  if (section === "quota") return sizing.quota[key as keyof DeployTargetQuota] as string;
  return sizing.containerLimits[key as keyof ContainerLimits][resource as keyof CpuMemory];
}

const FITS_QUOTA = "or the quota refuses every pod that leaves its resources to the LimitRange";
const ORDERED = "or the API server refuses the LimitRange";

/** Each entry reads "the first must be at least the second", and why. */
const AT_LEAST: readonly [QuantityPath, QuantityPath, string][] = [
  ["quota.limitsCpu", "containerLimits.default.cpu", FITS_QUOTA],
  ["quota.limitsMemory", "containerLimits.default.memory", FITS_QUOTA],
  ["quota.requestsCpu", "containerLimits.defaultRequest.cpu", FITS_QUOTA],
  ["quota.requestsMemory", "containerLimits.defaultRequest.memory", FITS_QUOTA],
  ["containerLimits.max.cpu", "containerLimits.default.cpu", ORDERED],
  ["containerLimits.max.memory", "containerLimits.default.memory", ORDERED],
  ["containerLimits.default.cpu", "containerLimits.defaultRequest.cpu", ORDERED],
  ["containerLimits.default.memory", "containerLimits.defaultRequest.memory", ORDERED],
];

/**
 * Problems with a target's size, at their path in the args (`quota.limitsMemory`): malformed
 * quantities and counts, and a LimitRange that is out of order or does not fit the quota.
 */
export function deployTargetSizingRules(sizing: DeployTargetSizing): FieldError[] {
  const paths = [...new Set(AT_LEAST.flatMap(([path, other]) => [path, other]))];
  const malformed = paths
    .filter((path) => !QUANTITY_PATTERN.test(quantityAt(sizing, path)))
    .map((path) =>
      fieldError(
        path,
        `must be a quantity such as 500m, 2 or 512Mi (got "${quantityAt(sizing, path)}")`,
      ),
    );
  // A comparison with a malformed quantity would only repeat the finding above.
  const isMalformed = (path: QuantityPath) => malformed.some((e) => e.propertyPath === path);
  const unordered = AT_LEAST.filter(([path, other]) => !isMalformed(path) && !isMalformed(other))
    .filter(
      ([path, other]) =>
        parseQuantity(quantityAt(sizing, path)) < parseQuantity(quantityAt(sizing, other)),
    )
    .map(([path, other, why]) =>
      fieldError(
        path,
        `must be at least ${other} ` +
          `(${quantityAt(sizing, path)} < ${quantityAt(sizing, other)}), ${why}`,
      ),
    );
  const counts = (["pods", "services", "persistentVolumeClaims"] as const)
    .filter(
      (key) => !Number.isInteger(sizing.quota[key]) || sizing.quota[key] < (key === "pods" ? 1 : 0),
    )
    .map((key) =>
      fieldError(
        `quota.${key}`,
        `must be a whole number ≥ ${key === "pods" ? 1 : 0} (got ${sizing.quota[key]})`,
      ),
    );
  return [...malformed, ...unordered, ...counts];
}

/** The ResourceQuota `hard` map: NodePorts and LoadBalancers never, whatever the size. */
export function quotaHard(quota: DeployTargetQuota): Record<string, string> {
  return {
    "requests.cpu": quota.requestsCpu,
    "requests.memory": quota.requestsMemory,
    "limits.cpu": quota.limitsCpu,
    "limits.memory": quota.limitsMemory,
    pods: String(quota.pods),
    services: String(quota.services),
    persistentvolumeclaims: String(quota.persistentVolumeClaims),
    // User services are reached through the K3s ingress; nothing of theirs opens a node port.
    "services.loadbalancers": "0",
    "services.nodeports": "0",
  };
}

/** The LimitRange `limits` entry: per container, because that is where pods omit resources. */
export function containerLimitRange(limits: ContainerLimits) {
  return {
    type: "Container",
    default: { ...limits.default },
    defaultRequest: { ...limits.defaultRequest },
    max: { ...limits.max },
  };
}
