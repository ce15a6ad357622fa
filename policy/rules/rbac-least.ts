import type { ResourceValidationPolicy } from "@pulumi/policy";
import { COMPONENT_LABEL, isAllowed, SECRET_READERS } from "../model/security-exceptions";
import type { KubeObject, PolicyRule, Role, RoleBinding } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import type { Report } from "../lib/rule";
import { validateKube } from "../lib/rule";

const READ_VERBS = new Set(["get", "list", "watch", "*"]);

/** Built-in ClusterRoles that grant everything, or reading every Secret of a namespace. */
const BROAD_CLUSTER_ROLES = new Set(["cluster-admin", "admin", "edit"]);

function readsSecrets(rule: PolicyRule): boolean {
  const resources = asArray(rule.resources);
  const secrets = resources.includes("secrets") || resources.includes("*");
  const coreGroup = asArray(rule.apiGroups).some((group) => group === "" || group === "*");
  const reads = asArray(rule.verbs).some((verb) => READ_VERBS.has(verb));
  // `get` on named Secrets is scoped; list and watch return every Secret's data.
  const named = asArray(rule.resourceNames).length > 0 && !asArray(rule.verbs).includes("list");
  return secrets && coreGroup && reads && !named;
}

function listsOrWatches(rule: PolicyRule): boolean {
  return asArray(rule.verbs).some((verb) => verb === "list" || verb === "watch");
}

function checkRules(object: KubeObject, report: Report): void {
  const component = object.metadata.labels?.[COMPONENT_LABEL];
  const mayReadSecrets = object.kind === "Role" && isAllowed(SECRET_READERS, component);
  asArray(view<Role>(object).rules).forEach((rule, index) => {
    const field = `rules[${index}]`;
    if (asArray(rule.verbs).includes("*")) {
      report(`grants every verb (${field}.verbs); list the exact verbs it needs`);
    }
    if (asArray(rule.resources).includes("*")) {
      report(`grants every resource (${field}.resources); list the exact resources it needs`);
    }
    if (readsSecrets(rule) && mayReadSecrets && listsOrWatches(rule)) {
      report(
        `lists or watches Secrets (${field}.verbs), which returns every Secret's data in the ` +
          `namespace; a component in SECRET_READERS gets get on the Secrets it manages, never ` +
          `list or watch`,
      );
    }
    if (readsSecrets(rule) && !mayReadSecrets) {
      report(
        `can read Secrets (${field}); remove secrets from resources, or scope get to ` +
          `resourceNames; a component that must read them is listed in SECRET_READERS ` +
          `(policy/model/security-exceptions.ts) and uses a namespaced Role`,
      );
    }
  });
}

function checkBinding(object: KubeObject, report: Report): void {
  const roleRef = view<RoleBinding>(object).roleRef;
  if (roleRef?.kind !== "ClusterRole" || roleRef.name === undefined) return;
  if (!BROAD_CLUSTER_ROLES.has(roleRef.name)) return;
  report(
    `binds the built-in ClusterRole ${roleRef.name} (roleRef.name), which grants ` +
      `${roleRef.name === "cluster-admin" ? "everything" : "reading every Secret"}; bind a Role ` +
      `with exact verbs instead`,
  );
}

/** The worker deploys into users' namespaces: its rights must be exactly what that needs. */
export const rbacLeast: ResourceValidationPolicy = {
  name: "rbac-least",
  description:
    "Roles and ClusterRoles grant no `*` verbs or resources and read Secrets only where " +
    "SECRET_READERS allows it; no binding to cluster-admin (or admin/edit, which read Secrets).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Write a Role per namespace with exact apiGroups, resources and verbs; bind it to the " +
    "workload's own ServiceAccount.",
  validateResource: validateKube((object, report) => {
    if (object.kind === "Role" || object.kind === "ClusterRole") checkRules(object, report);
    if (object.kind === "RoleBinding" || object.kind === "ClusterRoleBinding") {
      checkBinding(object, report);
    }
  }),
};
