import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../config";
import { readStackConfig } from "../../tools/lib/stack-file";
import { parsedStackConfig, stackConfigIssues } from "./stack-config";

/**
 * Credentials given in the stack config instead of generated: how `pulumi config set --secret
 * --path k3s-platform:credentials.postgres.app …` writes them, how the program receives them, and
 * what it refuses.
 */

function stackFile(yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-credentials-"));
  const file = path.join(dir, "Pulumi.test.yaml");
  fs.writeFileSync(file, yaml);
  return file;
}

const GIVEN = [
  "config:",
  "  k3s-platform:profile: dev",
  "  k3s-platform:app: {image: registry.example.com/app:1.0.0}",
  "  k3s-platform:credentials:",
  "    postgres:",
  "      app:",
  "        secure: v1:ciphertext-only-the-engine-can-read",
  "    dragonfly:",
  "      password:",
  "        secure: v1:more-ciphertext",
].join("\n");

async function isSecret(output: unknown): Promise<boolean> {
  return (output as { isSecret: Promise<boolean> }).isSecret;
}

describe("credentials given in the stack config", () => {
  it("nested secure values make the whole key secret, each value a recognisable mock", () => {
    const { values, secretKeys } = readStackConfig(stackFile(GIVEN));
    expect(secretKeys).toEqual(["k3s-platform:credentials"]);
    expect(JSON.parse(values["k3s-platform:credentials"])).toEqual({
      postgres: { app: expect.stringMatching(/^MOCK-SECRET-.*postgres-app$/) },
      dragonfly: { password: expect.stringMatching(/^MOCK-SECRET-.*dragonfly-password$/) },
    });
  });

  it("reach the Platform as secret outputs by component and name; absent ones stay absent", async () => {
    const { values, secretKeys } = readStackConfig(stackFile(GIVEN));
    const config = parseConfig(values, secretKeys);
    expect(await isSecret(config.credentials.postgres?.app)).toBe(true);
    expect(await isSecret(config.credentials.dragonfly?.password)).toBe(true);
    expect(config.credentials.postgres?.superuser).toBeUndefined();
    expect(config.credentials.grafana).toBeUndefined();
    expect(config).not.toHaveProperty("credentials.postgres.app", expect.any(String));
  });

  it("none given: an empty set, everything generated", () => {
    expect(parsedStackConfig().credentials).toEqual({});
  });

  function problems(credentials: unknown, secret = true): string[] {
    const secretKeys = secret ? ["k3s-platform:credentials"] : [];
    return stackConfigIssues({ credentials }, secretKeys).map(
      ({ key, message }) => `${key}: ${message}`,
    );
  }

  it("in plain text in the stack file: refused, because it is already leaked", () => {
    expect(problems({ dragonfly: { password: "a".repeat(32) } }, false)).toEqual([
      expect.stringMatching(/^k3s-platform:credentials: must be stored as a secret/),
    ]);
  });

  it("too short, or with characters that would need escaping in a URL: refused by key", () => {
    expect(problems({ postgres: { app: "short" } })).toEqual([
      expect.stringMatching(
        /^k3s-platform:credentials\.postgres\.app: must be at least 16 characters/,
      ),
    ]);
    expect(problems({ grafana: { admin: "p@ss:word/with#marks" } })).toEqual([
      expect.stringMatching(
        /^k3s-platform:credentials\.grafana\.admin: may only use letters, digits/,
      ),
    ]);
  });

  it("an unknown component or name: refused with the names that exist", () => {
    expect(problems({ postgres: { aap: "a".repeat(20) } })).toEqual([
      expect.stringMatching(/credentials\.postgres\.aap: is not a known key; did you mean "app"\?/),
    ]);
    expect(problems({ redis: { password: "a".repeat(20) } })).toEqual([
      expect.stringMatching(/credentials\.redis: is not a known key/),
    ]);
  });
});
