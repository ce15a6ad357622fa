import { objectId } from "../../../tools/lib/manifests";
import type { Manifest } from "../../../core/render-model";
import { sleep } from "./control-plane";
import type { KubeClient } from "./kube-client";
import type { PlanResource } from "./render-objects";
import { inGraphOrder, kubernetesDependencies } from "./rollout";

/**
 * Deletes a render the way `pulumi destroy` walks it: in reverse dependency order (an object only
 * once everything that depends on it is gone), independent ones in parallel, each awaited until
 * the API server no longer has it, with the propagation policy the provider uses. A protected
 * resource is not deleted (the engine refuses to), and neither is anything it depends on, since
 * deleting that (its Namespace, say) would take the protected object with it.
 */

export interface TeardownResult {
  id: string;
  /** `deleted`; `refused` (protected); `kept` (a refused object depends on it); `failed`. */
  outcome: "deleted" | "refused" | "kept" | "failed";
  error?: string;
  /** Milliseconds from the teardown's start until the object was gone. */
  goneAt?: number;
}

/** The provider deletes with foreground propagation unless the object's annotation says not. */
const PROPAGATION: Record<string, string> = {
  foreground: "Foreground",
  background: "Background",
  orphan: "Orphan",
};

export async function teardown(
  client: KubeClient,
  resources: PlanResource[],
  options: { maxWaitMs: number; log: (line: string) => void },
): Promise<TeardownResult[]> {
  const started = Date.now();
  const objects = resources.filter((resource) => resource.manifest !== undefined);
  const dependents = new Map<string, string[]>();
  for (const [urn, upstream] of kubernetesDependencies(resources)) {
    for (const dependency of upstream) {
      dependents.set(dependency, [...(dependents.get(dependency) ?? []), urn]);
    }
  }
  const report = (result: TeardownResult): TeardownResult => {
    const at = ((result.goneAt ?? Date.now() - started) / 1000).toFixed(1);
    options.log(
      `[${at.padStart(6)} s] ${result.outcome.padEnd(8)} ${result.id}` +
        (result.error ? `  ${result.error}` : ""),
    );
    return result;
  };

  const run = async (
    resource: PlanResource,
    downstream: TeardownResult[],
  ): Promise<TeardownResult> => {
    const manifest = resource.manifest as Manifest;
    const id = objectId(manifest);
    if (resource.protect) {
      return report({
        id,
        outcome: "refused",
        error: "protected: the engine refuses to delete it",
      });
    }
    const holding = downstream.find((entry) => entry.outcome !== "deleted");
    if (holding) {
      return report({
        id,
        outcome: "kept",
        error: `${holding.id} depends on it (${holding.outcome})`,
      });
    }
    const path = await client.objectPath(manifest.apiVersion, manifest.kind, manifest.metadata);
    const annotation = manifest.metadata.annotations?.["pulumi.com/deletionPropagationPolicy"];
    const propagationPolicy = PROPAGATION[annotation ?? "foreground"] ?? "Foreground";
    const response = await client.request(
      "DELETE",
      path,
      JSON.stringify({ kind: "DeleteOptions", apiVersion: "v1", propagationPolicy }),
    );
    // Already gone is what the provider treats as deleted, too.
    if (response.status >= 300 && response.status !== 404) {
      return report({
        id,
        outcome: "failed",
        error: `${response.status} ${response.body.message}`,
      });
    }
    const deadline = Date.now() + options.maxWaitMs;
    for (;;) {
      const current = await client.request("GET", path);
      if (current.status === 404)
        return report({ id, outcome: "deleted", goneAt: Date.now() - started });
      if (Date.now() > deadline) {
        const metadata = current.body.metadata as { finalizers?: string[] } | undefined;
        const finalizers = JSON.stringify(metadata?.finalizers ?? []);
        return report({ id, outcome: "failed", error: `still there, finalizers ${finalizers}` });
      }
      await sleep(250);
    }
  };

  // Dependents first: an object goes once everything that depends on it is gone.
  return inGraphOrder(objects, dependents, run, (resource, error) =>
    report({ id: objectId(resource.manifest as Manifest), outcome: "failed", error }),
  );
}
