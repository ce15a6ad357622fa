import { describe, expect, it } from "vitest";
import { EXPOSE_ANNOTATION } from "../../../policy/model/security-exceptions";
import { noDefaultNs } from "../../../policy/rules/no-default-ns";
import { rbacLeast } from "../../../policy/rules/rbac-least";
import { svcType } from "../../../policy/rules/svc-type";
import { ingressTlsProd } from "../../../policy/rules/ingress-tls-prod";
import { WORKLOAD_KINDS } from "../../../policy/lib/workloads";
import {
  ingress,
  podLabels,
  role,
  roleBinding,
  runRule,
  service,
  workload,
} from "../../../policy/testing";

describe.each(WORKLOAD_KINDS)("no-default-ns on a %s", (kind) => {
  it("passes the platform namespace", async () => {
    expect(await runRule(noDefaultNs, [workload(kind, "web")])).toEqual([]);
  });

  it("rejects the default namespace", async () => {
    expect(await runRule(noDefaultNs, [workload(kind, "web", { namespace: "default" })])).toEqual([
      `${kind}/default/web: is in the default namespace (metadata.namespace); set ` +
        `metadata.namespace to the platform namespace`,
    ]);
  });
});

describe("no-default-ns", () => {
  it("covers every namespaced kind and skips an unknown namespace", async () => {
    expect(await runRule(noDefaultNs, [service("web", { namespace: "default" })])).toHaveLength(1);
    expect(await runRule(noDefaultNs, [service("web", { namespace: null })])).toEqual([]);
  });
});

describe("rbac-least", () => {
  const pods = { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] };

  it("passes exact verbs and resources", async () => {
    expect(await runRule(rbacLeast, [role("prometheus", [pods], { cluster: true })])).toEqual([]);
  });

  it("rejects wildcards", async () => {
    const rules = [{ apiGroups: ["apps"], resources: ["*"], verbs: ["*"] }];
    expect(await runRule(rbacLeast, [role("deployer", rules)])).toEqual([
      expect.stringContaining("Role/platform/deployer: grants every verb (rules[0].verbs)"),
      expect.stringContaining("grants every resource (rules[0].resources)"),
    ]);
  });

  it("lets only SECRET_READERS' Roles read Secrets, never a ClusterRole", async () => {
    const secrets = { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] };
    const worker = { labels: podLabels("app-worker", "worker") };
    const getOnly = { ...secrets, verbs: ["get", "create", "update", "patch", "delete"] };
    expect(await runRule(rbacLeast, [role("target", [getOnly], worker)])).toEqual([]);
    expect(await runRule(rbacLeast, [role("target", [secrets], worker)])).toEqual([
      expect.stringContaining("lists or watches Secrets (rules[0].verbs)"),
    ]);
    expect(
      await runRule(rbacLeast, [role("web", [secrets], { labels: podLabels("web") })]),
    ).toEqual([expect.stringContaining("can read Secrets (rules[0])")]);
    const cluster = role("worker-all", [secrets], { ...worker, cluster: true });
    expect(await runRule(rbacLeast, [cluster])).toEqual([
      expect.stringContaining("ClusterRole/worker-all: can read Secrets"),
    ]);
  });

  it("allows get on named Secrets", async () => {
    const named = {
      apiGroups: [""],
      resources: ["secrets"],
      resourceNames: ["tls"],
      verbs: ["get"],
    };
    expect(await runRule(rbacLeast, [role("web", [named])])).toEqual([]);
  });

  it("rejects a binding to cluster-admin", async () => {
    const binding = roleBinding("admin", { kind: "ClusterRole", name: "cluster-admin" }, [
      { name: "worker" },
    ]);
    expect(await runRule(rbacLeast, [binding])).toEqual([
      expect.stringContaining("binds the built-in ClusterRole cluster-admin (roleRef.name)"),
    ]);
  });
});

describe("svc-type", () => {
  it("passes ClusterIP and an exposed LoadBalancer", async () => {
    const annotations = { [EXPOSE_ANNOTATION]: "true" };
    const exposed = service("traefik", { type: "LoadBalancer", annotations });
    expect(await runRule(svcType, [service("web"), exposed])).toEqual([]);
  });

  it("rejects a NodePort nobody asked for", async () => {
    expect(await runRule(svcType, [service("web", { type: "NodePort" })])).toEqual([
      expect.stringContaining(
        `Service/platform/web: is a NodePort Service without the ${EXPOSE_ANNOTATION}`,
      ),
    ]);
  });
});

describe("ingress-tls-prod", () => {
  const rules = [{ host: "app.example.com", service: "web", port: "http" }];

  it("passes a host with TLS, also through a wildcard", async () => {
    const exact = ingress("web", rules, ["app.example.com"]);
    const wildcard = ingress("api", rules, ["*.example.com"]);
    expect(await runRule(ingressTlsProd, [exact, wildcard], { profile: "prod" })).toEqual([]);
  });

  it("rejects a host without TLS in prod only", async () => {
    const plain = ingress("web", rules, ["other.example.com"]);
    expect(await runRule(ingressTlsProd, [plain], { profile: "prod" })).toEqual([
      expect.stringContaining("host app.example.com has no TLS (spec.rules[0].host)"),
    ]);
    expect(await runRule(ingressTlsProd, [plain], { profile: "dev" })).toEqual([]);
  });

  it("rejects a catch-all rule without any TLS", async () => {
    const catchAll = ingress("web", [{ service: "web", port: 80 }]);
    expect(await runRule(ingressTlsProd, [catchAll], { profile: "prod" })).toEqual([
      expect.stringContaining("rule 0 serves every host without TLS"),
    ]);
  });
});
