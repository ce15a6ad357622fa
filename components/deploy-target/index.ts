import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labelsFor, type WorkloadIdentity } from "../../core/labels";
import { K3S_NETWORK, type ClusterCidrs, type Edge } from "../../core/network";
import { podSecurityLabels } from "../lib/security";
import {
  DEFAULT_TARGET_SUFFIX,
  deployTargetEdges,
  deployTargetRbac,
  PLATFORM_OBJECT_LABELS,
  targetNetworkPolicies,
  validateDeployTargets,
  type ApiServerEndpoint,
} from "./access";
import {
  containerLimitRange,
  DEPLOY_TARGET_PRESETS,
  quotaHard,
  validateDeployTargetSizing,
  type ContainerLimits,
  type DeployTargetQuota,
} from "./sizing";

export {
  DEFAULT_TARGET_SUFFIX,
  deployTargetEdges,
  deployTargetRbac,
  targetNetworkPolicies,
  validateDeployTargets,
  type ApiServerEndpoint,
  type DeployTargetRbacOptions,
  type RoleRule,
} from "./access";
export {
  containerLimitRange,
  DEPLOY_TARGET_PRESETS,
  quotaHard,
  validateDeployTargetSizing,
  type ContainerLimits,
  type CpuMemory,
  type DeployTargetIssue,
  type DeployTargetQuota,
  type DeployTargetSizing,
} from "./sizing";

/** Arguments of {@link DeployTarget}. */
export interface DeployTargetArgs {
  /**
   * The platform namespace, where the worker and its ServiceAccount run. A plain string, not an
   * Output: the targets are checked against it when the component is constructed.
   */
  namespace: string;
  /** `app.kubernetes.io/instance` of its labels. @default the component's name */
  instance?: string;
  /**
   * Target namespaces the worker deploys to: DNS labels, neither a platform namespace nor
   * `default`/`kube-*`, no repeats. @default [`<namespace>-apps`]
   */
  targetNamespaces?: string[];
  /** ResourceQuota of each target. @default DEPLOY_TARGET_PRESETS.dev.quota */
  quota?: DeployTargetQuota;
  /**
   * LimitRange of each target, per container.
   * @default DEPLOY_TARGET_PRESETS.dev.containerLimits
   */
  containerLimits?: ContainerLimits;
  /** The cluster's pod CIDR (config `cluster.podCidr`). @default "10.42.0.0/16" (K3s's) */
  podCidr?: string;
  /** The cluster's Service CIDR (config `cluster.serviceCidr`). @default "10.43.0.0/16" (K3s's) */
  serviceCidr?: string;
  /**
   * The API server, for the worker's edge ({@link DeployTarget.workerEdges}).
   * @default port 6443, any address outside the cluster CIDRs
   */
  apiServer?: ApiServerEndpoint;
  /** List and watch Deployments for rollout status (see `deployTargetRbac`). @default true */
  watchRollouts?: boolean;
  /** Name of the worker's ServiceAccount, in `namespace`. @default "worker" */
  serviceAccountName?: string;
  /**
   * The platform namespace as an output of the Namespace resource, so the ServiceAccount is
   * created after it (and only after it). @default `namespace`, with no ordering
   */
  namespaceRef?: pulumi.Input<string>;
}

/** Every default of {@link DeployTargetArgs} in one place. */
export const DEPLOY_TARGET_DEFAULTS = {
  targetSuffix: DEFAULT_TARGET_SUFFIX,
  sizing: DEPLOY_TARGET_PRESETS.dev,
  serviceAccountName: "worker",
  watchRollouts: true,
  /** The App's worker: its component is in KUBERNETES_API_USERS and SECRET_READERS. */
  worker: { name: "worker", component: "worker" },
  /** Name of the Role and RoleBinding in every target. */
  roleName: "deploy-worker",
  /** Name of the ResourceQuota and LimitRange in every target. */
  sizingName: "deploy-target",
} as const;

/**
 * `k3s-platform:app:DeployTarget`: the namespaces the app's worker deploys users' services to,
 * fenced the way Argo CD projects and Flux's multi-tenancy lockdown fence a tenant. Each target
 * has Pod Security `restricted`, a ResourceQuota, a LimitRange and a default deny that admits
 * only Traefik and DNS; the worker's ServiceAccount lives in the platform namespace and gets, in
 * each target only, a Role with the exact verbs of {@link deployTargetRbac} and a RoleBinding.
 * Nothing cluster-wide and nothing in the platform namespace is granted.
 */
export class DeployTarget extends pulumi.ComponentResource {
  /** The worker's ServiceAccount: the App's `workerServiceAccountName` (ready once bound). */
  public readonly serviceAccountName: pulumi.Output<string>;
  /** The target namespaces: the worker's `DEPLOY_NAMESPACES`. */
  public readonly targetNamespaces: pulumi.Output<string[]>;
  /** `<namespace>/<name>` of the Role in each target, in the order of `targetNamespaces`. */
  public readonly roleNames: pulumi.Output<string[]>;
  private readonly platformNamespace: string;
  private readonly apiServer: ApiServerEndpoint;

  constructor(name: string, args: DeployTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:app:DeployTarget", name, {}, opts);
    const defaults = DEPLOY_TARGET_DEFAULTS;
    const targets = args.targetNamespaces ?? [`${args.namespace}${defaults.targetSuffix}`];
    const sizing = {
      quota: args.quota ?? defaults.sizing.quota,
      containerLimits: args.containerLimits ?? defaults.sizing.containerLimits,
    };
    const issues = [
      ...validateDeployTargets(targets, args.namespace).map((issue) => ({
        ...issue,
        // The arg is `targetNamespaces`; config calls the same list `namespaces`.
        path: issue.path.replace(/^namespaces/, "targetNamespaces"),
      })),
      ...validateDeployTargetSizing(sizing),
    ];
    if (issues.length > 0) {
      // One error names the first field; its reason lists every problem, so one run shows all.
      const reason = issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ");
      throw new pulumi.InputPropertyError({ propertyPath: issues[0].path, reason });
    }
    this.platformNamespace = args.namespace;
    this.apiServer = args.apiServer ?? {};
    const cidrs: ClusterCidrs = {
      podCidr: args.podCidr ?? K3S_NETWORK.podCidr,
      serviceCidr: args.serviceCidr ?? K3S_NETWORK.serviceCidr,
    };
    // Labelled as the worker, so the allowances keyed by its component (KUBERNETES_API_USERS,
    // SECRET_READERS) apply to its account and Roles, and to nothing else.
    const workerLabels = labelsFor({ ...defaults.worker, instance: args.instance ?? name });
    const rules = deployTargetRbac({
      watchRollouts: args.watchRollouts ?? defaults.watchRollouts,
    });
    const child = { parent: this };

    // No token by default: the worker's pod opts in (`automountServiceAccountToken` on the pod),
    // so another pod that names this account by mistake still gets none.
    const account = new k8s.core.v1.ServiceAccount(
      name,
      {
        metadata: {
          name: args.serviceAccountName ?? defaults.serviceAccountName,
          namespace: args.namespaceRef ?? args.namespace,
          labels: workerLabels,
        },
        automountServiceAccountToken: false,
      },
      child,
    );

    const granted = targets.map((target) => {
      const childName = `${name}-${target}`;
      const namespace = new k8s.core.v1.Namespace(
        childName,
        {
          metadata: {
            name: target,
            labels: { ...podSecurityLabels("restricted"), ...PLATFORM_OBJECT_LABELS },
          },
        },
        child,
      );
      // Every object below takes the namespace as an Output, so none is created before it.
      const ns = namespace.metadata.name;
      const meta = (objectName: string, labels: Record<string, string>) => ({
        name: objectName,
        namespace: ns,
        labels,
      });
      const platformLabels = { ...PLATFORM_OBJECT_LABELS };
      new k8s.core.v1.ResourceQuota(
        `${childName}-quota`,
        {
          metadata: meta(defaults.sizingName, platformLabels),
          spec: { hard: quotaHard(sizing.quota) },
        },
        child,
      );
      new k8s.core.v1.LimitRange(
        `${childName}-limits`,
        {
          metadata: meta(defaults.sizingName, platformLabels),
          spec: { limits: [containerLimitRange(sizing.containerLimits)] },
        },
        child,
      );
      for (const policy of targetNetworkPolicies(target, cidrs)) {
        new k8s.networking.v1.NetworkPolicy(
          `${childName}-${policy.metadata.name}`,
          { ...policy, metadata: { ...policy.metadata, namespace: ns } },
          child,
        );
      }
      const role = new k8s.rbac.v1.Role(
        childName,
        { metadata: meta(defaults.roleName, workerLabels), rules },
        child,
      );
      const binding = new k8s.rbac.v1.RoleBinding(
        childName,
        {
          metadata: meta(defaults.roleName, workerLabels),
          roleRef: {
            apiGroup: "rbac.authorization.k8s.io",
            kind: "Role",
            name: role.metadata.name,
          },
          subjects: [
            {
              kind: "ServiceAccount",
              name: account.metadata.name,
              namespace: account.metadata.namespace,
            },
          ],
        },
        child,
      );
      return {
        namespace: ns,
        role: pulumi.interpolate`${role.metadata.namespace}/${role.metadata.name}`,
        binding: binding.metadata.name,
      };
    });

    // The outputs carry the Namespaces, Roles and RoleBindings as dependencies, so a worker
    // that takes them starts once its rights exist, never into a burst of 403s.
    this.serviceAccountName = pulumi
      .all([account.metadata.name, ...granted.map((target) => target.binding)])
      .apply(([accountName]) => accountName);
    this.targetNamespaces = pulumi.all(granted.map((target) => target.namespace));
    this.roleNames = pulumi.all(granted.map((target) => target.role));
    this.registerOutputs({
      serviceAccountName: this.serviceAccountName,
      targetNamespaces: this.targetNamespaces,
      roleNames: this.roleNames,
    });
  }

  /**
   * The worker's API-server edge for `platformEdges`, in place of the hand-written one: the
   * same peer and reason, on the configured API-server address and port.
   */
  public workerEdges(worker: WorkloadIdentity): Edge[] {
    return deployTargetEdges(worker, this.platformNamespace, this.apiServer);
  }
}
