import { describe, expect, it } from "vitest";
import { REDACTED } from "../../../policy/model/render-model";
import { looksLikeCredential } from "../../../policy/lib/credentials";
import { WORKLOAD_KINDS } from "../../../policy/lib/workloads";
import { secretLiteral } from "../../../policy/rules/secret-literal";
import { configMap, deployment, runRule, workload } from "../../../policy/testing";

const fromSecret = (name: string, key: string) => ({ secretKeyRef: { name, key } });

describe("looksLikeCredential", () => {
  it.each([
    "DB_PASSWORD",
    "adminPassword",
    "api-key",
    "ARCJET_KEY",
    "DFLY_requirepass",
    "SENTRY_DSN",
  ])("flags %s", (name) => expect(looksLikeCredential(name)).toBe(true));
  it.each([
    "REDIS_URL",
    "TEMPORAL_NAMESPACE",
    "KEYCLOAK_HOST",
    "POSTGRES_PASSWORD_FILE",
    "pgbouncer.ini",
  ])("does not flag %s", (name) => expect(looksLikeCredential(name)).toBe(false));
});

describe.each(WORKLOAD_KINDS)("secret-literal on a %s", (kind) => {
  it("passes credentials taken from a Secret", async () => {
    const env = [
      { name: "REDIS_URL", valueFrom: fromSecret("dragonfly", "url") },
      { name: "ARCJET_KEY", valueFrom: fromSecret("arcjet", "key") },
      { name: "S3_BUCKET", value: "app" },
    ];
    expect(await runRule(secretLiteral, [workload(kind, "web", { container: { env } })])).toEqual(
      [],
    );
  });

  it("rejects a literal password", async () => {
    const env = [{ name: "POSTGRES_PASSWORD", value: "hunter2" }];
    const [message] = await runRule(secretLiteral, [workload(kind, "web", { container: { env } })]);
    expect(message).toContain(
      `container "web" sets POSTGRES_PASSWORD to a credential-looking name with a literal value`,
    );
    expect(message).toContain("env[0].value); take it from a Secret with valueFrom.secretKeyRef");
  });
});

describe("secret-literal", () => {
  it("rejects a URL with a password, whatever its name", async () => {
    const env = [{ name: "DATABASE_URL", value: "postgres://app:s3cret@pgbouncer:5432/app" }];
    expect(await runRule(secretLiteral, [deployment("web", { container: { env } })])).toEqual([
      expect.stringContaining("sets DATABASE_URL to a URL with a password in it"),
    ]);
  });

  it("rejects a redacted secret interpolated into a plain value", async () => {
    const env = [{ name: "REDIS_URL", value: `redis://:${REDACTED}@dragonfly:6379` }];
    expect(await runRule(secretLiteral, [deployment("web", { container: { env } })])).toEqual([
      expect.stringContaining("sets REDIS_URL to a secret value written as a literal"),
    ]);
  });

  it("passes a URL without userinfo, a password file path and $(VAR) references", async () => {
    const env = [
      { name: "OTEL_EXPORTER_OTLP_ENDPOINT", value: "http://otel-collector:4318" },
      { name: "POSTGRES_PASSWORD_FILE", value: "/run/secrets/password" },
      { name: "DB_PASSWORD", valueFrom: fromSecret("app-db", "password") },
      { name: "DATABASE_URL", value: "postgres://app:$(DB_PASSWORD)@pgbouncer:5432/app" },
      { name: "PGPASSWORD", value: "$(DB_PASSWORD)" },
    ];
    expect(await runRule(secretLiteral, [deployment("web", { container: { env } })])).toEqual([]);
  });

  it("rejects a credential key in a ConfigMap", async () => {
    const resource = configMap("grafana", { "admin-password": "x", "grafana.ini": "[server]" });
    expect(await runRule(secretLiteral, [resource])).toEqual([
      `ConfigMap/platform/grafana: key admin-password looks like a credential ` +
        `(data["admin-password"]); move it to a Secret and mount or reference that instead`,
    ]);
  });

  it("rejects a ConfigMap value carrying a password URL", async () => {
    const resource = configMap("loki", { "loki.yaml": "s3: s3://loki:s3cret@minio:9000/loki" });
    expect(await runRule(secretLiteral, [resource])).toEqual([
      expect.stringContaining(`key loki.yaml holds a URL with a password in it`),
    ]);
  });

  it("passes a ConfigMap of plain configuration", async () => {
    const resource = configMap("pgbouncer", {
      "pgbouncer.ini": "[pgbouncer]\npool_mode = transaction",
    });
    expect(await runRule(secretLiteral, [resource])).toEqual([]);
  });
});
