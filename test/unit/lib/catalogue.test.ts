import { describe, expect, it } from "vitest";
import {
  configHashAnnotation,
  CONFIG_HASH_ANNOTATION,
  contentHash,
  hashedName,
} from "../../../components/lib/hash";
import { IMAGES, imageRef, tagOf } from "../../../core/images";
import { scrapeAnnotations } from "../../../components/lib/scrape";
import { isSecret, setupMocks, unwrap } from "../../mocks";

setupMocks();

describe("the image catalogue", () => {
  it.each(Object.keys(IMAGES))("%s is pinned to an exact tag, never latest", (name) => {
    const reference = imageRef(name as keyof typeof IMAGES);
    const tag = tagOf(reference);
    expect(tag).toBeDefined();
    expect(tag).not.toMatch(/^(latest|stable|main|master)$/);
    expect(tag).toMatch(/\d/);
  });

  it("reads tags from references with registries, ports and digests", () => {
    expect(tagOf("registry:5000/team/app:1.2.3")).toBe("1.2.3");
    expect(tagOf("registry:5000/team/app")).toBeUndefined();
    expect(tagOf("docker.io/app:1.0@sha256:abc")).toBe("1.0");
  });
});

describe("content hashes", () => {
  it("equal content hashes equally whatever the key order", () => {
    expect(contentHash({ a: 1, b: [1, 2] })).toBe(contentHash({ b: [1, 2], a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });

  it("hashed names change with content and stay valid label values", () => {
    const long = "x".repeat(80);
    expect(hashedName("schema", { v: 1 })).not.toBe(hashedName("schema", { v: 2 }));
    expect(hashedName(long, {}).length).toBeLessThanOrEqual(63);
    expect(hashedName("schema", { v: 1 })).toMatch(/^schema-[0-9a-f]{8}$/);
  });

  it("the config-hash annotation changes when mounted data changes and is not itself secret", async () => {
    const { secret } = await import("@pulumi/pulumi");
    const first = await unwrap(configHashAnnotation({ conf: "a" }, secret("password-1")));
    const second = await unwrap(configHashAnnotation({ conf: "a" }, secret("password-2")));
    expect(first[CONFIG_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
    expect(first[CONFIG_HASH_ANNOTATION]).not.toBe(second[CONFIG_HASH_ANNOTATION]);
    expect(await isSecret(configHashAnnotation(secret("x")))).toBe(false);
  });
});

describe("scrape annotations", () => {
  it("tell Prometheus the port and path", () => {
    expect(scrapeAnnotations(9187)).toEqual({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9187",
      "prometheus.io/path": "/metrics",
    });
  });
});
