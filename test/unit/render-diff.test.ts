import { describe, expect, it } from "vitest";
import { diffRenders, formatDiff } from "../../tools/lib/render-diff";
import type { Manifest } from "../../policy/model/render-model";

const statefulSet = (storage: string, image = "postgres:15.14"): Manifest => ({
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name: "postgres", namespace: "platform" },
  spec: {
    serviceName: "postgres-headless",
    template: { spec: { containers: [{ name: "postgres", image }] } },
    volumeClaimTemplates: [{ spec: { resources: { requests: { storage } } } }],
  },
});

const job = (command: string): Manifest => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "migrate", namespace: "platform" },
  spec: { template: { spec: { containers: [{ name: "m", command: [command] }] } } },
});

describe("engine-less diff", () => {
  it("identical renders have no changes", () => {
    expect(diffRenders([statefulSet("5Gi")], [statefulSet("5Gi")])).toEqual([]);
  });

  it("a new image on a StatefulSet is an in-place update", () => {
    const [change] = diffRenders([statefulSet("5Gi")], [statefulSet("5Gi", "postgres:15.15")]);
    expect(change.kind).toBe("update");
    expect(change.fields).toEqual([
      {
        path: "spec.template.spec.containers[0].image",
        before: "postgres:15.14",
        after: "postgres:15.15",
      },
    ]);
  });

  it("a changed volumeClaimTemplate replaces the StatefulSet and warns loudly", () => {
    const changes = diffRenders([statefulSet("5Gi")], [statefulSet("10Gi")]);
    expect(changes[0]).toMatchObject({ kind: "replace", stateful: true });
    expect(changes[0].immutableFields).toEqual([
      "spec.volumeClaimTemplates[0].spec.resources.requests.storage",
    ]);
    expect(formatDiff("prod", changes)).toMatch(
      /WARNING: REPLACE OF STATEFUL StatefulSet\/platform\/postgres/,
    );
  });

  it("a changed Job pod template is a replacement", () => {
    const [change] = diffRenders([job("a")], [job("b")]);
    expect(change.kind).toBe("replace");
    expect(formatDiff("dev", [change])).toMatch(
      /REPLACE.*Job\/platform\/migrate.*cannot change in place/,
    );
  });

  it("a changed Deployment selector is a replacement, its labels alone are not", () => {
    const deployment = (selector: string, label: string): Manifest => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "platform", labels: { tier: label } },
      spec: { selector: { matchLabels: { app: selector } } },
    });
    expect(diffRenders([deployment("web", "a")], [deployment("web", "b")])[0].kind).toBe("update");
    expect(diffRenders([deployment("web", "a")], [deployment("web2", "a")])[0].kind).toBe(
      "replace",
    );
  });

  it("a Service clusterIP change is a replacement", () => {
    const service = (clusterIP: string): Manifest => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "db", namespace: "platform" },
      spec: { clusterIP },
    });
    expect(diffRenders([service("None")], [service("")])[0].kind).toBe("replace");
  });

  it("a StatefulSet gone from the render is a loud deletion, a new object a creation", () => {
    const changes = diffRenders([statefulSet("5Gi")], [job("a")]);
    expect(changes.map((c) => c.kind).sort()).toEqual(["create", "delete"]);
    expect(formatDiff("prod", changes)).toMatch(/WARNING: DELETE OF STATEFUL/);
  });
});
