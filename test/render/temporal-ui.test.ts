import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { ROOT, runTool } from "./lib";

/**
 * Who reaches prod's Temporal UI, read back from what `render` writes: the shipped stack serves
 * it nowhere (port-forward only); a stack with its OIDC login serves it behind that login with
 * the client secret in a Secret; a public UI without the login is refused before anything is
 * written.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-temporal-ui-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- YAML read back, checked by the assertions

const ISSUER = "https://login.example.com/realms/platform";

/** Renders the shipped prod stack with `ui` as its `temporal.ui` and `extra` config entries. */
function renderProd(
  name: string,
  ui: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  const file = parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  file.config["k3s-platform:temporal"].ui = ui;
  Object.assign(file.config, extra);
  const stackFile = path.join(scratch, `Pulumi.${name}.yaml`);
  fs.writeFileSync(stackFile, stringify(file));
  const out = path.join(scratch, "out", name);
  const result = runTool("render", ["prod", "--stack-file", stackFile, "--out", out]);
  const manifests = path.join(out, "manifests");
  return {
    ...result,
    out,
    stackFile,
    has: (file: string) => fs.existsSync(path.join(manifests, file)),
    manifest: (file: string): Manifest =>
      parse(fs.readFileSync(path.join(manifests, file), "utf8")),
  };
}

function uiEnv(deployment: Manifest): Manifest[] {
  return deployment.spec.template.spec.containers[0].env;
}

describe("prod's Temporal UI", () => {
  it("as shipped: no Ingress, Traefik not admitted, write actions off", () => {
    const shipped = renderProd("shipped", { ingress: false });
    expect(shipped.stderr).toBe("");
    expect(shipped.status).toBe(0);
    expect(shipped.has("ingress-temporal-ui.yaml")).toBe(false);
    expect(shipped.has("service-temporal-ui.yaml")).toBe(true);
    const policy = shipped.manifest("networkpolicy-allow-temporal-ui.yaml");
    expect(policy.spec.ingress ?? []).toEqual([]);
    expect(uiEnv(shipped.manifest("deployment-temporal-ui.yaml"))).toEqual(
      expect.arrayContaining([
        { name: "TEMPORAL_AUTH_ENABLED", value: "false" },
        { name: "TEMPORAL_DISABLE_WRITE_ACTIONS", value: "true" },
        { name: "TEMPORAL_CORS_ORIGINS", value: "http://localhost:8080" },
      ]),
    );
  });

  it("with its OIDC login: served over TLS, the client secret only in a Secret", () => {
    const oidc = renderProd(
      "oidc",
      { ingress: true, oidc: { issuerUrl: ISSUER, clientId: "temporal-ui" } },
      { "k3s-platform:temporalUiClientSecret": { secure: "v1:ciphertext-of-oidc-client" } },
    );
    expect(oidc.stderr).toBe("");
    expect(oidc.status).toBe(0);
    const ingress = oidc.manifest("ingress-temporal-ui.yaml");
    expect(ingress.spec.tls).toEqual([
      { hosts: ["temporal.platform.example.com"], secretName: "platform-tls" },
    ]);
    expect(uiEnv(oidc.manifest("deployment-temporal-ui.yaml"))).toEqual(
      expect.arrayContaining([
        { name: "TEMPORAL_AUTH_ENABLED", value: "true" },
        { name: "TEMPORAL_AUTH_PROVIDER_URL", value: ISSUER },
        { name: "TEMPORAL_AUTH_CLIENT_ID", value: "temporal-ui" },
        {
          name: "TEMPORAL_AUTH_CLIENT_SECRET",
          valueFrom: { secretKeyRef: { name: "temporal-ui-oidc", key: "clientSecret" } },
        },
        {
          name: "TEMPORAL_AUTH_CALLBACK_URL",
          value: "https://temporal.platform.example.com/auth/sso/callback",
        },
        { name: "TEMPORAL_DISABLE_WRITE_ACTIONS", value: "true" },
      ]),
    );
    expect(oidc.has("secret-temporal-ui-oidc.yaml")).toBe(true);
    for (const file of fs.readdirSync(oidc.out, { recursive: true, withFileTypes: true })) {
      if (!file.isFile()) continue;
      const text = fs.readFileSync(path.join(file.parentPath, file.name), "utf8");
      expect(text, file.name).not.toContain(MOCK_SECRET_PREFIX);
    }
    const check = runTool("check", ["prod", "--stack-file", oidc.stackFile]);
    expect(check.stdout).toContain("check prod: passed");
  });

  it("public without the login: refused at temporal.ui.ingress, nothing written", () => {
    const open = renderProd("open", { ingress: true });
    expect(open.status).not.toBe(0);
    expect(open.stderr).toMatch(/k3s-platform:temporal\.ui\.ingress: must be false in prod/);
    expect(fs.existsSync(open.out)).toBe(false);
  });
});
