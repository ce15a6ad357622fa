import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/** Pod-template annotation whose change makes Kubernetes roll the pods. */
export const CONFIG_HASH_ANNOTATION = "k3s-platform/config-hash";

/** JSON with object keys sorted, so equal content always hashes equally. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

/** A short hex SHA-256 of any JSON-able value. */
export function contentHash(value: unknown, length = 10): string {
  return crypto.createHash("sha256").update(stableJson(value)).digest("hex").slice(0, length);
}

/**
 * `<base>-<hash of content>`, for objects that must be replaced rather than updated when their
 * content changes (Jobs, whose pod template is immutable; ConfigMaps that Jobs mount).
 * Kept within the 63 characters a name that also becomes a label value may have.
 */
export function hashedName(base: string, content: unknown): string {
  const hash = contentHash(content, 8);
  return `${base.slice(0, 63 - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/**
 * The config-hash annotation over everything a pod template mounts or reads (ConfigMap data,
 * Secret data). The hash of a secret is not itself secret, and must not be: a secret annotation
 * would hide from the preview diff exactly the change that rolls the pods.
 */
export function configHashAnnotation(
  ...inputs: pulumi.Input<unknown>[]
): pulumi.Output<Record<string, string>> {
  return pulumi.unsecret(
    pulumi.all(inputs).apply((values): Record<string, string> => ({
      [CONFIG_HASH_ANNOTATION]: contentHash(values, 16),
    })),
  );
}
