import { describe, expect, it } from "vitest";
import {
  dockerConfigAuthKey,
  formatImageReference,
  parseImageReference,
  registryOf,
} from "../../../policy/model/image-reference";

/**
 * One reader and one writer of image references, as Docker reads them: what a stack gives, what
 * a push is tagged with and what the pods run all go through these two.
 */

const DIGEST = `sha256:${"f".repeat(64)}`;

describe("image references", () => {
  it.each([
    ["app:1.0", { repository: "app", tag: "1.0" }],
    ["acme/app:1.0", { repository: "acme/app", tag: "1.0" }],
    ["ghcr.io/acme/app:1.0", { registry: "ghcr.io", repository: "acme/app", tag: "1.0" }],
    ["localhost:5000/app", { registry: "localhost:5000", repository: "app" }],
    ["localhost/app:2", { registry: "localhost", repository: "app", tag: "2" }],
    [
      `registry:5000/team/app:1.2.3@${DIGEST}`,
      { registry: "registry:5000", repository: "team/app", tag: "1.2.3", digest: DIGEST },
    ],
    [`ghcr.io/acme/app@${DIGEST}`, { registry: "ghcr.io", repository: "acme/app", digest: DIGEST }],
  ])("%s splits into its parts and formats back to itself", (reference, parts) => {
    expect(parseImageReference(reference)).toEqual(parts);
    expect(formatImageReference(parseImageReference(reference))).toBe(reference);
  });

  it("a first segment without a dot, a port or localhost is a path, not a registry", () => {
    expect(parseImageReference("acme/app:1").registry).toBeUndefined();
    expect(registryOf("acme/app:1")).toBe("docker.io");
    expect(registryOf("registry.example.com/acme/app:1")).toBe("registry.example.com");
  });

  it("Docker Hub's credentials go under its legacy index URL, every other registry under its host", () => {
    expect(dockerConfigAuthKey("docker.io")).toBe("https://index.docker.io/v1/");
    expect(dockerConfigAuthKey("ghcr.io")).toBe("ghcr.io");
    expect(dockerConfigAuthKey("registry.local:5000")).toBe("registry.local:5000");
  });
});
