import { describe, expect, it } from "vitest";
import { haReplicasProd } from "../../../policy/rules/ha-replicas-prod";
import { protectStatefulProd } from "../../../policy/rules/protect-stateful-prod";
import { pvcSize } from "../../../policy/rules/pvc-size";
import { deployment, pvc, runRule, statefulSet } from "../../../policy/testing";

const prod = { profile: "prod" } as const;

const claimTemplate = (storage?: string) => ({
  metadata: { name: "data" },
  spec: {
    accessModes: ["ReadWriteOnce"],
    resources: storage ? { requests: { storage } } : {},
  },
});

describe("ha-replicas-prod on a Deployment", () => {
  it("passes 2 spread replicas, and leaves absent replicas to the HPA", async () => {
    const resources = [deployment("web"), deployment("api", { replicas: null })];
    expect(await runRule(haReplicasProd, resources, prod)).toEqual([]);
  });

  it("rejects one replica without a spread", async () => {
    const resource = deployment("web", { replicas: 1, pod: { topologySpreadConstraints: [] } });
    expect(await runRule(haReplicasProd, [resource], prod)).toEqual([
      expect.stringContaining(
        "Deployment/platform/web: serves traffic with 1 replica(s) (spec.replicas)",
      ),
      expect.stringContaining("has no spread across nodes"),
    ]);
    expect(await runRule(haReplicasProd, [resource])).toEqual([]);
  });

  it("accepts pod anti-affinity as a spread and ignores workers that serve nothing", async () => {
    const antiAffinity = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname" } },
        ],
      },
    };
    const web = deployment("web", {
      pod: { topologySpreadConstraints: [], affinity: antiAffinity },
    });
    const worker = deployment("worker", { replicas: 1, container: { ports: undefined } });
    expect(await runRule(haReplicasProd, [web, worker], prod)).toEqual([]);
  });
});

describe("protect-stateful-prod", () => {
  const spec = { volumeClaimTemplates: [claimTemplate("10Gi")] };

  it("passes protected, retained StatefulSets and PVCs", async () => {
    const options = { protect: true, retainOnDelete: true };
    const resources = [
      statefulSet("postgres", { spec, ...options }),
      pvc("ollama", { storage: "50Gi" }, options),
    ];
    expect(await runRule(protectStatefulProd, resources, prod)).toEqual([]);
  });

  it("rejects an unprotected StatefulSet with claims in prod", async () => {
    const resource = statefulSet("postgres", { spec });
    expect(await runRule(protectStatefulProd, [resource], prod)).toEqual([
      expect.stringContaining("StatefulSet/platform/postgres: holds data but is not protected"),
      expect.stringContaining("would be deleted with the stack (resource option retainOnDelete)"),
    ]);
    expect(await runRule(protectStatefulProd, [resource])).toEqual([]);
  });

  it("rejects a PVC without retainOnDelete and ignores a StatefulSet without claims", async () => {
    const claim = pvc("ollama", { storage: "50Gi" }, { protect: true });
    expect(await runRule(protectStatefulProd, [claim, statefulSet("stateless")], prod)).toEqual([
      expect.stringContaining(
        "PersistentVolumeClaim/platform/ollama: holds data but would be deleted",
      ),
    ]);
  });
});

describe("pvc-size on a StatefulSet", () => {
  it("passes a sized claim template", async () => {
    const resource = statefulSet("postgres", {
      spec: { volumeClaimTemplates: [claimTemplate("10Gi")] },
    });
    expect(await runRule(pvcSize, [resource])).toEqual([]);
  });

  it("rejects a claim template without a size", async () => {
    const resource = statefulSet("postgres", { spec: { volumeClaimTemplates: [claimTemplate()] } });
    expect(await runRule(pvcSize, [resource])).toEqual([
      `StatefulSet/platform/postgres: volumeClaimTemplate "data" requests no storage ` +
        `(spec.volumeClaimTemplates[0].spec.resources.requests.storage); set a size such as 10Gi`,
    ]);
  });
});

describe("pvc-size on a PersistentVolumeClaim", () => {
  it("passes a sized claim and rejects an unsized one", async () => {
    expect(await runRule(pvcSize, [pvc("ollama", { storage: "50Gi" })])).toEqual([]);
    expect(await runRule(pvcSize, [pvc("ollama", {})])).toEqual([
      expect.stringContaining("requests no storage (spec.resources.requests.storage)"),
    ]);
  });
});
