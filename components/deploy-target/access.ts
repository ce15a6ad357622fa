import { PART_OF, type WorkloadIdentity } from "../../policy/model/labels";
import {
  edge,
  K3S_NETWORK,
  peer,
  policyPeersFor,
  port,
  Protocol,
  type ClusterCidrs,
  type Edge,
  type NetworkPolicyManifest,
} from "../../policy/model/network";
import { DEPLOY_TARGET_DEFAULTS } from "./args";

/*
 * Who may do what in a deploy target, as pure data: the worker's Role rules, its edge to the API
 * server, and the NetworkPolicies of a target.
 */

/** A Role rule as plain data; assignable to the provider's `PolicyRule` input. */
export interface RoleRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** What the worker's health check does, which decides one rule of {@link deployTargetRbac}. */
export interface DeployTargetRbacOptions {
  /**
   * List and watch Deployments. The health check waits for a rollout the way `kubectl rollout
   * status` does: a list+watch narrowed to one Deployment by fieldSelector. `get` cannot watch,
   * and polling would delay the status the workflow streams to the browser. A Deployment holds
   * no secret data, so listing shows nothing beyond what `get` already reads.
   * @default true
   */
  watchRollouts?: boolean;
}

const WRITE = ["create", "get", "update", "patch", "delete"];
const READ = ["get", "list", "watch"];

/**
 * The worker's rights in one target namespace, exactly what its workflow needs: apply a user's
 * service (Deployment, Service, Ingress, ConfigMap, Secret), health-check it and roll it back.
 * Nothing cluster-wide, no wildcard, no `bind`/`escalate`/`impersonate`, no RBAC objects, and no
 * `list` on Secrets (the worker reads back only the Secrets it applied, by name).
 */
export function deployTargetRbac(options: DeployTargetRbacOptions = {}): RoleRule[] {
  const watchRollouts = options.watchRollouts ?? DEPLOY_TARGET_DEFAULTS.watchRollouts;
  return [
    // Apply, update and remove what a user's service is made of: server-side apply is a patch,
    // and applying an object that does not exist yet is a create.
    { apiGroups: ["apps"], resources: ["deployments"], verbs: [...WRITE] },
    ...(watchRollouts
      ? [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["list", "watch"] }]
      : []),
    { apiGroups: [""], resources: ["services", "configmaps", "secrets"], verbs: [...WRITE] },
    { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: [...WRITE] },
    // Health checks and rollback by revision: ReplicaSets carry the revisions; pods and events
    // tell why a rollout fails.
    { apiGroups: ["apps"], resources: ["replicasets"], verbs: [...READ] },
    { apiGroups: [""], resources: ["pods", "events"], verbs: [...READ] },
    // The log subresource serves only GET (following a log is a get with follow=true), so list
    // and watch on it would be grants the API server never checks.
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
  ];
}

/** Where the worker reaches the API server once K3s has DNATed the `kubernetes` Service. */
export interface ApiServerEndpoint {
  /** Server nodes' addresses. @default every address outside the pod and Service CIDRs */
  cidrs?: string[];
  /** K3s's `--https-listen-port`. @default 6443 */
  port?: number;
}

/**
 * The worker's one edge beyond the platform's own services: the API server, on the port K3s
 * DNATs the `kubernetes` Service to. Users' pods get no edge here: they are not platform
 * workloads, and their namespaces have their own default deny ({@link targetNetworkPolicies}).
 */
export function deployTargetEdges(
  worker: WorkloadIdentity,
  platformNamespace: string,
  apiServer: ApiServerEndpoint = {},
): Edge[] {
  return [
    edge(
      peer.workload(worker, platformNamespace),
      peer.kubernetesApi(apiServer.cidrs ? { cidrs: apiServer.cidrs } : {}),
      [port.tcp(apiServer.port ?? K3S_NETWORK.apiServerPort)],
      "deploys, health-checks and rolls back users' services in the target namespaces",
    ),
  ];
}

/** Labels of the objects that belong to the platform rather than to one workload. */
export const PLATFORM_OBJECT_LABELS = {
  "app.kubernetes.io/part-of": PART_OF,
  "app.kubernetes.io/managed-by": "pulumi",
} as const;

/**
 * The policies of one target namespace. Users' pods are not platform workloads (they arrive at
 * runtime, with labels the platform does not know), so both policies select every pod
 * (`podSelector: {}`, which netpol-selects-pods accepts as a namespace-wide policy): a default
 * deny, then one admitting K3s's Traefik on any port (users' services choose their ports) and
 * DNS out. They carry no wiring annotation: no pod template of the stack runs here, so the
 * reachability matrix has nothing to compare, and the platform's own policies keep every
 * platform pod from reaching these namespaces.
 */
export function targetNetworkPolicies(
  namespace: string,
  cidrs: ClusterCidrs,
): NetworkPolicyManifest[] {
  const metadata = (name: string) => ({ name, namespace, labels: { ...PLATFORM_OBJECT_LABELS } });
  const dnsPorts = [Protocol.UDP, Protocol.TCP].map((protocol) => ({
    port: K3S_NETWORK.dnsPort,
    protocol,
  }));
  return [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata("default-deny"),
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata("allow-ingress-controller-and-dns"),
      spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        // No ports: every port, for Traefik only (an empty `ports` list would be dropped by the
        // API server and re-applied on every `up`).
        ingress: [{ from: policyPeersFor(peer.ingressController(), namespace, cidrs) }],
        egress: [{ to: policyPeersFor(peer.dns(), namespace, cidrs), ports: dnsPorts }],
      },
    },
  ];
}
