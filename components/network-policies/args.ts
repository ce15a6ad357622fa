import type * as pulumi from "@pulumi/pulumi";
import { validateEdges, type Edge } from "../../policy/model/network";
import type { FieldError } from "../../core/validation";

/** Arguments of a {@link NetworkPolicies}. */
export interface NetworkPoliciesArgs {
  /**
   * The namespace whose pods the policies govern. A plain string, not an Output: peers name their
   * namespace, and whether an edge ends here must be known when the policies are written.
   */
  namespace: string;
  /**
   * The wiring table: every connection the platform needs, with its reason. Edges may start or
   * end in other namespaces (their own NetworkPolicies component writes that end); DNS to CoreDNS
   * is added for every workload that appears in an edge.
   */
  edges: Edge[];
  /** The cluster's pod CIDR (config `cluster.podCidr`; K3s default `10.42.0.0/16`). */
  podCidr: string;
  /** The cluster's Service CIDR (config `cluster.serviceCidr`; K3s default `10.43.0.0/16`). */
  serviceCidr: string;
  /**
   * The same namespace as an output of whatever creates it, so the policies are created after
   * their namespace exists (and only after it, not after everything its owner creates).
   * @default `namespace`, with no ordering
   */
  namespaceRef?: pulumi.Input<string>;
}

/** What {@link networkPoliciesRules} reads: the edges and the cluster's address plan. */
export type NetworkPoliciesRuleArgs = Pick<
  NetworkPoliciesArgs,
  "edges" | "podCidr" | "serviceCidr"
>;

/**
 * Every problem with the edges and the CIDRs: `podCidr`, `serviceCidr`, and per edge
 * `edges[<index>]…` (a workload at one end at least, a reason, valid ports and CIDRs).
 */
export function networkPoliciesRules(args: NetworkPoliciesRuleArgs): FieldError[] {
  return validateEdges(args.edges, args);
}
