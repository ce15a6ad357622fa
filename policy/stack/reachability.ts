import type { StackValidationPolicy } from "@pulumi/policy";
import {
  parseWiring,
  peerKey,
  WIRING_ANNOTATION,
  type Edge,
  type WiringDocument,
} from "../model/network";
import { compareWithWiring, reachabilityMatrix } from "../model/reachability";
import type { Manifest } from "../model/render-model";
import type { KubeObject } from "../lib/k8s";
import { validateKubeStack } from "../lib/rule";

/*
 * Where the wiring table comes from: the NetworkPolicies component writes it, as JSON, into the
 * `k3s-platform/wiring` annotation of the `default-deny` policy of each namespace it governs
 * (policy/model/wiring.ts, `WiringDocument`). It travels with the render and with a real
 * `pulumi preview`, so this rule needs no access to the program, and a policy edited by hand
 * without editing the table is caught. Without any such annotation the rule skips:
 * `workload-has-netpol` already reports a stack without NetworkPolicies.
 */

interface Wiring {
  holder: KubeObject;
  document: WiringDocument;
}

function wiringsOf(policies: readonly KubeObject[], report: (o: KubeObject, d: string) => void) {
  const found: Wiring[] = [];
  for (const holder of policies) {
    const text = holder.metadata.annotations?.[WIRING_ANNOTATION];
    if (typeof text !== "string") continue;
    try {
      found.push({ holder, document: parseWiring(text) });
    } catch (error) {
      report(
        holder,
        `metadata.annotations["${WIRING_ANNOTATION}"] is not a wiring table ` +
          `(${(error as Error).message}); let the NetworkPolicies component write it`,
      );
    }
  }
  return found;
}

/** The edges of every namespace once each: an edge across namespaces is in both tables. */
function unionOf(wirings: Wiring[]): Edge[] {
  const byKey = new Map<string, Edge>();
  for (const { document } of wirings) {
    for (const entry of document.edges) {
      const key = JSON.stringify([peerKey(entry.from), peerKey(entry.to), entry.ports]);
      if (!byKey.has(key)) byKey.set(key, entry);
    }
  }
  return [...byKey.values()];
}

function manifestOf(object: KubeObject): Manifest {
  return { ...object.body, kind: object.kind, metadata: object.metadata } as Manifest;
}

/**
 * Whole-stack rule `reachability`: the connections the NetworkPolicies allow, computed as K3s's
 * kube-router enforces them, equal the wiring table (DNS, Traefik, the API server and the
 * internet included). An unintended edge widens the blast radius of a compromised pod; a missing
 * one breaks the app only once a default deny is enforced, i.e. in production.
 */
export const reachability: StackValidationPolicy = {
  name: "reachability",
  description:
    "The reachability matrix computed from the NetworkPolicies and pod labels (as kube-router " +
    "enforces it on K3s) equals the wiring table carried in the default-deny policy's " +
    `${WIRING_ANNOTATION} annotation: nothing allowed beyond it, nothing in it blocked.`,
  enforcementLevel: "mandatory",
  remediationSteps:
    "Declare connections as edges of the NetworkPolicies component instead of editing policies; " +
    "for a missing edge check the ports are the destination's container ports and its labels " +
    "come from selectorFor(identity).",
  validateStack: validateKubeStack((stack, report, args) => {
    const wirings = wiringsOf(stack.ofKind("NetworkPolicy"), report);
    if (wirings.length === 0) args.notApplicable("no wiring table in the stack");
    const [first] = wirings;
    const { podCidr, serviceCidr } = first.document;
    const disagreeing = wirings.filter(
      ({ document }) => document.podCidr !== podCidr || document.serviceCidr !== serviceCidr,
    );
    for (const { holder, document } of disagreeing) {
      report(
        holder,
        `its wiring table says podCidr ${document.podCidr}, serviceCidr ${document.serviceCidr}, ` +
          `but ${first.holder.id}'s says ${podCidr}, ${serviceCidr}; give every NetworkPolicies ` +
          "component the cluster's CIDRs from config",
      );
    }
    const edges = unionOf(wirings);
    const matrix = reachabilityMatrix(stack.objects.map(manifestOf), {
      podCidr,
      serviceCidr,
      externals: edges.flatMap((entry) => [entry.from, entry.to]),
    });
    if (matrix.undecidable.length > 0) args.notApplicable(matrix.undecidable.join("; "));
    const { unintended, missing } = compareWithWiring(matrix, edges);
    for (const finding of unintended) {
      report(
        first.holder,
        `${finding}; declare the edge or narrow the NetworkPolicy that opens it`,
      );
    }
    for (const finding of missing) {
      report(first.holder, `${finding}; the app will fail on this connection once deployed`);
    }
  }),
};
