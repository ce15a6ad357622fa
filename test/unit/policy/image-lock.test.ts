import { describe, expect, it } from "vitest";
import {
  IMAGE_LOCK_FILE,
  formatImageLock,
  imageLockKey,
  parseImageLock,
  pinImage,
  readImageLock,
} from "../../../policy/model/image-lock";

/** The image lock: one spelling per image, pinned only where the lock knows the tag. */

const DIGEST = `sha256:${"c".repeat(64)}`;
const ENTRY = {
  digest: DIGEST,
  mediaType: "application/vnd.oci.image.index.v1+json",
  resolvedAt: "2026-01-05T06:00:00.000Z",
};

describe("image lock keys", () => {
  it.each([
    ["postgres:15", "docker.io/library/postgres:15"],
    ["index.docker.io/postgres:15", "docker.io/library/postgres:15"],
    [`grafana/loki:3.7.8@${DIGEST}`, "docker.io/grafana/loki:3.7.8"],
    ["quay.io/minio/mc:RELEASE.1", "quay.io/minio/mc:RELEASE.1"],
    ["127.0.0.1:5000/app:1.0", "127.0.0.1:5000/app:1.0"],
  ])("%s is locked as %s", (reference, key) => {
    expect(imageLockKey(reference)).toBe(key);
  });

  it("has none for a reference without a tag", () => {
    expect(imageLockKey(`web@${DIGEST}`)).toBeUndefined();
  });
});

describe("pinImage", () => {
  const lock = { "docker.io/library/postgres:15": ENTRY };

  it("adds the locked digest to a tag the lock knows, as the reference was spelled", () => {
    expect(pinImage("postgres:15", lock)).toBe(`postgres:15@${DIGEST}`);
  });

  it("leaves unknown tags and references that already carry a digest as given", () => {
    expect(pinImage("postgres:16", lock)).toBe("postgres:16");
    const byHand = `postgres:15@sha256:${"d".repeat(64)}`;
    expect(pinImage(byHand, lock)).toBe(byHand);
  });
});

describe("lock files", () => {
  it("round-trips through its text with the keys sorted", () => {
    const lock = { "quay.io/a/b:1": ENTRY, "docker.io/library/a:1": ENTRY };
    const text = formatImageLock(lock);
    expect(Object.keys(JSON.parse(text).images)).toEqual([
      "docker.io/library/a:1",
      "quay.io/a/b:1",
    ]);
    expect(parseImageLock(text, "x.json")).toEqual(lock);
  });

  it.each([
    ["not JSON", "{", /x\.json: the file is not JSON/],
    ["another format", '{"images": {}}', /x\.json: the file must be \{"version": 1/],
    [
      "a key that is not canonical",
      JSON.stringify({ version: 1, images: { "postgres:15": ENTRY } }),
      /x\.json: images\["postgres:15"\] is not a canonical registry\/repository:tag key/,
    ],
    [
      "a malformed digest",
      JSON.stringify({
        version: 1,
        images: { "docker.io/library/a:1": { ...ENTRY, digest: "x" } },
      }),
      /x\.json: images\["docker\.io\/library\/a:1"\]\.digest must be sha256:<64 lowercase hex>/,
    ],
    [
      "no time",
      JSON.stringify({
        version: 1,
        images: { "docker.io/library/a:1": { ...ENTRY, resolvedAt: 1 } },
      }),
      /resolvedAt must be an ISO 8601 time/,
    ],
  ])("refuses %s, naming the file and entry", (_case, text, message) => {
    expect(() => parseImageLock(text, "x.json")).toThrow(message);
  });

  it("names the file it cannot read", () => {
    expect(() => readImageLock("/nonexistent/images.lock.json")).toThrow(
      /\/nonexistent\/images\.lock\.json: the file cannot be read/,
    );
  });

  it("the committed lock holds only well-formed entries", () => {
    expect(() => readImageLock(IMAGE_LOCK_FILE)).not.toThrow();
  });
});
