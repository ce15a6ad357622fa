import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_NAMES, IMAGES, imageRef } from "../../core/images";
import {
  catalogueTargets,
  describeChanges,
  overridesIn,
  targetsByKey,
  updatedLock,
} from "../../tools/lib/image-lock-update";
import { parseBearerChallenge, RegistryResolver } from "../../tools/lib/registry-resolver";

/**
 * `npm run images:lock`'s parts without a real registry: what it locks, how the lock moves, the
 * Bearer challenge it follows, and a registry on loopback whose header lies about its manifest.
 * The whole command against a real registry is test/integration/images-lock.test.ts.
 */

const digest = (fill: string) => `sha256:${fill.repeat(64)}`;
const MEDIA = "application/vnd.oci.image.index.v1+json";
const entry = (fill: string) => ({
  digest: digest(fill),
  mediaType: MEDIA,
  resolvedAt: "2026-01-01T00:00:00.000Z",
});

describe("what images:lock locks", () => {
  it("every catalogue image, once per tag however the reference spells it", () => {
    const keys = [...targetsByKey(catalogueTargets()).keys()];
    expect(keys).toHaveLength(IMAGE_NAMES.length);
    const postgresTag = IMAGES.postgres.tag;
    expect(keys).toContain(`docker.io/library/postgres:${postgresTag}`);
    const twice = targetsByKey([
      { reference: `postgres:${postgresTag}`, source: "a" },
      { reference: imageRef("postgres"), source: "b" },
    ]);
    expect([...twice.values()].map((target) => target.source)).toEqual(["a"]);
  });

  describe("a stack file's overrides", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "images-lock-unit-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const stackFile = (images: string) => {
      const file = path.join(dir, "Pulumi.test.yaml");
      fs.writeFileSync(
        file,
        `config:\n  k3s-platform:profile: dev\n  k3s-platform:images: ${images}\n`,
      );
      return file;
    };

    it("are read by catalogue name, with where they come from", () => {
      expect(overridesIn(stackFile("{minio: mirror.example.com/minio:RELEASE.1}"))).toEqual([
        {
          reference: "mirror.example.com/minio:RELEASE.1",
          source: "Pulumi.test.yaml images.minio",
        },
      ]);
    });

    it("refuse a name the catalogue lacks, naming the file and key", () => {
      expect(() => overridesIn(stackFile("{minoi: mirror.example.com/minio:1}"))).toThrow(
        "Pulumi.test.yaml: k3s-platform:images.minoi names no catalogue image",
      );
      expect(() => overridesIn(stackFile("[a]"))).toThrow(
        "Pulumi.test.yaml: k3s-platform:images must be a map",
      );
    });
  });
});

describe("how the lock moves", () => {
  const now = new Date("2026-02-02T02:02:02.000Z");
  const previous = {
    "docker.io/library/a:1": entry("a"),
    "docker.io/library/b:1": entry("b"),
    "docker.io/library/gone:1": entry("c"),
  };
  const resolved = new Map([
    ["docker.io/library/a:1", { digest: digest("a"), mediaType: MEDIA }],
    ["docker.io/library/b:1", { digest: digest("d"), mediaType: MEDIA }],
    ["docker.io/library/new:1", { digest: digest("e"), mediaType: MEDIA }],
  ]);
  const { lock, changes } = updatedLock(previous, resolved, now);

  it("keeps an unmoved entry as it was, so only moved tags change in the file", () => {
    expect(lock["docker.io/library/a:1"]).toBe(previous["docker.io/library/a:1"]);
  });

  it("re-points a moved tag, adds new ones and drops the ones no stack deploys", () => {
    expect(lock["docker.io/library/b:1"]).toEqual({
      digest: digest("d"),
      mediaType: MEDIA,
      resolvedAt: now.toISOString(),
    });
    expect(Object.keys(lock).sort()).toEqual([
      "docker.io/library/a:1",
      "docker.io/library/b:1",
      "docker.io/library/new:1",
    ]);
    expect(describeChanges(changes)).toEqual([
      "added      docker.io/library/new:1",
      `re-pointed docker.io/library/b:1: ${digest("b")} -> ${digest("d")}`,
      "removed    docker.io/library/gone:1",
    ]);
  });

  it("says so when nothing moved", () => {
    const same = updatedLock(lock, new Map(Object.entries(lock)), now);
    expect(describeChanges(same.changes)).toEqual([expect.stringMatching(/^unchanged/)]);
  });
});

describe("the Bearer challenge", () => {
  it("reads Docker Hub's", () => {
    expect(
      parseBearerChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/postgres:pull"',
      ),
    ).toEqual({
      realm: "https://auth.docker.io/token",
      service: "registry.docker.io",
      scope: "repository:library/postgres:pull",
    });
  });

  it("is none for Basic", () => {
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
  });
});

describe("a manifest whose body does not hash to the digest the registry claims", () => {
  const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA, manifests: [] });
  const truth = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  let claimed = truth;
  let server: http.Server;
  let host = "";

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      response.writeHead(200, { "Content-Type": MEDIA, "Docker-Content-Digest": claimed });
      response.end(request.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("is resolved to its real digest when the claim holds", async () => {
    const resolver = new RegistryResolver({ insecureRegistries: [host], verify: true });
    expect(await resolver.resolve(`${host}/acme/app:1.0`)).toEqual({
      digest: truth,
      mediaType: MEDIA,
    });
  });

  it("is refused, naming the image and both digests", async () => {
    claimed = digest("f");
    const resolver = new RegistryResolver({ insecureRegistries: [host], verify: true });
    await expect(resolver.resolve(`${host}/acme/app:1.0`)).rejects.toThrow(
      `${host}/acme/app:1.0: the registry says the manifest is ${digest("f")}, but its body hashes to ${truth}`,
    );
  });
});
