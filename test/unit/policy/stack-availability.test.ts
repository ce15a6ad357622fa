import { describe, expect, it } from "vitest";
import { haHasPdb } from "../../../policy/stack/ha-has-pdb";
import { hpaConsistency } from "../../../policy/stack/hpa-consistency";
import { deployment, hpa, pdb, runRule, statefulSet } from "../../../policy/testing";

describe("ha-has-pdb", () => {
  it("passes 2 replicas with maxUnavailable 1, and a single replica without a PDB", async () => {
    const resources = [
      deployment("web"),
      pdb("web", { maxUnavailable: 1 }),
      deployment("worker", { replicas: 1 }),
    ];
    expect(await runRule(haHasPdb, resources)).toEqual([]);
  });

  it("rejects replicas without a PDB", async () => {
    expect(await runRule(haHasPdb, [statefulSet("dragonfly", { replicas: 3 })])).toEqual([
      expect.stringContaining(
        "StatefulSet/platform/dragonfly: runs 3 replicas but no PodDisruptionBudget selects its pods",
      ),
    ]);
  });

  it("rejects a PDB with minAvailable equal to the replicas", async () => {
    const resources = [deployment("web"), pdb("web", { minAvailable: 2 })];
    expect(await runRule(haHasPdb, resources)).toEqual([
      `PodDisruptionBudget/platform/web: blocks every drain of Deployment/platform/web: ` +
        `minAvailable 2 (spec.minAvailable) with 2 replicas lets no pod be evicted; set ` +
        `maxUnavailable: 1 or minAvailable below 2`,
    ]);
  });

  it("rounds percentages up like the disruption controller", async () => {
    const blocking = [deployment("web", { replicas: 3 }), pdb("web", { minAvailable: "80%" })];
    expect(await runRule(haHasPdb, blocking)).toHaveLength(1);
    const fine = [deployment("web", { replicas: 3 }), pdb("web", { minAvailable: "50%" })];
    expect(await runRule(haHasPdb, fine)).toEqual([]);
  });

  it("takes the HPA's minReplicas as the floor when replicas are left to it", async () => {
    const resources = [
      deployment("web", { replicas: null }),
      hpa("web", { kind: "Deployment", name: "web" }, 2),
    ];
    expect(await runRule(haHasPdb, resources)).toEqual([
      expect.stringContaining("runs 2 replicas but no PodDisruptionBudget"),
    ]);
  });
});

describe("hpa-consistency", () => {
  const target = { kind: "Deployment", name: "web" };

  it("passes an HPA over a Deployment that leaves replicas to it", async () => {
    const resources = [
      deployment("web", { replicas: null }),
      hpa("web", target, 2),
      pdb("web", { maxUnavailable: 1 }),
    ];
    expect(await runRule(hpaConsistency, resources)).toEqual([]);
  });

  it("rejects a missing target", async () => {
    expect(await runRule(hpaConsistency, [hpa("web", target, 2)])).toEqual([
      expect.stringContaining(
        "HorizontalPodAutoscaler/platform/web: scales Deployment web, which is not in the stack",
      ),
    ]);
  });

  it("rejects a PDB that minReplicas cannot satisfy", async () => {
    const resources = [
      deployment("web", { replicas: null }),
      hpa("web", target, 2),
      pdb("web", { minAvailable: 2 }),
    ];
    expect(await runRule(hpaConsistency, resources)).toEqual([
      expect.stringContaining(
        "at minReplicas 2 (spec.minReplicas) PodDisruptionBudget/platform/web with minAvailable 2",
      ),
    ]);
  });

  it("rejects spec.replicas on a scaled workload and minReplicas above maxReplicas", async () => {
    const resources = [deployment("web"), hpa("web", target, 6, 5)];
    expect(await runRule(hpaConsistency, resources)).toEqual([
      expect.stringContaining("minReplicas 6 exceeds maxReplicas 5"),
      expect.stringContaining("Deployment/platform/web: sets spec.replicas (2) while"),
    ]);
  });
});
