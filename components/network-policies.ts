import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  formatWiringTable,
  namespaceWiring,
  networkPoliciesFor,
  validateEdges,
  type Edge,
} from "../core/network";

/** Arguments of {@link NetworkPolicies}. */
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

/**
 * Default deny in one namespace, then exactly the wiring table: a `default-deny` policy (every
 * pod, ingress and egress) and one `allow-<workload>` policy per workload, derived from the same
 * edges at both ends. The `default-deny` policy carries the wiring table in its
 * `k3s-platform/wiring` annotation, which the `reachability` policy compares with what the
 * policies actually allow.
 */
export class NetworkPolicies extends pulumi.ComponentResource {
  /** The complete wiring table of this namespace (declared edges plus DNS). */
  public readonly edges: pulumi.Output<Edge[]>;
  /** The same table as Markdown, for the README and stack outputs. */
  public readonly table: pulumi.Output<string>;
  /** `metadata.name` of every policy, `default-deny` first. */
  public readonly policyNames: pulumi.Output<string[]>;
  /** The NetworkPolicy resources, for `dependsOn`. */
  public readonly policies: k8s.networking.v1.NetworkPolicy[];

  constructor(name: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:security:NetworkPolicies", name, {}, opts);
    const issues = validateEdges(args.edges, args);
    if (issues.length > 0) {
      // One error names the first field; its reason lists every problem, so one run shows all.
      const reason = issues.map((issue) => `${issue.propertyPath}: ${issue.reason}`).join("; ");
      throw new pulumi.InputPropertyError({ propertyPath: issues[0].propertyPath, reason });
    }

    const manifests = networkPoliciesFor(args.edges, args);
    this.policies = manifests.map(
      (manifest) =>
        new k8s.networking.v1.NetworkPolicy(
          `${name}-${manifest.metadata.name}`,
          {
            ...manifest,
            metadata: { ...manifest.metadata, namespace: args.namespaceRef ?? args.namespace },
          },
          { parent: this },
        ),
    );

    const table = namespaceWiring(args.edges, args.namespace);
    this.edges = pulumi.output(table);
    this.table = pulumi.output(formatWiringTable(table, args.namespace));
    this.policyNames = pulumi.output(manifests.map((manifest) => manifest.metadata.name));

    this.registerOutputs({
      edges: this.edges,
      table: this.table,
      policyNames: this.policyNames,
    });
  }
}
