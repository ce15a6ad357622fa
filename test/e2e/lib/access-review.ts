import type { AccessQuestion } from "../../deploy-target-access";
import type { KubeClient } from "./kube-client";

/**
 * `kubectl auth can-i --as=system:serviceaccount:…` without kubectl: a SubjectAccessReview asks
 * the API server's own authorizer (RBAC here, as on K3s) whether a ServiceAccount may do something.
 * The groups are the ones a ServiceAccount token authenticates with, so a grant to
 * `system:serviceaccounts` or `system:authenticated` counts as it would for the real pod.
 */

/** What a token of `system:serviceaccount:<namespace>:<name>` authenticates as, besides its user. */
export function serviceAccountGroups(user: string): string[] {
  const [, , namespace] = user.split(":");
  return ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"];
}

/**
 * The API server's answer to one question of the access matrix; `groups` defaults to those of a
 * ServiceAccount token for `question.user`.
 */
export async function canI(
  client: KubeClient,
  question: AccessQuestion,
  groups: string[] = serviceAccountGroups(question.user),
): Promise<boolean> {
  const review = await client.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user: question.user,
      groups,
      resourceAttributes: {
        verb: question.verb,
        group: question.group,
        resource: question.resource,
        ...(question.subresource ? { subresource: question.subresource } : {}),
        ...(question.namespace !== undefined ? { namespace: question.namespace } : {}),
      },
    },
  });
  return (review.status as { allowed?: boolean } | undefined)?.allowed === true;
}

/** A resource the server serves, as SubjectAccessReview names it. */
export interface ServedResource {
  group: string;
  resource: string;
  namespaced: boolean;
  verbs: string[];
}

/**
 * Every top-level resource the server serves, in each group's preferred version, from discovery:
 * what "may do nothing" has to range over, rather than a list someone thought of.
 */
export async function servedResources(client: KubeClient): Promise<ServedResource[]> {
  const groups = (await client.get("/apis")).groups as {
    name: string;
    preferredVersion: { groupVersion: string };
  }[];
  const lists = [
    { group: "", path: "/api/v1" },
    ...groups.map((group) => ({
      group: group.name,
      path: `/apis/${group.preferredVersion.groupVersion}`,
    })),
  ];
  const served = await Promise.all(
    lists.map(async ({ group, path }) => {
      const list = await client.get(path);
      const resources = (list.resources ?? []) as {
        name: string;
        namespaced: boolean;
        verbs?: string[];
      }[];
      return resources
        .filter((resource) => !resource.name.includes("/"))
        .map((resource) => ({
          group,
          resource: resource.name,
          namespaced: resource.namespaced,
          verbs: resource.verbs ?? [],
        }));
    }),
  );
  return served.flat();
}
