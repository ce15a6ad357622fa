import type { StackValidationPolicy } from "@pulumi/policy";
import type { KubeObject, RoleBinding } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import type { StackReport } from "../lib/rule";
import { validateKubeStack } from "../lib/rule";
import type { StackIndex } from "../lib/stack";
import { CLUSTER_SCOPED } from "../lib/stack";

/** ClusterRoles every cluster has (rbac-least judges binding to them). */
function isBuiltInClusterRole(name: string): boolean {
  return ["cluster-admin", "admin", "edit", "view"].includes(name) || name.startsWith("system:");
}

function checkRoleRef(stack: StackIndex, binding: KubeObject, report: StackReport): void {
  const roleRef = view<RoleBinding>(binding).roleRef;
  const { kind, name } = roleRef ?? {};
  if (name === undefined || (kind !== "Role" && kind !== "ClusterRole")) return;
  if (kind === "ClusterRole" && isBuiltInClusterRole(name)) return;
  const namespace = kind === "Role" ? binding.namespace : CLUSTER_SCOPED;
  if (stack.find(kind, namespace, name) !== "missing") return;
  report(
    binding,
    `binds ${kind} ${name}, which is not in the stack (roleRef.name); create the ${kind} or ` +
      `bind the Role object's name`,
  );
}

function checkSubjects(stack: StackIndex, binding: KubeObject, report: StackReport): void {
  asArray(view<RoleBinding>(binding).subjects).forEach((subject, index) => {
    if (subject.kind !== "ServiceAccount" || subject.name === undefined) return;
    if (subject.name === "default") return;
    const namespace = subject.namespace ?? binding.namespace;
    if (stack.find("ServiceAccount", namespace, subject.name) !== "missing") return;
    report(
      binding,
      `grants to ServiceAccount ${namespace ?? "?"}/${subject.name}, which is not in the stack ` +
        `(subjects[${index}]); create it or bind the workload's ServiceAccount object`,
    );
  });
}

/** A binding to a missing Role or account grants nothing: the workload gets 403s at runtime. */
export const rbacRefs: StackValidationPolicy = {
  name: "rbac-refs",
  description:
    "RoleBindings and ClusterRoleBindings point at a Role or ClusterRole in the stack (or a " +
    "built-in ClusterRole) and at ServiceAccounts in the stack.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Create the Role, ServiceAccount and binding together and wire them by object, not by name.",
  validateStack: validateKubeStack((stack, report) => {
    for (const kind of ["RoleBinding", "ClusterRoleBinding"]) {
      for (const binding of stack.ofKind(kind)) {
        checkRoleRef(stack, binding, report);
        checkSubjects(stack, binding, report);
      }
    }
  }),
};
