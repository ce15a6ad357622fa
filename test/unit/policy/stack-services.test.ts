import { describe, expect, it } from "vitest";
import { ingressBackendExists } from "../../../policy/stack/ingress-backend-exists";
import { netpolSelectsPods } from "../../../policy/stack/netpol-selects-pods";
import { readinessIfServed } from "../../../policy/stack/readiness-if-served";
import { svcSelectsPods } from "../../../policy/stack/svc-selects-pods";
import { workloadHasNetpol } from "../../../policy/stack/workload-has-netpol";
import {
  deployment,
  ingress,
  job,
  networkPolicy,
  podLabels,
  runRule,
  service,
} from "../../../policy/testing";

describe("svc-selects-pods", () => {
  it("passes a Service that selects the Deployment's pods and targets a named port", async () => {
    expect(await runRule(svcSelectsPods, [service("web"), deployment("web")])).toEqual([]);
  });

  it("rejects labels that differ by one character, pointing at the near miss", async () => {
    const resources = [service("web"), deployment("web", { podLabels: podLabels("webb", "web") })];
    expect(await runRule(svcSelectsPods, resources)).toEqual([
      `Service/platform/web: selects no pod template (spec.selector: app.kubernetes.io/name=web, ` +
        `app.kubernetes.io/component=web) (closest: Deployment/platform/web has ` +
        `app.kubernetes.io/name=webb); derive the selector and the pod labels from the same ` +
        `identity (selectorFor in policy/model/labels.ts)`,
    ]);
  });

  it("does not select pods in another namespace", async () => {
    const resources = [service("web"), deployment("web", { namespace: "other" })];
    expect(await runRule(svcSelectsPods, resources)).toEqual([
      expect.stringContaining("selects no pod template"),
    ]);
  });

  it("rejects a numeric targetPort no container declares", async () => {
    const ports = [{ name: "http", port: 80, targetPort: 8081 }];
    expect(await runRule(svcSelectsPods, [service("web", { ports }), deployment("web")])).toEqual([
      expect.stringContaining(
        "port http targets port 8081/TCP (spec.ports[0].targetPort), which no container of " +
          "Deployment/platform/web declares",
      ),
    ]);
  });

  it("accepts the numeric containerPort and rejects an unknown port name", async () => {
    const numeric = service("web", { ports: [{ port: 80, targetPort: 8080 }] });
    expect(await runRule(svcSelectsPods, [numeric, deployment("web")])).toEqual([]);
    const named = service("web", { ports: [{ name: "http", port: 80, targetPort: "metrics" }] });
    expect(await runRule(svcSelectsPods, [named, deployment("web")])).toEqual([
      expect.stringContaining("targets named port metrics/TCP"),
    ]);
  });

  it("defaults targetPort to port", async () => {
    const ports = [{ name: "http", port: 8080 }];
    expect(await runRule(svcSelectsPods, [service("web", { ports }), deployment("web")])).toEqual(
      [],
    );
  });

  it("skips a selector whose value is not known yet", async () => {
    const resources = [service("web", { selector: { "app.kubernetes.io/name": undefined } })];
    expect(await runRule(svcSelectsPods, [...resources, deployment("web")])).toEqual([]);
  });
});

describe("netpol-selects-pods", () => {
  it("passes a policy selecting a workload and the empty default deny", async () => {
    const resources = [
      deployment("web"),
      networkPolicy("web", { matchLabels: podLabels("web") }),
      networkPolicy("default-deny", {}, false),
    ];
    expect(await runRule(netpolSelectsPods, resources)).toEqual([]);
  });

  it("rejects a policy that selects nothing", async () => {
    const resources = [deployment("web"), networkPolicy("web", { matchLabels: podLabels("wbe") })];
    expect(await runRule(netpolSelectsPods, resources)).toEqual([
      expect.stringContaining("NetworkPolicy/platform/web: selects no pod template"),
    ]);
  });

  it("evaluates matchExpressions", async () => {
    const podSelector = {
      matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["web", "api"] }],
    };
    expect(
      await runRule(netpolSelectsPods, [deployment("web"), networkPolicy("x", podSelector)]),
    ).toEqual([]);
  });
});

describe("workload-has-netpol", () => {
  it("passes a Deployment and a Job with their own allow policies", async () => {
    const resources = [
      deployment("web"),
      job("migrate"),
      networkPolicy("web", { matchLabels: podLabels("web") }),
      networkPolicy("migrate", { matchLabels: podLabels("migrate") }),
    ];
    expect(await runRule(workloadHasNetpol, resources)).toEqual([]);
  });

  it("rejects a workload covered only by a deny or a namespace-wide policy", async () => {
    const resources = [
      deployment("web"),
      networkPolicy("default-deny", {}, false),
      networkPolicy("dns", {}),
      networkPolicy("web-deny", { matchLabels: podLabels("web") }, false),
    ];
    expect(await runRule(workloadHasNetpol, resources)).toEqual([
      expect.stringContaining("Deployment/platform/web: no allow NetworkPolicy selects its pods"),
    ]);
  });
});

describe("ingress-backend-exists", () => {
  const rules = [{ host: "app.example.com", service: "web", port: "http" }];

  it("passes a backend Service exposing the named or numbered port", async () => {
    const numbered = ingress("api", [{ host: "api.example.com", service: "web", port: 80 }]);
    expect(
      await runRule(ingressBackendExists, [ingress("web", rules), numbered, service("web")]),
    ).toEqual([]);
  });

  it("rejects a missing Service", async () => {
    expect(await runRule(ingressBackendExists, [ingress("web", rules), service("api")])).toEqual([
      expect.stringContaining(
        "Ingress/platform/web: routes to Service web, which is not in the stack " +
          "(spec.rules[0].http.paths[0].backend.service.name)",
      ),
    ]);
  });

  it("rejects a port the Service does not expose", async () => {
    const wrong = ingress("web", [{ host: "app.example.com", service: "web", port: 8080 }]);
    expect(await runRule(ingressBackendExists, [wrong, service("web")])).toEqual([
      expect.stringContaining(
        "routes to port 8080 of Service/platform/web, which does not expose it",
      ),
    ]);
  });
});

describe("readiness-if-served", () => {
  it("passes a served container with readiness", async () => {
    expect(await runRule(readinessIfServed, [service("web"), deployment("web")])).toEqual([]);
  });

  it("rejects the serving container without readiness, once per container", async () => {
    const web = deployment("web", { container: { readinessProbe: undefined } });
    const metrics = service("web-metrics", { selector: podLabels("web") });
    expect(await runRule(readinessIfServed, [service("web"), metrics, web])).toEqual([
      expect.stringContaining(
        `Deployment/platform/web: container "web" is behind Service/platform/web but has no ` +
          `readiness probe (spec.template.spec.containers[0].readinessProbe)`,
      ),
    ]);
  });
});
