/**
 * The deploy targets' access matrix: what the worker's ServiceAccount may and may not
 * do, as `kubectl auth can-i` / SubjectAccessReview questions. The unit tier answers them from
 * the rendered Roles and RoleBindings (test/unit/deploy-target.test.ts); the control-plane tier
 * asks the real API server the same questions, so both prove one list.
 */

/** One question: may `user` do `verb` on `resource` (in `namespace`, or cluster-wide)? */
export interface AccessQuestion {
  /** `system:serviceaccount:<namespace>:<name>`. */
  user: string;
  verb: string;
  /** API group; `""` for the core group. */
  group: string;
  resource: string;
  subresource?: string;
  /** Absent for a cluster-scoped question (nodes, namespaces). */
  namespace?: string;
  /** The answer the platform promises. */
  allowed: boolean;
}

/** The user name a ServiceAccount authenticates as. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * The matrix for a worker account `platformNamespace/account` deploying to `targets`; `web` runs
 * as the namespace's `default` account (no token, no Role) and may do nothing.
 */
export function deployTargetAccessMatrix(
  platformNamespace: string,
  account: string,
  targets: readonly string[],
): AccessQuestion[] {
  const worker = serviceAccountUser(platformNamespace, account);
  const web = serviceAccountUser(platformNamespace, "default");
  const ask = (
    user: string,
    verb: string,
    group: string,
    resource: string,
    namespace: string | undefined,
    allowed: boolean,
    subresource?: string,
  ): AccessQuestion => ({
    user,
    verb,
    group,
    resource,
    ...(subresource ? { subresource } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    allowed,
  });
  const inTarget = (target: string): AccessQuestion[] => [
    // What the workflow does: deploy, health-check, roll back.
    ask(worker, "create", "apps", "deployments", target, true),
    ask(worker, "patch", "apps", "deployments", target, true),
    ask(worker, "watch", "apps", "deployments", target, true),
    ask(worker, "create", "", "services", target, true),
    ask(worker, "create", "networking.k8s.io", "ingresses", target, true),
    ask(worker, "create", "", "secrets", target, true),
    ask(worker, "get", "", "secrets", target, true),
    ask(worker, "list", "apps", "replicasets", target, true),
    ask(worker, "get", "", "pods", target, true, "log"),
    ask(worker, "list", "", "events", target, true),
    // What it must not: list Secrets, exec into pods, touch RBAC or quotas, run bare pods.
    ask(worker, "list", "", "secrets", target, false),
    ask(worker, "create", "", "pods", target, false, "exec"),
    ask(worker, "create", "", "pods", target, false),
    ask(worker, "create", "rbac.authorization.k8s.io", "rolebindings", target, false),
    ask(worker, "escalate", "rbac.authorization.k8s.io", "roles", target, false),
    ask(worker, "delete", "", "resourcequotas", target, false),
    ask(worker, "delete", "networking.k8s.io", "networkpolicies", target, false),
    ask(web, "get", "", "pods", target, false),
    ask(web, "create", "apps", "deployments", target, false),
  ];
  return [
    ...targets.flatMap(inTarget),
    // Nothing in the platform namespace, nothing cluster-wide.
    ask(worker, "get", "", "secrets", platformNamespace, false),
    ask(worker, "create", "apps", "deployments", platformNamespace, false),
    ask(worker, "create", "", "configmaps", platformNamespace, false),
    ask(worker, "create", "rbac.authorization.k8s.io", "rolebindings", platformNamespace, false),
    ask(worker, "list", "", "nodes", undefined, false),
    ask(worker, "list", "", "namespaces", undefined, false),
    ask(worker, "create", "rbac.authorization.k8s.io", "clusterrolebindings", undefined, false),
    ask(worker, "impersonate", "", "serviceaccounts", undefined, false),
    ask(web, "list", "", "namespaces", undefined, false),
    ask(web, "get", "", "secrets", platformNamespace, false),
  ];
}

/** The parts of an RBAC object {@link authorizeFromRbac} reads. */
export interface RbacObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[];
  roleRef?: { kind?: string; name?: string };
  subjects?: { kind?: string; name?: string; namespace?: string }[];
}

/**
 * Kubernetes' RBAC authorizer over rendered objects, as far as the deploy targets use it (the
 * unit tier's stand-in for a SubjectAccessReview): a namespaced question is allowed by a
 * RoleBinding of that namespace naming the user's account and binding a Role of that namespace
 * with a matching rule. Cluster-wide grants are not modelled, so callers assert there are none.
 */
export function authorizeFromRbac(
  objects: readonly RbacObject[],
  question: AccessQuestion,
): boolean {
  const { namespace } = question;
  if (namespace === undefined) return false;
  const here = (kind: string) =>
    objects.filter((object) => object.kind === kind && object.metadata?.namespace === namespace);
  const resource = question.subresource
    ? `${question.resource}/${question.subresource}`
    : question.resource;
  const grants = (role: RbacObject | undefined) =>
    (role?.rules ?? []).some(
      (rule) =>
        (rule.apiGroups ?? []).includes(question.group) &&
        (rule.resources ?? []).includes(resource) &&
        (rule.verbs ?? []).includes(question.verb),
    );
  return here("RoleBinding").some(
    (binding) =>
      binding.roleRef?.kind === "Role" &&
      (binding.subjects ?? []).some(
        (subject) =>
          subject.kind === "ServiceAccount" &&
          serviceAccountUser(subject.namespace ?? namespace, subject.name ?? "") === question.user,
      ) &&
      grants(here("Role").find((role) => role.metadata?.name === binding.roleRef?.name)),
  );
}
