import { deployTargetRules, type DeployTargetArgs } from "../../components/deploy-target";
import type { Settings } from "../../core/validation";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * The DeployTarget's settings from the stack config. The Platform adds the namespace (a plain
 * string here: the targets are checked against it), its Namespace output and the instance.
 */
export function argsForDeployTarget(config: PlatformSettings): Settings<DeployTargetArgs> {
  const { deployTargets, cluster } = config;
  return {
    targetNamespaces: deployTargets.namespaces,
    quota: deployTargets.quota,
    containerLimits: deployTargets.containerLimits,
    podCidr: cluster.podCidr,
    serviceCidr: cluster.serviceCidr,
    apiServer: deployTargets.apiServer,
  };
}

export const deployTargetCheck: ComponentCheck = {
  rules: (config) =>
    deployTargetRules({ ...argsForDeployTarget(config), namespace: config.namespace }),
  keys: {
    // The arg is `targetNamespaces`; the stack config calls the same list `namespaces`.
    targetNamespaces: "deployTargets.namespaces",
    quota: "deployTargets.quota",
    containerLimits: "deployTargets.containerLimits",
  },
};
