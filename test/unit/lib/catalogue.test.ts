import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  configHashAnnotation,
  CONFIG_HASH_ANNOTATION,
  contentHash,
  hashedName,
} from "../../../components/lib/hash";
import {
  cataloguePostgresMajor,
  IMAGES,
  imageRef,
  postgresRelease,
  tagOf,
} from "../../../core/images";
import { PG_MAJOR } from "../../integration/lib/postgres";
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

describe("the catalogue's PostgreSQL", () => {
  it("reads releases from image tags and server versions, and nothing from other tags", () => {
    expect(postgresRelease("15.20-bookworm")).toEqual({ major: 15, minor: 20 });
    expect(postgresRelease("15.20 (Debian 15.20-0+deb12u1)")).toEqual({ major: 15, minor: 20 });
    expect(postgresRelease("16")).toEqual({ major: 16, minor: undefined });
    expect(postgresRelease("17-alpine")).toEqual({ major: 17, minor: undefined });
    for (const tag of ["latest", "bookworm", "2.1.0", "v15.2"]) {
      expect(postgresRelease(tag), tag).toBeUndefined();
    }
  });

  it("is of the major the integration tier installs and runs, and names its minor", () => {
    // A new major needs an upgrade path for existing data first (README: "Why PostgreSQL 15").
    expect(cataloguePostgresMajor()).toBe(PG_MAJOR);
    expect(postgresRelease(IMAGES.postgres.tag)?.minor).toEqual(expect.any(Number));
    const install = readFileSync(
      path.resolve(__dirname, "..", "..", "..", "tools", "install-debian-packages.sh"),
      "utf8",
    );
    expect(install).toContain(`missing+=(postgresql-${PG_MAJOR})`);
    expect(install).toContain(`/usr/lib/postgresql/${PG_MAJOR}/bin`);
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
