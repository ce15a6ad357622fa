import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { objectMeta } from "../lib/workload";
import type { RbacRule } from "./common";

/**
 * The API access of the two observability workloads that call the Kubernetes API (Prometheus and
 * the collector gateway): a ServiceAccount, and roles bound to it that grant only reads.
 */

/** A ServiceAccount whose token is mounted only into pods that ask for it. */
export function serviceAccount(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
): k8s.core.v1.ServiceAccount {
  return new k8s.core.v1.ServiceAccount(
    name,
    { metadata: objectMeta(name, namespace, identity), automountServiceAccountToken: false },
    { parent },
  );
}

/** A ServiceAccount as the subject of a binding. */
export function accountSubject(
  account: k8s.core.v1.ServiceAccount,
  namespace: pulumi.Input<string>,
): k8s.types.input.rbac.v1.Subject {
  return { kind: "ServiceAccount", name: account.metadata.name, namespace };
}

/** A role and its binding, both with this metadata. */
export interface Grant {
  /** Name, namespace (a Role only) and labels of the role and of its binding. */
  metadata: {
    name: pulumi.Input<string>;
    namespace?: pulumi.Input<string>;
    labels: Record<string, string>;
  };
  rules: RbacRule[];
  subjects: k8s.types.input.rbac.v1.Subject[];
}

function roleRef(kind: "ClusterRole" | "Role", name: pulumi.Input<string>) {
  return { apiGroup: "rbac.authorization.k8s.io", kind, name };
}

/** A ClusterRole bound to the subjects by a ClusterRoleBinding, both named `resourceName`. */
export function grantClusterRole(parent: pulumi.Resource, resourceName: string, grant: Grant) {
  const { metadata, rules, subjects } = grant;
  const role = new k8s.rbac.v1.ClusterRole(resourceName, { metadata, rules }, { parent });
  new k8s.rbac.v1.ClusterRoleBinding(
    resourceName,
    { metadata, roleRef: roleRef("ClusterRole", role.metadata.name), subjects },
    { parent },
  );
}

/** A namespaced Role bound to the subjects by a RoleBinding, both named `resourceName`. */
export function grantRole(parent: pulumi.Resource, resourceName: string, grant: Grant) {
  const { metadata, rules, subjects } = grant;
  const role = new k8s.rbac.v1.Role(resourceName, { metadata, rules }, { parent });
  new k8s.rbac.v1.RoleBinding(
    resourceName,
    { metadata, roleRef: roleRef("Role", role.metadata.name), subjects },
    { parent },
  );
}
