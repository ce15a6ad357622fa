import { describe, expect, it } from "vitest";
import { isSecret, MOCK_SECRET_PREFIX, setupMocks, unwrap } from "../../mocks";

setupMocks();

describe("secret helpers", () => {
  it("a generated password is a secret output", async () => {
    const { generatedPassword } = await import("../../../components/lib/secrets");
    const password = generatedPassword("db-password", {});
    expect(await isSecret(password)).toBe(true);
    expect(await unwrap(password)).toBe(`${MOCK_SECRET_PREFIX}db-password`);
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
