import { describe, expect, it } from "vitest";
import {
  parseQuantity,
  QUANTITY_LIMITS,
  quantityKindProblem,
  quantityUnitHint,
} from "../../core/quantity";

/**
 * Quantities by what they measure: Kubernetes takes `512m` of memory and `cpu: 1000` alike, and
 * neither is ever meant. core/quantity.ts says why, before anything is applied.
 */

describe("quantityKindProblem", () => {
  it.each([
    ["cpu", "500m"],
    ["cpu", "2"],
    ["cpu", "0.5"],
    ["cpu", "1m"],
    ["cpu", "256"],
    ["memory", "512Mi"],
    ["memory", "1Gi"],
    ["memory", "1Ti"],
    ["memory", "500M"],
    ["memory", "4194304"],
    ["storage", "1Mi"],
    ["storage", "20Gi"],
    ["storage", "64Ti"],
    ["quotaCpu", "1000"],
    ["quotaMemory", "10Ti"],
  ] as const)("%s %s makes sense", (kind, value) => {
    expect(quantityKindProblem(kind, value)).toBeUndefined();
  });

  it.each([
    ["memory", "512m", /m, which means milli.*0\.512 bytes.*512Mi/],
    ["storage", "10m", /milli/],
    ["memory", "2Ti", /at most 1Ti of memory: one container runs on one node/],
    ["memory", "512", /at least 4Mi.*512 bytes: did you mean 512Mi/],
    ["storage", "0.5", /at least 1Mi of storage.*0\.5 bytes/],
    ["storage", "100Ti", /at most 64Ti of storage: one volume/],
    ["cpu", "1000", /at most 256 cores.*did you mean 1000m\?/],
    ["cpu", "0.0001", /at least 1m of CPU: Kubernetes counts CPU in whole millicores/],
    ["cpu", "2Gi", /Gi is not a CPU unit: CPU is counted in cores/],
    ["cpu", "1k", /k is not a CPU unit/],
    ["quotaCpu", "4Mi", /Mi is not a CPU unit/],
    ["quotaMemory", "8m", /milli/],
    ["memory", "0", /greater than zero/],
    ["storage", "0Gi", /greater than zero/],
  ] as const)("%s %s is refused", (kind, value, reason) => {
    expect(quantityKindProblem(kind, value)).toMatch(reason);
  });

  it("leaves a malformed quantity to the pattern", () => {
    expect(quantityKindProblem("memory", "20 GB")).toBeUndefined();
  });

  it("bounds are what they say", () => {
    expect(quantityKindProblem("memory", QUANTITY_LIMITS.memory)).toBeUndefined();
    expect(parseQuantity(QUANTITY_LIMITS.storage)).toBe(64 * 2 ** 40);
    expect(quantityKindProblem("cpu", String(QUANTITY_LIMITS.cpuCores + 1))).toMatch(/at most/);
  });
});

describe("quantityUnitHint", () => {
  it.each([
    ["512K", /lowercase k/],
    ["20GB", /Gi \(binary\) or G \(decimal\), without a B/],
    ["2gi", /Gi/],
    ["20 GB", /without a B/],
  ])("%s gets a hint", (value, hint) => {
    expect(quantityUnitHint(value)).toMatch(hint);
  });

  it("gives none where it has nothing to say", () => {
    expect(quantityUnitHint("big")).toBe("");
    expect(quantityUnitHint("5ms")).toBe("");
  });
});
