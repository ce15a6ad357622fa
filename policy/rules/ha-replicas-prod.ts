import type { StackValidationPolicy } from "@pulumi/policy";
import { COMPONENT_LABEL, isAllowed, SINGLE_REPLICA_WORKLOADS } from "../model/security-exceptions";
import type { Deployment } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import { validateProdWorkloads } from "../lib/rule";
import type { Workload } from "../lib/workloads";
import { runningContainersOf } from "../lib/workloads";

function servesTraffic(workload: Workload): boolean {
  return runningContainersOf(workload).some((ref) => asArray(ref.container.ports).length > 0);
}

function isSpread(workload: Workload): boolean {
  const antiAffinity = workload.spec.affinity?.podAntiAffinity;
  return (
    asArray(workload.spec.topologySpreadConstraints).length > 0 ||
    asArray(antiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).length > 0 ||
    asArray(antiAffinity?.preferredDuringSchedulingIgnoredDuringExecution).length > 0
  );
}

/** One replica, or two on the same node, is an outage at every node drain or K3s upgrade. */
export const haReplicasProd: StackValidationPolicy = {
  name: "ha-replicas-prod",
  description:
    "In prod, Deployments that serve traffic (declare a container port) run at least 2 " +
    "replicas with a spread: pod anti-affinity or topology spread constraints.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set replicas ≥ 2 (or leave replicas to an HPA with minReplicas ≥ 2) and spreadAcrossNodes " +
    "in the pod args, which adds a topology spread constraint on kubernetes.io/hostname.",
  validateStack: validateProdWorkloads((workload, report) => {
    if (workload.kind !== "Deployment" || !servesTraffic(workload)) return;
    const component = workload.labels[COMPONENT_LABEL];
    if (isAllowed(SINGLE_REPLICA_WORKLOADS, component)) return;
    // Absent replicas are left to an HPA (hpa-consistency and ha-has-pdb check that one).
    const replicas = view<Deployment>(workload.object).spec?.replicas;
    if (typeof replicas === "number" && replicas < 2) {
      report(
        `serves traffic with ${replicas} replica(s) (spec.replicas); set replicas ≥ 2 in prod`,
      );
    }
    if (!isSpread(workload)) {
      report(
        `has no spread across nodes (${workload.path}.spec.topologySpreadConstraints or ` +
          `.affinity.podAntiAffinity); add a topology spread constraint on kubernetes.io/hostname`,
      );
    }
  }),
};
