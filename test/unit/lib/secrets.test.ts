import { describe, expect, it } from "vitest";
import { isSecret, MOCK_SECRET_PREFIX, registeredOfType, setupMocks, unwrap } from "../../mocks";

const mocks = setupMocks();

describe("secret helpers", () => {
  it("a generated password is a secret output", async () => {
    const { generatedPassword } = await import("../../../components/lib/secrets");
    const password = generatedPassword("db-password", {});
    expect(await isSecret(password)).toBe(true);
    expect(await unwrap(password)).toBe(`${MOCK_SECRET_PREFIX}db-password`);
  });

  it("a password given in config is used as is, as a secret, and generates nothing", async () => {
    const { passwordFor } = await import("../../../components/lib/secrets");
    const before = (await registeredOfType(mocks, "random:index/randomPassword:RandomPassword"))
      .length;
    const password = passwordFor("given-password", "from-the-vault-0123456789", {});
    expect(await isSecret(password)).toBe(true);
    expect(await unwrap(password)).toBe("from-the-vault-0123456789");
    const after = await registeredOfType(mocks, "random:index/randomPassword:RandomPassword");
    expect(after.length).toBe(before);
    const generated = passwordFor("generated-password", undefined, {});
    expect(await unwrap(generated)).toBe(`${MOCK_SECRET_PREFIX}generated-password`);
  });

  it("a given password's SCRAM salt is stable, secret, and differs per role and per password", async () => {
    const { scramSaltSourceFor } = await import("../../../components/lib/secrets");
    const salt = (name: string, password: string) => unwrap(scramSaltSourceFor(name, password, {}));
    const first = await salt("pg-app-scram-salt", "from-the-vault-0123456789");
    expect(await salt("pg-app-scram-salt", "from-the-vault-0123456789")).toBe(first);
    expect(await salt("pg-temporal-scram-salt", "from-the-vault-0123456789")).not.toBe(first);
    expect(await salt("pg-app-scram-salt", "rotated-in-the-vault-987")).not.toBe(first);
    expect(first).not.toContain("from-the-vault");
    expect(await isSecret(scramSaltSourceFor("pg-app-scram-salt", "x".repeat(16), {}))).toBe(true);
  });

  it("consumers get secretKeyRef env vars, never the value", async () => {
    const { PlatformSecret } = await import("../../../components/lib/secrets");
    const secret = new PlatformSecret(
      "creds",
      { namespace: "ns", labels: {}, data: { password: "p" } },
      {},
    );
    const env = secret.key("password").env("DB_PASSWORD");
    expect(env).toMatchObject({
      name: "DB_PASSWORD",
      valueFrom: { secretKeyRef: { key: "password" } },
    });
    expect(env).not.toHaveProperty("value");
    expect(await unwrap(secret.name)).toBe("creds");
  });

  it("asking for a key the Secret does not hold fails at once, naming the keys it has", async () => {
    const { PlatformSecret } = await import("../../../components/lib/secrets");
    const secret = new PlatformSecret(
      "creds2",
      { namespace: "ns", labels: {}, data: { password: "p" } },
      {},
    );
    expect(() => secret.key("passwrd")).toThrow(/no key "passwrd"; it holds: password/);
  });

  it("mounted Secrets are readable by their owner only", async () => {
    const { PlatformSecret } = await import("../../../components/lib/secrets");
    const secret = new PlatformSecret(
      "creds3",
      { namespace: "ns", labels: {}, data: { a: "1", b: "2" } },
      {},
    );
    const volume = secret.volume("creds", ["a"]);
    expect(volume.secret).toMatchObject({ defaultMode: 0o400, items: [{ key: "a", path: "a" }] });
  });
});
