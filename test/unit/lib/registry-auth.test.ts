import { describe, expect, it } from "vitest";
import { setupMocks, unwrap } from "../../mocks";

setupMocks();

describe("a pull Secret's .dockerconfigjson", () => {
  it("holds the login under the registry, with auth as base64 user:password, as the kubelet reads it", async () => {
    const { dockerConfigJson } = await import("../../../components/lib/registry-auth");
    const config = JSON.parse(await unwrap(dockerConfigJson("ghcr.io", "ci", "t0ken")));
    expect(config).toEqual({
      auths: {
        "ghcr.io": {
          username: "ci",
          password: "t0ken",
          auth: Buffer.from("ci:t0ken").toString("base64"),
        },
      },
    });
  });

  it("is a secret output", async () => {
    const pulumi = await import("@pulumi/pulumi");
    const { dockerConfigJson } = await import("../../../components/lib/registry-auth");
    expect(await pulumi.isSecret(dockerConfigJson("docker.io", "ci", "t0ken"))).toBe(true);
  });
});
