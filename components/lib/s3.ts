import type * as pulumi from "@pulumi/pulumi";
import { PlatformSecret, type SecretKey } from "./secrets";

/**
 * What components that write to an S3-compatible bucket share: the key pair they are given, kept
 * in a Secret when given as values. (The key prefix and endpoint rules are in core/s3.ts, which
 * the stack config reads without loading any resource.)
 */

/**
 * An S3 key pair: keys of a Secret that exists (an object store user's), or values the component
 * keeps in a Secret of its own (an external target's credentials from the stack config).
 */
export type S3KeyPair =
  | { accessKey: SecretKey; secretKey: SecretKey }
  | { accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> };

/** Where a given key pair's values go when they are not already in a Secret. */
export interface S3KeySecretSpec {
  /** Name of the Secret made for given values. */
  name: string;
  namespace: pulumi.Input<string>;
  labels: Record<string, string>;
  parent: pulumi.Resource;
}

/**
 * The key pair as Secret keys: given ones as they are, or values kept in a Secret made here (and
 * that Secret, whose content the pod's config hash must include).
 */
export function s3SecretKeys(
  given: S3KeyPair,
  spec: S3KeySecretSpec,
): { accessKey: SecretKey; secretKey: SecretKey } {
  if ("accessKey" in given) return given;
  const secret = new PlatformSecret(
    spec.name,
    {
      namespace: spec.namespace,
      labels: spec.labels,
      data: { accessKeyId: given.accessKeyId, secretAccessKey: given.secretAccessKey },
    },
    { parent: spec.parent },
  );
  return { accessKey: secret.key("accessKeyId"), secretKey: secret.key("secretAccessKey") };
}
