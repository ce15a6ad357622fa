import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { podSecurityLabels } from "../lib/security";
import { PLATFORM_OBJECT_LABELS, type RoleRule } from "./access";
import { DEPLOY_TARGET_DEFAULTS } from "./args";
import { fenceNamespaceLabels } from "./fence";
import {
  containerLimitRange,
  quotaHard,
  type ContainerLimits,
  type DeployTargetQuota,
} from "./sizing";

/*
 * The objects of a deploy target as resource args, pure: the worker's ServiceAccount in the
 * platform namespace, and in each target its Namespace, ResourceQuota, LimitRange, Role and
 * RoleBinding. Every object in a target takes the namespace as an Output, so none is created
 * before it.
 */

type Labels = Record<string, string>;

function metadata(name: string, namespace: pulumi.Input<string>, labels: Labels) {
  return { name, namespace, labels };
}

/**
 * The worker's ServiceAccount. No token by default: the worker's pod opts in
 * (`automountServiceAccountToken` on the pod), so another pod that names this account by mistake
 * still gets none.
 */
export function workerServiceAccount(
  name: string,
  namespace: pulumi.Input<string>,
  workerLabels: Labels,
): k8s.core.v1.ServiceAccountArgs {
  return {
    metadata: metadata(name, namespace, workerLabels),
    automountServiceAccountToken: false,
  };
}

/**
 * A target Namespace: Pod Security `restricted`, labelled as the platform's and as one of its
 * targets, which is what the admission fence's bindings select.
 */
export function targetNamespace(
  target: string,
  platformNamespace: string,
): k8s.core.v1.NamespaceArgs {
  return {
    metadata: {
      name: target,
      labels: {
        ...podSecurityLabels("restricted"),
        ...PLATFORM_OBJECT_LABELS,
        ...fenceNamespaceLabels(platformNamespace),
      },
    },
  };
}

/** The ResourceQuota of one target. */
export function targetQuota(
  namespace: pulumi.Input<string>,
  quota: DeployTargetQuota,
): k8s.core.v1.ResourceQuotaArgs {
  return {
    metadata: metadata(DEPLOY_TARGET_DEFAULTS.sizingName, namespace, { ...PLATFORM_OBJECT_LABELS }),
    spec: { hard: quotaHard(quota) },
  };
}

/** The LimitRange of one target. */
export function targetLimitRange(
  namespace: pulumi.Input<string>,
  limits: ContainerLimits,
): k8s.core.v1.LimitRangeArgs {
  return {
    metadata: metadata(DEPLOY_TARGET_DEFAULTS.sizingName, namespace, { ...PLATFORM_OBJECT_LABELS }),
    spec: { limits: [containerLimitRange(limits)] },
  };
}

/** The worker's Role in one target. */
export function workerRole(
  namespace: pulumi.Input<string>,
  workerLabels: Labels,
  rules: RoleRule[],
): k8s.rbac.v1.RoleArgs {
  return { metadata: metadata(DEPLOY_TARGET_DEFAULTS.roleName, namespace, workerLabels), rules };
}

/** The ServiceAccount a RoleBinding grants to. */
export interface BindingSubject {
  name: pulumi.Input<string>;
  namespace: pulumi.Input<string>;
}

/** Binds the worker's Role in one target to its ServiceAccount. */
export function workerRoleBinding(
  namespace: pulumi.Input<string>,
  workerLabels: Labels,
  roleName: pulumi.Input<string>,
  account: BindingSubject,
): k8s.rbac.v1.RoleBindingArgs {
  return {
    metadata: metadata(DEPLOY_TARGET_DEFAULTS.roleName, namespace, workerLabels),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
    subjects: [{ kind: "ServiceAccount", name: account.name, namespace: account.namespace }],
  };
}
