import { objectId } from "../../../tools/lib/manifests";
import type { Manifest } from "../../../policy/model/render-model";
import type { KubeClient } from "./kube-client";
import type { PlanResource } from "./render-objects";

/**
 * Puts a render's objects on the API server with server-side apply under the provider's field
 * manager and strict field validation (`KubeClient.apply`): Namespaces first, so everything else
 * has somewhere to go, then the rest at once. It waits for nothing: what `pulumi up` awaits, and in
 * which order it applies, the engine tier proves with the real engine and provider; this tier asks
 * the API server's own checks (schema, Pod Security, RBAC, quotas) of every object.
 */

export interface Applied {
  id: string;
  urn: string;
  /** The API server's HTTP status: < 300 accepted. */
  status: number;
  /** The server's message when it refused. */
  error?: string;
  /** Warning headers of the apply (Pod Security, deprecations). */
  warnings: string[];
}

/** Objects applied at once after the Namespaces: enough to be quick, few enough to be polite. */
const CONCURRENCY = 8;

export async function applyRender(
  client: KubeClient,
  resources: PlanResource[],
): Promise<Applied[]> {
  const objects = resources.filter((resource) => resource.manifest !== undefined);
  const namespaces = objects.filter((resource) => resource.manifest?.kind === "Namespace");
  const rest = objects.filter((resource) => resource.manifest?.kind !== "Namespace");
  const apply = async (resource: PlanResource): Promise<Applied> => {
    const manifest = resource.manifest as Manifest;
    const response = await client.apply(manifest);
    return {
      id: objectId(manifest),
      urn: resource.urn,
      status: response.status,
      ...(response.status >= 300
        ? { error: `${response.status} ${response.body.message ?? ""}`.trim() }
        : {}),
      warnings: response.warnings,
    };
  };
  const results = await Promise.all(namespaces.map(apply));
  const queue = [...rest];
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) results.push(await apply(next));
  });
  await Promise.all(workers);
  return results;
}
