import { describe, expect, it } from "vitest";
import { parseImage } from "../../../policy/lib/images";
import { WORKLOAD_KINDS } from "../../../policy/lib/workloads";
import { imageDigestProd } from "../../../policy/rules/image-digest-prod";
import { imagePinned } from "../../../policy/rules/image-pinned";
import { DIGEST, jobContainer, runRule, workload } from "../../../policy/testing";

describe("parseImage", () => {
  it("tells a registry port from a tag", () => {
    expect(parseImage("registry:5000/web")).toEqual({
      repository: "registry:5000/web",
      tag: undefined,
      digest: undefined,
    });
    expect(parseImage(`registry:5000/web:1.2@${DIGEST}`)).toEqual({
      repository: "registry:5000/web",
      tag: "1.2",
      digest: DIGEST,
    });
  });
});

describe.each(WORKLOAD_KINDS)("image-pinned on a %s", (kind) => {
  it("passes an exact tag", async () => {
    const resource = workload(kind, "web", {
      container: { image: "docker.io/library/nginx:1.27.3" },
    });
    expect(await runRule(imagePinned, [resource])).toEqual([]);
  });

  it("rejects latest", async () => {
    const resource = workload(kind, "web", { container: { image: "nginx:latest" } });
    expect(await runRule(imagePinned, [resource])).toEqual([
      expect.stringContaining(`container "web" image nginx:latest uses the moving tag "latest"`),
    ]);
  });
});

describe("image-pinned", () => {
  it("rejects an untagged init container image, with the fix", async () => {
    const pod = { initContainers: [jobContainer("migrate", { image: "registry:5000/atlas" })] };
    const [message] = await runRule(imagePinned, [workload("Deployment", "web", { pod })]);
    expect(message).toBe(
      `Deployment/platform/web: init container "migrate" image registry:5000/atlas has no tag ` +
        `(spec.template.spec.initContainers[0].image); pin an exact version tag`,
    );
  });

  it("skips an image that is not known yet (built during the same run)", async () => {
    const resource = workload("Deployment", "web", { container: { image: undefined } });
    expect(await runRule(imagePinned, [resource])).toEqual([]);
  });

  it("rejects a malformed digest", async () => {
    const resource = workload("Job", "web", { container: { image: "web@sha256:abc" } });
    expect(await runRule(imagePinned, [resource])).toEqual([
      expect.stringContaining("has a malformed digest"),
    ]);
  });
});

describe.each(WORKLOAD_KINDS)("image-digest-prod on a %s", (kind) => {
  const tagged = workload(kind, "web", { container: { image: "nginx:1.27.3" } });

  it("passes a digest in prod", async () => {
    expect(await runRule(imageDigestProd, [workload(kind, "web")], { profile: "prod" })).toEqual(
      [],
    );
  });

  it("rejects a tag alone in prod", async () => {
    expect(await runRule(imageDigestProd, [tagged], { profile: "prod" })).toEqual([
      expect.stringContaining("image nginx:1.27.3 is not pinned by digest"),
    ]);
  });

  it("does not apply in dev", async () => {
    expect(await runRule(imageDigestProd, [tagged], { profile: "dev" })).toEqual([]);
  });
});
