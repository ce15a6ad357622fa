import type * as pulumi from "@pulumi/pulumi";
import {
  NODE_LOGS_NAMESPACE_SUFFIX,
  nodeLogsNamespace,
} from "../../policy/model/security-exceptions";
import { fieldError, type FieldError } from "../../core/validation";
import type { ApiServerEndpoint } from "./access";
import {
  DEPLOY_TARGET_PRESETS,
  deployTargetSizingRules,
  type ContainerLimits,
  type DeployTargetQuota,
  type DeployTargetSizing,
} from "./sizing";

/** Arguments of a {@link DeployTarget}. */
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
  /**
   * The apps domain: an Ingress in a target may only serve hosts under it (`svc.<appsDomain>`),
   * enforced on the cluster by the fence's ValidatingAdmissionPolicy. A DNS name that neither
   * equals nor contains a platform host.
   * @default "apps.platform.localhost" (the stack config's default, `apps.<cluster.domain>`)
   */
  appsDomain?: string;
  /**
   * The hosts the platform itself serves (app, Grafana, Temporal UI): never a user's, whatever
   * the apps domain. @default []
   */
  platformHosts?: string[];
}

/** Every default of {@link DeployTargetArgs} in one place. */
export const DEPLOY_TARGET_DEFAULTS = {
  /** What a target namespace defaults to: the platform namespace plus this. */
  targetSuffix: "-apps",
  sizing: DEPLOY_TARGET_PRESETS.dev,
  serviceAccountName: "worker",
  watchRollouts: true,
  /** The App's worker: its component is in KUBERNETES_API_USERS and SECRET_READERS. */
  worker: { name: "worker", component: "worker" },
  /** Name of the Role and RoleBinding in every target. */
  roleName: "deploy-worker",
  /** Name of the ResourceQuota and LimitRange in every target. */
  sizingName: "deploy-target",
  /** The stack config's `apps.<cluster.domain>` with its default domain. */
  appsDomain: "apps.platform.localhost",
  /**
   * The label the fence's binding selects target namespaces by; its value is the platform
   * namespace, so two platforms on one cluster fence only their own targets.
   */
  targetLabel: "k3s-platform/deploy-target",
} as const;

/** What {@link deployTargetRules} reads: the platform namespace, the targets and their size. */
export type DeployTargetRuleArgs = Pick<
  DeployTargetArgs,
  "namespace" | "targetNamespaces" | "quota" | "containerLimits" | "appsDomain" | "platformHosts"
>;

/** The target namespaces, defaults applied: the given list, else `<namespace>-apps`. */
export function resolveTargetNamespaces(
  args: Pick<DeployTargetArgs, "namespace" | "targetNamespaces">,
): string[] {
  return args.targetNamespaces ?? [`${args.namespace}${DEPLOY_TARGET_DEFAULTS.targetSuffix}`];
}

/** The size of every target, defaults applied (the dev preset). */
export function resolveSizing(
  args: Pick<DeployTargetArgs, "quota" | "containerLimits">,
): DeployTargetSizing {
  return {
    quota: args.quota ?? DEPLOY_TARGET_DEFAULTS.sizing.quota,
    containerLimits: args.containerLimits ?? DEPLOY_TARGET_DEFAULTS.sizing.containerLimits,
  };
}

/** Every problem with a DeployTarget's args: its target namespaces and their size. */
export function deployTargetRules(args: DeployTargetRuleArgs): FieldError[] {
  return [
    ...targetNamespaceRules(resolveTargetNamespaces(args), args.namespace),
    ...deployTargetSizingRules(resolveSizing(args)),
    ...appsDomainRules(args.appsDomain ?? DEPLOY_TARGET_DEFAULTS.appsDomain, args.platformHosts),
  ];
}

/** A lowercase DNS name of at least two labels: `apps` alone would fence nothing anyone owns. */
const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/;

/**
 * Problems with the apps domain, at `appsDomain`. It may not be or contain a platform host:
 * the fence would then let a user's Ingress claim that host (or a path of it, which Traefik
 * routes to the longer rule), the takeover the fence exists to stop.
 */
function appsDomainRules(appsDomain: string, platformHosts: readonly string[] = []): FieldError[] {
  if (appsDomain.length > 253 || !DNS_NAME.test(appsDomain)) {
    return [
      fieldError(
        "appsDomain",
        `must be a lowercase DNS name of at least two labels such as apps.example.com ` +
          `(got "${appsDomain}")`,
      ),
    ];
  }
  return platformHosts
    .filter((host) => host === appsDomain || host.endsWith(`.${appsDomain}`))
    .map((host) =>
      fieldError(
        "appsDomain",
        `must not ${host === appsDomain ? "be" : "contain"} the platform host "${host}" ` +
          `(got "${appsDomain}"): users' Ingresses may use any host under the apps domain, so ` +
          `one could take over that host; use a domain of its own, e.g. apps.<cluster.domain>`,
      ),
    );
}

/** The apps domain, default applied. */
export function resolveAppsDomain(args: Pick<DeployTargetArgs, "appsDomain">): string {
  return args.appsDomain ?? DEPLOY_TARGET_DEFAULTS.appsDomain;
}

/** Namespaces a target may never be: Kubernetes' own (`kube-` is reserved) and `default`. */
const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Problems with the target names, at `targetNamespaces.<index>`. A target may not be the
 * platform's own namespace (or its node-logs namespace, labelled `privileged`): the worker would
 * then manage the platform's Secrets and run users' pods beside it.
 */
function targetNamespaceRules(names: readonly string[], platformNamespace: string): FieldError[] {
  if (names.length === 0) {
    return [fieldError("targetNamespaces", "must list at least one target namespace")];
  }
  const owned = [platformNamespace, nodeLogsNamespace(platformNamespace)];
  return names.flatMap((name, index): FieldError[] => {
    const at = (reason: string) => [fieldError(`targetNamespaces.${index}`, reason)];
    if (name.length > 63 || !DNS_LABEL.test(name)) {
      return at(
        `must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending ` +
          `alphanumeric (got "${name}")`,
      );
    }
    if (owned.includes(name)) {
      return at(
        `must not be a namespace of the platform itself (got "${name}"): the worker would ` +
          `manage the platform's own objects; use e.g. ` +
          `"${platformNamespace}${DEPLOY_TARGET_DEFAULTS.targetSuffix}"`,
      );
    }
    if (SYSTEM_NAMESPACES.includes(name) || name.startsWith("kube-")) {
      return at(`must not be a Kubernetes system namespace or start with "kube-" (got "${name}")`);
    }
    if (name.endsWith(NODE_LOGS_NAMESPACE_SUFFIX)) {
      return at(
        `must not end in "${NODE_LOGS_NAMESPACE_SUFFIX}" (got "${name}"): the policy pack grants ` +
          `the node log collector's exception (a hostPath, root) to a namespace with that suffix`,
      );
    }
    const first = names.indexOf(name);
    return first !== index ? at(`repeats "${name}" (already at index ${first})`) : [];
  });
}
