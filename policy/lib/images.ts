/** An image reference split into its parts: `registry/repo[:tag][@digest]`. */
export interface ImageReference {
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** Splits an image reference; a `:` before the last `/` is a registry port, not a tag. */
export function parseImage(image: string): ImageReference {
  const at = image.indexOf("@");
  const named = at === -1 ? image : image.slice(0, at);
  const digest = at === -1 ? undefined : image.slice(at + 1);
  const colon = named.lastIndexOf(":");
  const hasTag = colon > named.lastIndexOf("/");
  return {
    repository: hasTag ? named.slice(0, colon) : named,
    tag: hasTag ? named.slice(colon + 1) : undefined,
    digest,
  };
}

/** Tags that name a moving target rather than one build. */
export const FLOATING_TAGS: ReadonlySet<string> = new Set([
  "latest",
  "stable",
  "edge",
  "nightly",
  "main",
  "master",
  "dev",
]);

const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** True for a well-formed `sha256:<64 hex>` digest. */
export function isSha256Digest(digest: string | undefined): boolean {
  return digest !== undefined && SHA256_DIGEST.test(digest);
}
