import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  formatWiringTable,
  namespaceWiring,
  networkPoliciesFor,
  type Edge,
} from "../../policy/model/network";
import { assertValidArgs } from "../lib/validation";
import { networkPoliciesRules, type NetworkPoliciesArgs } from "./args";

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
    assertValidArgs("NetworkPolicies", networkPoliciesRules(args));

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
