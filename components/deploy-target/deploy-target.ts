import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { K3S_NETWORK, type ClusterCidrs, type Edge } from "../../policy/model/network";
import { assertValidArgs } from "../lib/validation";
import {
  deployTargetEdges,
  deployTargetRbac,
  targetNetworkPolicies,
  type ApiServerEndpoint,
  type RoleRule,
} from "./access";
import {
  DEPLOY_TARGET_DEFAULTS,
  deployTargetRules,
  resolveAppsDomain,
  resolveSizing,
  resolveTargetNamespaces,
  type DeployTargetArgs,
} from "./args";
import {
  targetLimitRange,
  targetNamespace,
  targetQuota,
  workerRole,
  workerRoleBinding,
  workerServiceAccount,
} from "./builders";
import { deployTargetFence } from "./fence";
import type { DeployTargetSizing } from "./sizing";

/** What every target is fenced with: the same for each. */
interface Fence {
  sizing: DeployTargetSizing;
  cidrs: ClusterCidrs;
  rules: RoleRule[];
  workerLabels: Record<string, string>;
  account: k8s.core.v1.ServiceAccount;
  /** The admission fence's bindings: the worker's rights are granted only once they exist. */
  fenceBindings: k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding[];
}

/** One fenced target, as outputs that carry its objects as dependencies. */
interface GrantedTarget {
  namespace: pulumi.Output<string>;
  role: pulumi.Output<string>;
  binding: pulumi.Output<string>;
}

/**
 * `k3s-platform:app:DeployTarget`: the namespaces the app's worker deploys users' services to,
 * fenced the way Argo CD projects and Flux's multi-tenancy lockdown fence a tenant. Each target
 * has Pod Security `restricted`, a ResourceQuota, a LimitRange and a default deny that admits
 * only Traefik and DNS; the worker's ServiceAccount lives in the platform namespace and gets, in
 * each target only, a Role with the exact verbs of {@link deployTargetRbac} and a RoleBinding.
 * Nothing cluster-wide and nothing in the platform namespace is granted. ValidatingAdmissionPolicies
 * bound to the targets keep users' Ingresses under the apps domain and off the platform's hosts,
 * and refuse ExternalName Services and externalIPs ({@link deployTargetFence}).
 */
export class DeployTarget extends pulumi.ComponentResource {
  /** The worker's ServiceAccount: the App's `workerServiceAccountName` (ready once bound). */
  public readonly serviceAccountName: pulumi.Output<string>;
  /** The target namespaces: the worker's `DEPLOY_NAMESPACES`. */
  public readonly targetNamespaces: pulumi.Output<string[]>;
  /** `<namespace>/<name>` of the Role in each target, in the order of `targetNamespaces`. */
  public readonly roleNames: pulumi.Output<string[]>;
  /** The domain users' services are served under: the worker's `APPS_DOMAIN`. */
  public readonly appsDomain: string;
  private readonly platformNamespace: string;
  private readonly apiServer: ApiServerEndpoint;

  constructor(name: string, args: DeployTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:app:DeployTarget", name, {}, opts);
    assertValidArgs("DeployTarget", deployTargetRules(args));
    const defaults = DEPLOY_TARGET_DEFAULTS;
    this.platformNamespace = args.namespace;
    this.apiServer = args.apiServer ?? {};
    // Labelled as the worker, so the allowances keyed by its component (KUBERNETES_API_USERS,
    // SECRET_READERS) apply to its account and Roles, and to nothing else.
    const workerLabels = labelsFor({ ...defaults.worker, instance: args.instance ?? name });
    const account = new k8s.core.v1.ServiceAccount(
      name,
      workerServiceAccount(
        args.serviceAccountName ?? defaults.serviceAccountName,
        args.namespaceRef ?? args.namespace,
        workerLabels,
      ),
      { parent: this },
    );
    this.appsDomain = resolveAppsDomain(args);
    const fenceBindings = deployTargetFence({
      platformNamespace: args.namespace,
      appsDomain: this.appsDomain,
      platformHosts: args.platformHosts ?? [],
    }).map(({ name: policyName, policy, binding }) => {
      const created = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
        `${name}-${policyName}`,
        policy,
        { parent: this },
      );
      return new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
        `${name}-${policyName}`,
        binding,
        { parent: this, dependsOn: [created] },
      );
    });
    const fence: Fence = {
      sizing: resolveSizing(args),
      cidrs: {
        podCidr: args.podCidr ?? K3S_NETWORK.podCidr,
        serviceCidr: args.serviceCidr ?? K3S_NETWORK.serviceCidr,
      },
      rules: deployTargetRbac({ watchRollouts: args.watchRollouts ?? defaults.watchRollouts }),
      workerLabels,
      account,
      fenceBindings,
    };
    const granted = resolveTargetNamespaces(args).map((target) =>
      this.fenceTarget(`${name}-${target}`, target, fence),
    );

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
      appsDomain: this.appsDomain,
    });
  }

  /**
   * The worker's API-server edge for `platformEdges`, in place of the hand-written one: the
   * same peer and reason, on the configured API-server address and port.
   */
  public workerEdges(worker: WorkloadIdentity): Edge[] {
    return deployTargetEdges(worker, this.platformNamespace, this.apiServer);
  }

  /** One target: its Namespace, size, default deny, and the worker's Role and binding there. */
  private fenceTarget(childName: string, target: string, fence: Fence): GrantedTarget {
    const child = { parent: this };
    const namespace = new k8s.core.v1.Namespace(
      childName,
      targetNamespace(target, this.platformNamespace),
      child,
    );
    // Every object below takes the namespace as an Output, so none is created before it.
    const ns = namespace.metadata.name;
    new k8s.core.v1.ResourceQuota(`${childName}-quota`, targetQuota(ns, fence.sizing.quota), child);
    new k8s.core.v1.LimitRange(
      `${childName}-limits`,
      targetLimitRange(ns, fence.sizing.containerLimits),
      child,
    );
    for (const policy of targetNetworkPolicies(target, fence.cidrs)) {
      new k8s.networking.v1.NetworkPolicy(
        `${childName}-${policy.metadata.name}`,
        { ...policy, metadata: { ...policy.metadata, namespace: ns } },
        child,
      );
    }
    const role = new k8s.rbac.v1.Role(
      childName,
      workerRole(ns, fence.workerLabels, fence.rules),
      child,
    );
    const { metadata: account } = fence.account;
    const binding = new k8s.rbac.v1.RoleBinding(
      childName,
      workerRoleBinding(ns, fence.workerLabels, role.metadata.name, {
        name: account.name,
        namespace: account.namespace,
      }),
      // No moment where the worker may write Ingresses and Services that nothing judges yet.
      { ...child, dependsOn: fence.fenceBindings },
    );
    return {
      namespace: ns,
      role: pulumi.interpolate`${role.metadata.namespace}/${role.metadata.name}`,
      binding: binding.metadata.name,
    };
  }
}
