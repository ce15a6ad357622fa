export {
  networkPoliciesRules,
  type NetworkPoliciesArgs,
  type NetworkPoliciesRuleArgs,
} from "./args";
export { NetworkPolicies } from "./network-policies";
