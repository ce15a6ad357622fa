import type { KubeClient } from "./kube-client";

/**
 * A token for a ServiceAccount from the TokenRequest API, as the kubelet gets the projected token
 * of a pod that runs as the account: bound to the account, short-lived, with the API server's own
 * audience. A client that presents it is the account, with no more rights than its bindings give.
 */

/** The shortest lifetime the API server grants (it raises anything shorter to this). */
const MIN_EXPIRATION_SECONDS = 600;

export async function serviceAccountToken(
  admin: KubeClient,
  namespace: string,
  account: string,
  expirationSeconds = MIN_EXPIRATION_SECONDS,
): Promise<string> {
  const created = await admin.create(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds },
    },
  );
  const token = (created.status as { token?: string } | undefined)?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${account} returned no token`);
  return token;
}

/** `system:serviceaccount:<namespace>:<name>`, as the API server names the account's user. */
export async function whoAmI(client: KubeClient): Promise<string> {
  const review = await client.create("/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    apiVersion: "authentication.k8s.io/v1",
    kind: "SelfSubjectReview",
  });
  return (review.status as { userInfo?: { username?: string } } | undefined)?.userInfo
    ?.username as string;
}
