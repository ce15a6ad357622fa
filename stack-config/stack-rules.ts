import { nodeLogsNamespace } from "../policy/model/security-exceptions";
import type { ValidatedConfig } from "./types";

/**
 * Rules of the stack config that span components or depend on the profile: each problem with
 * the stack keys it may be reported at (the likeliest culprit first; config.ts picks the first
 * one the stack wrote) and its message.
 */
export interface StackProblem {
  keys: string[];
  message: string;
}

/** Longest name Kubernetes accepts for a namespace (an RFC 1123 label). */
const MAX_NAMESPACE_LENGTH = 63;

/** The node log collector's namespace, `<namespace>-node-logs`, must be a namespace name too. */
export function namespaceProblems(config: ValidatedConfig): StackProblem[] {
  if (!config.observability.nodeLogs) return [];
  const nodeLogs = nodeLogsNamespace(config.namespace);
  if (nodeLogs.length <= MAX_NAMESPACE_LENGTH) return [];
  const most = MAX_NAMESPACE_LENGTH - (nodeLogs.length - config.namespace.length);
  return [
    {
      keys: ["namespace", "observability.nodeLogs"],
      message:
        `must be at most ${most} characters while observability.nodeLogs is on (got ` +
        `${config.namespace.length}): the node log collector's namespace "${nodeLogs}" must be ` +
        `a DNS label of at most ${MAX_NAMESPACE_LENGTH}`,
    },
  ];
}

/** A host an Ingress serves, the stack key that sets it, and whether the stack set it. */
interface IngressHost {
  key: string;
  host: string;
  given: boolean;
}

/** What the platform serves through the ingress controller. */
export type Served = "app" | "grafana" | "temporal";

/** The three Ingress hosts, defaults (`<name>.<cluster.domain>`) applied. */
export function ingressHosts(
  config: Pick<ValidatedConfig, "app" | "observability" | "temporal" | "cluster">,
): IngressHost[] {
  const { domain } = config.cluster;
  const host = (key: string, given: string | undefined, name: Served): IngressHost => ({
    key,
    host: given ?? `${name}.${domain}`,
    given: given !== undefined,
  });
  return [
    host("app.host", config.app.host, "app"),
    host("observability.grafana.host", config.observability.grafana.host, "grafana"),
    host("temporal.ui.host", config.temporal.ui.host, "temporal"),
  ];
}

/** The host one of them is served at: the stack's, else `<name>.<cluster.domain>`. */
export function ingressHost(
  config: Pick<ValidatedConfig, "app" | "observability" | "temporal" | "cluster">,
  served: Served,
): string {
  const index = { app: 0, grafana: 1, temporal: 2 }[served];
  return ingressHosts(config)[index].host;
}

/** Two Ingresses for one host: Traefik would route the host's paths to only one of them. */
export function ingressHostProblems(config: ValidatedConfig): StackProblem[] {
  const hosts = ingressHosts(config);
  return hosts.flatMap((later, index): StackProblem[] => {
    const earlier = hosts.slice(0, index).find((other) => other.host === later.host);
    if (!earlier) return [];
    // Reported at the host the stack gave (the later one when it gave both), naming the other.
    const [reported, other] = later.given || !earlier.given ? [later, earlier] : [earlier, later];
    const origin = other.given ? "" : " (its default, from cluster.domain)";
    return [
      {
        keys: [reported.key],
        message:
          `"${later.host}" is also ${other.key}${origin}: two Ingresses for one host leave ` +
          `Traefik sending the host's requests to only one of them; give each its own host`,
      },
    ];
  });
}

/** `*.localhost` resolves to the client itself (RFC 6761), on every machine. */
function isLocalhost(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost");
}

const HA = "prod runs at least 2 so a node drain or a rollout never takes it down";

/** What prod needs besides what each component's own rules ask of it. */
export function productionProblems(config: ValidatedConfig): StackProblem[] {
  if (config.profile !== "prod") return [];
  const problems: StackProblem[] = [];
  if (config.pgbouncer.replicas < 2) {
    problems.push({ keys: ["pgbouncer.replicas"], message: `must be ≥ 2: ${HA}` });
  }
  if (config.temporal.replicas < 2) {
    problems.push({ keys: ["temporal.replicas"], message: `must be ≥ 2: ${HA}` });
  }
  if (config.postgres.ha.enabled === undefined) {
    problems.push({
      keys: ["postgres.ha.enabled"],
      message:
        "is required in prod: true for a new stack (Postgres as Patroni members, one per node), " +
        "or false for a stack created with the single Postgres server, which keeps it; an " +
        "existing stack cannot switch (see the README's Postgres high availability section)",
    });
  }
  const { enabled, acceptNoBackups } = config.postgres.backup;
  if (!enabled && acceptNoBackups !== true) {
    problems.push({
      keys: ["postgres.backup.enabled"],
      message:
        "must be true in prod: without it nothing copies the database off its one volume, and a " +
        "lost node loses the data; to run prod without backups knowingly, also set " +
        "postgres.backup.acceptNoBackups: true",
    });
  }
  const { receivers, acceptNoReceivers } = config.observability.alerting;
  if (Object.keys(receivers).length === 0 && acceptNoReceivers !== true) {
    problems.push({
      keys: ["observability.alerting.receivers"],
      message:
        "must name at least one receiver in prod: without one every alert (a failed backup, a " +
        "down node) goes to the blackhole and nobody is told; to run prod without alert " +
        "receivers knowingly, also set observability.alerting.acceptNoReceivers: true",
    });
  }
  return [...problems, ...localhostProblems(config), ...egressCidrProblems(config)];
}

/**
 * Prod names the addresses its API server and kubelet edges reach: left out, those edges' policies
 * would allow their ports on every address outside the cluster. Dev defaults both to the private
 * ranges; prod's nodes are known, so the stack says where they are.
 */
function egressCidrProblems(config: ValidatedConfig): StackProblem[] {
  const problems: StackProblem[] = [];
  if (config.cluster.nodeCidrs === undefined) {
    problems.push({
      keys: ["cluster.nodeCidrs"],
      message:
        "is required in prod: the K3s nodes' network, e.g. [10.0.0.0/24]; Prometheus reaches " +
        "the kubelets (10250) there, and without it its NetworkPolicy would allow that port on " +
        "every address outside the cluster",
    });
  }
  if (config.deployTargets.apiServer.cidrs === undefined) {
    problems.push({
      keys: ["deployTargets.apiServer.cidrs"],
      message:
        "is required in prod: the K3s server nodes' addresses, e.g. [10.0.0.10/32]; the worker " +
        "and Prometheus reach the API server there, and without it their NetworkPolicies would " +
        `allow port ${config.deployTargets.apiServer.port} on every address outside the cluster`,
    });
  }
  return problems;
}

/** A prod host under `.localhost` is reachable by nobody but the client itself. */
function localhostProblems(config: ValidatedConfig): StackProblem[] {
  const seen = new Set<string>();
  return ingressHosts(config).flatMap((entry): StackProblem[] => {
    if (!isLocalhost(entry.host)) return [];
    const key = entry.given ? entry.key : "cluster.domain";
    if (seen.has(key)) return [];
    seen.add(key);
    const what = entry.given
      ? `"${entry.host}"`
      : `"${config.cluster.domain}" (so ${entry.key} is "${entry.host}")`;
    return [
      {
        keys: [key],
        message:
          `must not be under .localhost in prod (got ${what}): every client resolves .localhost ` +
          `to itself (RFC 6761), so nobody could reach the platform; set a domain you own, e.g. ` +
          `platform.example.com`,
      },
    ];
  });
}

/**
 * Whether the stack runs the app: it names an image or a build. Without either the platform comes
 * up without it, so a fresh stack never waits on an image that does not exist.
 */
export function appIsOn(config: Pick<ValidatedConfig, "app">): boolean {
  return config.app.image !== undefined || config.app.build !== undefined;
}

/**
 * Pull settings that cannot work: a login without its password, a login for a build (which
 * pulls with the login it pushes with), and settings for an app that is off. `secretGiven` says
 * whether the stack sets a secret key.
 */
export function appPullProblems(
  config: Pick<ValidatedConfig, "app">,
  secretGiven: (key: "registryPassword") => boolean,
): StackProblem[] {
  const { app } = config;
  const password = secretGiven("registryPassword");
  const problems: StackProblem[] = [];
  const add = (key: string, message: string) => problems.push({ keys: [key], message });
  if (!appIsOn(config)) {
    for (const key of ["imagePullSecret", "registryUsername"] as const) {
      if (app[key] !== undefined)
        add(`app.${key}`, "is set, but the app is off: set app.image or app.build too");
    }
    return problems;
  }
  if (app.registryUsername !== undefined && app.build !== undefined) {
    add(
      "app.registryUsername",
      "is for app.image: a build pulls with app.build.registry.username, the login it pushes with",
    );
  } else if (app.registryUsername !== undefined && !password) {
    add(
      "app.registryUsername",
      "needs its password: `pulumi config set --secret k3s-platform:registryPassword <password>`",
    );
  }
  if (password && app.build === undefined && app.registryUsername === undefined) {
    add(
      "registryPassword",
      "is set, but nothing logs in with it: set app.registryUsername (the login that pulls app.image) or app.build.registry.username",
    );
  }
  return problems;
}
