import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  NODE_LOG_COLLECTOR_COMPONENT,
  nodeLogsNamespace,
} from "../../../policy/model/security-exceptions";
import { POLICIES } from "../../../policy/catalogue";
import { PROFILE_LABEL } from "../../../policy/model/profile";
import type { RenderedResource } from "../../../policy/model/render-model";
import { renderedProfile, runPolicyPack } from "../../../policy/run";
import {
  container,
  daemonSet,
  deployment,
  hpa,
  ingress,
  job,
  kubeObject,
  networkPolicy,
  pdb,
  podLabels,
  profileNamespace,
  role,
  roleBinding,
  SECURE_CONTEXT,
  secret,
  service,
  serviceAccount,
  statefulSet,
} from "../../../policy/testing";

const ROOT = resolve(__dirname, "../../..");

/** The catalogue's ids and levels (docs/policy.md) ("M in prod" rules are mandatory and skip outside prod). */
const CATALOGUE: Record<string, "mandatory" | "advisory"> = {
  "pss-baseline": "mandatory",
  "pss-restricted": "mandatory",
  "image-pinned": "mandatory",
  "image-digest-prod": "advisory",
  "image-lock-drift": "mandatory",
  resources: "mandatory",
  probes: "mandatory",
  "read-only-root": "advisory",
  "sa-token": "mandatory",
  "secret-literal": "mandatory",
  "no-default-ns": "mandatory",
  "rbac-least": "mandatory",
  "svc-type": "mandatory",
  "ingress-tls-prod": "mandatory",
  "ha-replicas-prod": "mandatory",
  "protect-stateful-prod": "mandatory",
  "pvc-size": "mandatory",
  "svc-selects-pods": "mandatory",
  "netpol-selects-pods": "mandatory",
  "workload-has-netpol": "mandatory",
  "ingress-backend-exists": "mandatory",
  "ha-has-pdb": "mandatory",
  "refs-exist": "mandatory",
  "storage-refs": "mandatory",
  "hpa-consistency": "mandatory",
  "rbac-refs": "mandatory",
  "readiness-if-served": "mandatory",
  "postgres-access": "mandatory",
  "ingress-serves-only": "mandatory",
  "internet-egress": "mandatory",
  reachability: "mandatory",
};

/** A small platform that follows every rule: app, database, migration Job, log collector. */
function compliantStack() {
  const db = { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "app-db", key: "url" } } };
  const allow = (name: string) => networkPolicy(name, { matchLabels: podLabels(name) });
  const logs = nodeLogsNamespace("platform");
  const collector = daemonSet("otel-node", {
    namespace: logs,
    podLabels: podLabels("otel-node", NODE_LOG_COLLECTOR_COMPONENT),
    pod: {
      securityContext: { runAsUser: 0, seccompProfile: { type: "RuntimeDefault" } },
      volumes: [{ name: "pods", hostPath: { path: "/var/log/pods" } }],
    },
    containers: [
      container("otel", {
        ports: undefined,
        readinessProbe: undefined,
        livenessProbe: { httpGet: { path: "/", port: 13133 } },
        securityContext: { ...SECURE_CONTEXT, runAsNonRoot: false },
        volumeMounts: [{ name: "pods", mountPath: "/var/log/pods", readOnly: true }],
      }),
    ],
  });
  const collectorPolicy = networkPolicy(
    "otel-node",
    { matchLabels: podLabels("otel-node", NODE_LOG_COLLECTOR_COMPONENT) },
    true,
    { namespace: logs },
  );
  const claims = [
    {
      metadata: { name: "data" },
      spec: { storageClassName: "local-path", resources: { requests: { storage: "10Gi" } } },
    },
  ];
  const secretRules = [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "create"] }];
  return [
    deployment("web", {
      replicas: null,
      container: { env: [db] },
      pod: { serviceAccountName: "web" },
    }),
    serviceAccount("web"),
    secret("app-db", { url: "postgres://..." }),
    service("web"),
    hpa("web", { kind: "Deployment", name: "web" }, 2),
    pdb("web", { maxUnavailable: 1 }),
    ingress(
      "web",
      [{ host: "app.example.com", service: "web", port: "http" }],
      ["app.example.com"],
    ),
    allow("web"),
    statefulSet("postgres", {
      replicas: 1,
      spec: { volumeClaimTemplates: claims },
      protect: true,
      retainOnDelete: true,
    }),
    service("postgres-headless", { selector: podLabels("postgres"), clusterIP: "None" }),
    allow("postgres"),
    job("migrate", { container: { env: [db] } }),
    allow("migrate"),
    deployment("worker", {
      replicas: 1,
      podLabels: podLabels("app-worker", "worker"),
      container: { ports: undefined, readinessProbe: undefined },
      pod: { automountServiceAccountToken: true, serviceAccountName: "worker" },
    }),
    serviceAccount("worker"),
    networkPolicy("worker", { matchLabels: podLabels("app-worker", "worker") }),
    role("deployer", secretRules, {
      namespace: "target-a",
      labels: podLabels("app-worker", "worker"),
    }),
    roleBinding("deployer", { kind: "Role", name: "deployer" }, [{ name: "worker" }], {
      namespace: "target-a",
    }),
    networkPolicy("default-deny", {}, false),
    collector,
    collectorPolicy,
  ];
}

describe("the catalogue", () => {
  it("holds every rule of the catalogue once, at its level, with a description and a fix", () => {
    const levels = Object.fromEntries(
      POLICIES.map((policy) => [policy.name, policy.enforcementLevel]),
    );
    expect(levels).toEqual(CATALOGUE);
    expect(POLICIES).toHaveLength(Object.keys(CATALOGUE).length);
    for (const policy of POLICIES) {
      expect(policy.description.length, policy.name).toBeGreaterThan(20);
      expect(policy.remediationSteps?.length, policy.name).toBeGreaterThan(20);
    }
  });

  it("takes no profile from its config: the prod-only rules read the stack's namespace label", () => {
    const readsProfile = POLICIES.filter(
      (policy) => policy.configSchema?.properties.profile !== undefined,
    );
    expect(readsProfile).toEqual([]);
  });

  it("is never imported through policy/index.ts, which starts the analyzer server", () => {
    const importers = sourceFiles(ROOT).filter((file) =>
      [...readFileSync(file, "utf8").matchAll(/from\s+["'](\.[^"']*)["']/g)].some(([, specifier]) =>
        importsPackEntry(file, specifier),
      ),
    );
    expect(importers).toEqual([]);
  });
});

describe("runPolicyPack", () => {
  it("finds nothing in a compliant stack, in dev and in prod", async () => {
    for (const profile of ["dev", "prod"] as const) {
      const stack = [profileNamespace(profile), ...compliantStack()];
      expect(renderedProfile(stack)).toBe(profile);
      expect(await runPolicyPack(stack)).toEqual([]);
    }
  });

  it("fails closed: a stack that declares no profile, or another one, gets prod's rules", async () => {
    const tagged = deployment("web", { container: { image: "nginx:1.27.3" } });
    const prodOnly = async (resources: RenderedResource[]) =>
      (await runPolicyPack(resources))
        .map((violation) => violation.policy)
        .filter((policy) => policy.endsWith("-prod"));
    expect(await prodOnly([profileNamespace("dev"), tagged])).toEqual([]);
    const declaredElsewhere = kubeObject(
      "Namespace",
      "apps",
      {},
      {
        namespace: null,
        labels: { [PROFILE_LABEL]: "production" },
      },
    );
    for (const stack of [[tagged], [profileNamespace("dev"), declaredElsewhere, tagged]]) {
      expect(renderedProfile(stack)).toBe("prod");
      expect(await prodOnly(stack)).toEqual(["image-digest-prod"]);
    }
  });

  it("reports the rule, level, URN and resource of each finding", async () => {
    const web = deployment("web", { container: { image: "nginx:latest" } });
    const violations = await runPolicyPack([profileNamespace("dev"), web]);
    expect(violations.find((violation) => violation.policy === "image-pinned")).toEqual({
      policy: "image-pinned",
      level: "mandatory",
      urn: web.urn,
      resource: "Deployment/platform/web",
      message: expect.stringContaining("uses the moving tag"),
    });
    expect(
      violations.find((violation) => violation.policy === "workload-has-netpol"),
    ).toMatchObject({
      urn: web.urn,
      resource: "Deployment/platform/web",
    });
  });

  it("honours enforcement overrides: a mandatory rule made advisory, another disabled", async () => {
    const web = deployment("web", { container: { image: "nginx:latest" } });
    const violations = await runPolicyPack([profileNamespace("dev"), web], {
      enforcement: { "image-pinned": "advisory", "workload-has-netpol": "disabled" },
    });
    const byPolicy = new Map(violations.map((violation) => [violation.policy, violation.level]));
    expect(byPolicy.get("image-pinned")).toBe("advisory");
    expect(byPolicy.has("workload-has-netpol")).toBe(false);
    expect(byPolicy.get("ha-has-pdb")).toBe("mandatory");
  });

  it("rejects an override for a rule that does not exist", async () => {
    await expect(runPolicyPack([], { enforcement: { "image-pined": "disabled" } })).rejects.toThrow(
      /unknown policy image-pined/,
    );
  });
});

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      return ["node_modules", "out", ".git"].includes(entry.name) ? [] : sourceFiles(path);
    }
    return /\.(ts|mts|cts)$/.test(entry.name) ? [path] : [];
  });
}

/** True when the relative import names policy/index.ts (or the policy directory itself). */
function importsPackEntry(file: string, specifier: string): boolean {
  const target = resolve(dirname(file), specifier).replace(/\.ts$/, "");
  const policy = join(ROOT, "policy");
  return target === policy || target === join(policy, "index");
}
