import {
  networkPoliciesRules,
  type NetworkPoliciesArgs,
} from "../../components/network-policies/args";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * The NetworkPolicies' settings from the stack config: the cluster's address plan. The Platform
 * adds, per namespace it governs, the namespace and the edges, which exist only once the other
 * components do (platform/wiring.ts).
 */
export function argsForNetworkPolicies(
  config: PlatformSettings,
): Pick<NetworkPoliciesArgs, "podCidr" | "serviceCidr"> {
  return { podCidr: config.cluster.podCidr, serviceCidr: config.cluster.serviceCidr };
}

/** The rules on the address plan alone; the edges are checked when the component is built. */
export const networkPoliciesCheck: ComponentCheck = {
  rules: (config) => networkPoliciesRules({ ...argsForNetworkPolicies(config), edges: [] }),
  keys: {
    podCidr: "cluster.podCidr",
    serviceCidr: "cluster.serviceCidr",
  },
};
