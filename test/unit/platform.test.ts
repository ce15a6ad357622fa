import { describe, expect, it } from "vitest";
import { parseConfig } from "../../config";
import { registeredOfType, setupMocks, unwrap } from "../mocks";

const mocks = setupMocks();

describe("Platform", () => {
  it("puts everything in a namespace that enforces Pod Security restricted", async () => {
    const { Platform } = await import("../../components/platform");
    const { kubernetes: _kubernetes, ...args } = parseConfig({ "k3s-platform:profile": "dev" });
    const platform = new Platform("platform", args);
    expect(await unwrap(platform.namespace)).toBe("platform");
    const [namespace] = await registeredOfType(mocks, "kubernetes:core/v1:Namespace");
    expect(namespace.inputs).toMatchObject({
      metadata: { name: "platform", labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
    });
  });
});
