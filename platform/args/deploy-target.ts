import { deployTargetRules, type DeployTargetArgs } from "../../components/deploy-target/args";
import type { Settings } from "../../core/validation";
import { ingressHosts } from "../../stack-config/stack-rules";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck, StackKeys } from "./check";

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
    apiServer: { ...deployTargets.apiServer, cidrs: apiServerCidrs(config) },
    appsDomain: deployTargets.appsDomain ?? `apps.${cluster.domain}`,
    platformHosts: ingressHosts(config).map((entry) => entry.host),
  };
}

/**
 * Where the API server is: `deployTargets.apiServer.cidrs`, else the node network
 * (`cluster.nodeCidrs`, which dev defaults to the private ranges). Prod requires the first, so
 * neither the worker's nor Prometheus's API edge falls back to every address outside the cluster.
 * @default `cluster.nodeCidrs`
 */
export function apiServerCidrs(
  config: Pick<PlatformSettings, "deployTargets" | "cluster">,
): string[] | undefined {
  return config.deployTargets.apiServer.cidrs ?? config.cluster.nodeCidrs;
}

export const deployTargetCheck: ComponentCheck = {
  rules: (config) =>
    deployTargetRules({ ...argsForDeployTarget(config), namespace: config.namespace }),
  keys: {
    // The arg is `targetNamespaces`; the stack config calls the same list `namespaces`. Left to
    // its default (`<namespace>-apps`) it follows the platform namespace.
    targetNamespaces: ["deployTargets.namespaces", "namespace"],
    quota: "deployTargets.quota",
    containerLimits: "deployTargets.containerLimits",
    // Left to its default (`apps.<cluster.domain>`), a clash with a platform host comes from the
    // host the stack set (or the domain both derive from).
    appsDomain: [
      "deployTargets.appsDomain",
      "app.host",
      "observability.grafana.host",
      "temporal.ui.host",
      "cluster.domain",
    ],
    // Each size must be at least another (deployTargetSizingRules): a problem at a size the stack
    // left to its default comes from the one it did set.
    ...sizingCauses("cpu", "Cpu"),
    ...sizingCauses("memory", "Memory"),
  },
};

/** The sizes of one resource that must be at least another, each with the one it is held to. */
function sizingCauses(
  resource: "cpu" | "memory",
  suffix: "Cpu" | "Memory",
): Record<string, StackKeys> {
  const key = (path: string) => `deployTargets.${path}`;
  const limits = (level: string) => `containerLimits.${level}.${resource}`;
  const pairs: [string, string[]][] = [
    [`quota.limits${suffix}`, [limits("default")]],
    [`quota.requests${suffix}`, [limits("defaultRequest")]],
    [limits("max"), [limits("default")]],
    [limits("default"), [limits("defaultRequest")]],
  ];
  return Object.fromEntries(
    pairs.map(([path, others]) => [path, [key(path), ...others.map(key)] as const]),
  );
}
