import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../config";
import { readStackConfig } from "../../tools/lib/stack-file";
import { APP_IMAGE } from "./stack-config";
import { registeredOfType, setupMocks, unwrap } from "../mocks";

const mocks = setupMocks();

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

async function containerEnv(type: string, name: string): Promise<EnvVar[]> {
  const resource = (await registeredOfType(mocks, type)).find((r) => r.name === name);
  const spec = resource?.inputs as {
    spec: { template: { spec: { containers: { env?: EnvVar[] }[] } } };
  };
  return spec.spec.template.spec.containers[0].env ?? [];
}

describe("Platform (dev stack, with an app image)", () => {
  let namespace: string;

  beforeAll(async () => {
    const { Platform } = await import("../../platform/platform");
    const stack = readStackConfig(path.resolve(__dirname, "..", "..", "Pulumi.dev.yaml"));
    // The shipped file leaves the app off until a stack names its image: name one.
    const app = { ...JSON.parse(stack.values["k3s-platform:app"]), image: APP_IMAGE };
    const values = { ...stack.values, "k3s-platform:app": JSON.stringify(app) };
    const { kubernetes: _kubernetes, ...args } = parseConfig(values, stack.secretKeys);
    namespace = await unwrap(new Platform("platform", args).namespace);
  });

  it("puts everything in a namespace that enforces Pod Security restricted", async () => {
    expect(namespace).toBe("platform");
    const [created] = await registeredOfType(mocks, "kubernetes:core/v1:Namespace");
    expect(created.inputs).toMatchObject({
      metadata: {
        name: "platform",
        labels: { "pod-security.kubernetes.io/enforce": "restricted" },
      },
    });
  });

  it("the app queries through PgBouncer and never gets the direct Postgres URL by default", async () => {
    for (const deployment of ["app-web", "app-worker"]) {
      const env = await containerEnv("kubernetes:apps/v1:Deployment", deployment);
      const databaseUrl = env.find((variable) => variable.name === "DATABASE_URL");
      expect(databaseUrl?.valueFrom?.secretKeyRef).toEqual({ name: "pgbouncer-app", key: "url" });
      expect(env.map((variable) => variable.name)).not.toContain("DATABASE_DIRECT_URL");
    }
  });

  it("the app sends OTLP over HTTP, the protocol SDKs default to, to the collector's 4318", async () => {
    for (const deployment of ["app-web", "app-worker"]) {
      const env = await containerEnv("kubernetes:apps/v1:Deployment", deployment);
      const endpoint = env.find((variable) => variable.name === "OTEL_EXPORTER_OTLP_ENDPOINT");
      expect(endpoint?.value).toBe("http://otel-collector.platform.svc:4318");
    }
  });

  it("migrations run on the direct Postgres URL, where Atlas's session lock works", async () => {
    const jobs = await registeredOfType(mocks, "kubernetes:batch/v1:Job");
    const migrations = jobs.find((job) => job.name.startsWith("migrations"));
    expect(migrations).toBeDefined();
    const env = await containerEnv("kubernetes:batch/v1:Job", migrations?.name ?? "");
    expect(
      env.find((variable) => variable.name === "DATABASE_URL")?.valueFrom?.secretKeyRef,
    ).toEqual({
      name: "postgres-app",
      key: "url",
    });
  });

  it("declares network policies for the platform, the node log collector and the deploy targets", async () => {
    const policies = await registeredOfType(mocks, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
    const namespaces = new Set(
      policies.map(
        (policy) => (policy.inputs as { metadata: { namespace: string } }).metadata.namespace,
      ),
    );
    expect([...namespaces].sort()).toEqual(["platform", "platform-apps", "platform-node-logs"]);
  });
});
