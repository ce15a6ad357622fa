import { describe, expect, it } from "vitest";
import { parseImageReference } from "../../../policy/lib/images";
import { WORKLOAD_KINDS } from "../../../policy/lib/workloads";
import type { ImageLock } from "../../../policy/model/image-lock";
import { imageDigestProd } from "../../../policy/rules/image-digest-prod";
import { imageLockDrift } from "../../../policy/rules/image-lock-drift";
import { imagePinned } from "../../../policy/rules/image-pinned";
import { DIGEST, jobContainer, runRule, workload } from "../../../policy/testing";

describe("the pack's image references", () => {
  it("reads them with the program's parser: a registry port is not a tag", () => {
    expect(parseImageReference("registry:5000/web")).toEqual({
      registry: "registry:5000",
      repository: "web",
    });
    expect(parseImageReference(`registry:5000/web:1.2@${DIGEST}`)).toEqual({
      registry: "registry:5000",
      repository: "web",
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

/** A lock that knows nginx:1.27.3, as `npm run images:lock` writes it. */
const LOCKED = `sha256:${"a".repeat(64)}`;
const LOCK: ImageLock = {
  "docker.io/library/nginx:1.27.3": {
    digest: LOCKED,
    mediaType: "application/vnd.oci.image.index.v1+json",
    resolvedAt: "2026-01-05T06:00:00.000Z",
  },
};

describe.each(WORKLOAD_KINDS)("image-digest-prod on a %s", (kind) => {
  const tagged = workload(kind, "web", { container: { image: "nginx:1.27.3" } });

  it("passes a digest in prod", async () => {
    expect(await runRule(imageDigestProd, [workload(kind, "web")], { profile: "prod" })).toEqual(
      [],
    );
  });

  it("flags a tag alone in prod, naming the command that pins it", async () => {
    expect(await runRule(imageDigestProd, [tagged], { profile: "prod" })).toEqual([
      expect.stringMatching(
        /image nginx:1\.27\.3 is not pinned by digest and the image lock has no entry .*`npm run images:lock`/,
      ),
    ]);
  });

  it("leaves a tag the lock knows to image-lock-drift", async () => {
    expect(await runRule(imageDigestProd, [tagged], { profile: "prod", imageLock: LOCK })).toEqual(
      [],
    );
  });

  it("does not apply in dev", async () => {
    expect(await runRule(imageDigestProd, [tagged], { profile: "dev" })).toEqual([]);
  });
});

describe.each(WORKLOAD_KINDS)("image-lock-drift on a %s", (kind) => {
  const running = (image: string) => workload(kind, "web", { container: { image } });
  const prod = { profile: "prod", imageLock: LOCK } as const;

  it("passes the locked digest, however the reference spells Docker Hub", async () => {
    for (const image of [
      `nginx:1.27.3@${LOCKED}`,
      `docker.io/library/nginx:1.27.3@${LOCKED}`,
      `index.docker.io/nginx:1.27.3@${LOCKED}`,
    ]) {
      expect(await runRule(imageLockDrift, [running(image)], prod)).toEqual([]);
    }
  });

  it("reports another digest for a locked tag, with the fix", async () => {
    const [message] = await runRule(imageLockDrift, [running(`nginx:1.27.3@${DIGEST}`)], prod);
    expect(message).toContain(
      `image nginx:1.27.3@${DIGEST} has drifted from its lock entry ` +
        `docker.io/library/nginx:1.27.3@${LOCKED} (digest ${DIGEST},`,
    );
    expect(message).toContain("run `npm run images:lock` and render again");
  });

  it("reports a locked tag deployed without its digest", async () => {
    expect(await runRule(imageLockDrift, [running("nginx:1.27.3")], prod)).toEqual([
      expect.stringContaining("has drifted from its lock entry"),
    ]);
  });

  it("ignores tags the lock does not know, and dev stacks", async () => {
    expect(await runRule(imageLockDrift, [running("nginx:1.27.4")], prod)).toEqual([]);
    const dev = { profile: "dev", imageLock: LOCK } as const;
    expect(await runRule(imageLockDrift, [running(`nginx:1.27.3@${DIGEST}`)], dev)).toEqual([]);
  });
});
