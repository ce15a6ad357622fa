/**
 * Labels and selectors for every object the platform creates. Deployments, Services, PDBs and
 * NetworkPolicies all derive theirs from {@link WorkloadIdentity}, so they can never disagree.
 */

/** `app.kubernetes.io/part-of` of everything this toolkit creates. */
export const PART_OF = "k3s-platform";

/** Who a workload is: the three facts its selector is made of. */
export interface WorkloadIdentity {
  /** What runs, e.g. `postgres`, `pgbouncer`, `web` (`app.kubernetes.io/name`). */
  name: string;
  /** Its role in the platform, e.g. `database`, `pooler`, `cache` (`app.kubernetes.io/component`). */
  component: string;
  /** The platform instance, usually the Platform component's name (`app.kubernetes.io/instance`). */
  instance: string;
  /** The version it runs, when known (`app.kubernetes.io/version`); never part of a selector. */
  version?: string;
}

/** The full recommended label set for metadata and pod templates. */
export function labelsFor(identity: WorkloadIdentity): Record<string, string> {
  return {
    ...selectorFor(identity),
    "app.kubernetes.io/part-of": PART_OF,
    "app.kubernetes.io/managed-by": "pulumi",
    ...(identity.version ? { "app.kubernetes.io/version": labelSafe(identity.version) } : {}),
  };
}

/** The immutable subset used in selectors: changing it would force a Deployment replacement. */
export function selectorFor(identity: WorkloadIdentity): Record<string, string> {
  return {
    "app.kubernetes.io/name": identity.name,
    "app.kubernetes.io/instance": identity.instance,
    "app.kubernetes.io/component": identity.component,
  };
}

/** Label values allow at most 63 characters of `[A-Za-z0-9._-]`; image tags may contain more. */
function labelSafe(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}
