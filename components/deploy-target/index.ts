export {
  deployTargetEdges,
  deployTargetRbac,
  type ApiServerEndpoint,
  type DeployTargetRbacOptions,
  type RoleRule,
} from "./access";
export { deployTargetRules, type DeployTargetArgs, type DeployTargetRuleArgs } from "./args";
export { DeployTarget } from "./deploy-target";
export {
  DEPLOY_TARGET_PRESETS,
  quotaHard,
  type ContainerLimits,
  type DeployTargetQuota,
} from "./sizing";
