/**
 * What the engine-less runtime records of one resource the program registered: the shared shape
 * that render, check, diff, graph and the policy runner work on.
 */
export interface RenderedResource {
  /** The resource's URN as the mock engine assigned it. */
  urn: string;
  /** Pulumi type token, e.g. `kubernetes:apps/v1:Deployment` or `k3s-platform:data:Postgres`. */
  type: string;
  /** Pulumi logical name. */
  name: string;
  /** True for provider-managed (custom) resources, false for components and the stack. */
  custom: boolean;
  /** URN of the parent resource; absent for the stack itself. */
  parent?: string;
  /** URNs this resource depends on: explicit `dependsOn` plus the resources its inputs came from. */
  dependencies: string[];
  /** `protect` resource option. */
  protect: boolean;
  /** `retainOnDelete` resource option. */
  retainOnDelete: boolean;
  /** Resolved inputs with every secret value replaced by {@link REDACTED}. */
  props: Record<string, unknown>;
}

/** The marker that replaces every secret value in anything the engine-less tools write or print. */
export const REDACTED = "[secret]";

/** A Kubernetes object as rendered: apiVersion, kind, metadata and the rest of its fields. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}
