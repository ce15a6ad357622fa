import { describe, expect, it } from "vitest";
import { rbacRefs } from "../../../policy/stack/rbac-refs";
import { refsExist } from "../../../policy/stack/refs-exist";
import { storageRefs } from "../../../policy/stack/storage-refs";
import {
  configMap,
  cronJob,
  deployment,
  pvc,
  role,
  roleBinding,
  runRule,
  secret,
  service,
  serviceAccount,
  statefulSet,
} from "../../../policy/testing";

describe("refs-exist", () => {
  const env = [
    { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "app-db", key: "url" } } },
    { name: "LOG_LEVEL", valueFrom: { configMapKeyRef: { name: "app", key: "logLevel" } } },
  ];
  const volumes = [
    { name: "config", configMap: { name: "app" } },
    {
      name: "tls",
      secret: { secretName: "app-tls", items: [{ key: "tls.crt", path: "tls.crt" }] },
    },
    { name: "models", persistentVolumeClaim: { claimName: "models" } },
  ];
  const present = [
    secret("app-db", { url: "x" }),
    secret("app-tls", { "tls.crt": "x" }),
    configMap("app", { logLevel: "info" }),
    pvc("models", { storage: "1Gi" }),
    serviceAccount("web"),
  ];
  const web = deployment("web", {
    container: { env },
    pod: { volumes, serviceAccountName: "web" },
  });

  it("passes references that all resolve", async () => {
    expect(await runRule(refsExist, [web, ...present])).toEqual([]);
  });

  it("rejects a secretKeyRef to a missing key", async () => {
    const resources = [web, ...present.slice(1), secret("app-db", { password: "x" })];
    expect(await runRule(refsExist, resources)).toEqual([
      `Deployment/platform/web: uses key url of Secret/platform/app-db, which has no such key ` +
        `(spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef); use one of password ` +
        `or add the key`,
    ]);
  });

  it("rejects missing objects, on a CronJob too", async () => {
    const nightly = cronJob("backup", {
      container: { env },
      pod: { volumes, serviceAccountName: "backup" },
    });
    const messages = await runRule(refsExist, [nightly]);
    expect(messages).toHaveLength(6);
    expect(messages[0]).toContain(
      "refers to Secret app-db, which is not in the stack " +
        "(spec.jobTemplate.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef)",
    );
    expect(messages.join("\n")).toContain("refers to ServiceAccount backup");
    expect(messages.join("\n")).toContain("refers to PersistentVolumeClaim models");
  });

  it("skips optional references, built-ins and redacted data", async () => {
    const optional = [
      { name: "X", valueFrom: { secretKeyRef: { name: "nope", key: "k", optional: true } } },
    ];
    const redacted = {
      ...secret("app-db", {}),
      props: { ...secret("app-db", {}).props, stringData: "[secret]" },
    };
    const resources = [
      deployment("a", { container: { env: optional }, pod: { serviceAccountName: "default" } }),
      deployment("b", { container: { env: env.slice(0, 1) } }),
      redacted,
    ];
    expect(await runRule(refsExist, resources)).toEqual([]);
  });
});

describe("storage-refs", () => {
  const claims = {
    volumeClaimTemplates: [
      { metadata: { name: "data" }, spec: { storageClassName: "local-path" } },
    ],
  };

  it("passes a headless governing Service and the K3s StorageClass", async () => {
    const resources = [
      statefulSet("postgres", { spec: claims }),
      service("postgres-headless", { clusterIP: "None" }),
    ];
    expect(await runRule(storageRefs, resources)).toEqual([]);
  });

  it("rejects a governing Service that is missing or not headless", async () => {
    expect(await runRule(storageRefs, [statefulSet("postgres")])).toEqual([
      expect.stringContaining(
        "names governing Service postgres-headless, which is not in the stack",
      ),
    ]);
    const clusterIp = service("postgres-headless", { clusterIP: "10.43.0.10" });
    expect(await runRule(storageRefs, [statefulSet("postgres"), clusterIp])).toEqual([
      expect.stringContaining("but it is not headless"),
    ]);
  });

  it("rejects a StorageClass other than the configured one", async () => {
    const resources = [
      statefulSet("postgres", { spec: claims }),
      service("postgres-headless", { clusterIP: "None" }),
      pvc("models", { storage: "1Gi", storageClassName: "fast-ssd" }),
    ];
    expect(await runRule(storageRefs, resources, { storageClassName: "longhorn" })).toEqual([
      expect.stringContaining("StatefulSet/platform/postgres: uses StorageClass local-path"),
      expect.stringContaining("PersistentVolumeClaim/platform/models: uses StorageClass fast-ssd"),
    ]);
  });
});

describe("rbac-refs", () => {
  const rules = [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "patch"] }];

  it("passes a binding to an existing Role and ServiceAccount across namespaces", async () => {
    const resources = [
      role("deployer", rules, { namespace: "target-a" }),
      roleBinding("deployer", { kind: "Role", name: "deployer" }, [{ name: "worker" }], {
        namespace: "target-a",
      }),
      serviceAccount("worker"),
      roleBinding("viewer", { kind: "ClusterRole", name: "view" }, [{ name: "worker" }]),
    ];
    expect(await runRule(rbacRefs, resources)).toEqual([]);
  });

  it("rejects a missing Role and a missing ServiceAccount", async () => {
    const binding = roleBinding("deployer", { kind: "Role", name: "deployer" }, [
      { name: "wroker" },
    ]);
    expect(await runRule(rbacRefs, [binding, serviceAccount("worker")])).toEqual([
      expect.stringContaining(
        "RoleBinding/platform/deployer: binds Role deployer, which is not in the stack",
      ),
      expect.stringContaining(
        "grants to ServiceAccount platform/wroker, which is not in the stack (subjects[0])",
      ),
    ]);
  });
});
