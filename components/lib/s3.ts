import type * as pulumi from "@pulumi/pulumi";
import { PlatformSecret, type SecretKey } from "./secrets";

/**
 * What components that write to an S3-compatible bucket share: the key prefix they accept, the key
 * pair they are given, and how an endpoint URL splits into the host and scheme a client takes.
 */

/** A key prefix: path segments of safe characters, so it is a folder and safe in a script. */
export const S3_KEY_PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

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

/** An endpoint URL's parts, as clients that take a host and a scheme flag want them. */
export interface S3EndpointParts {
  /** `host:port`, the port always written (the scheme's default when the URL has none). */
  hostPort: string;
  https: boolean;
}

/**
 * The parts of `http(s)://host[:port]`, or undefined for anything else (another scheme, a path, a
 * query, credentials in the URL): those a host-and-scheme client would silently drop.
 */
export function s3EndpointParts(endpoint: string): S3EndpointParts | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  const https = url.protocol === "https:";
  const plain =
    (https || url.protocol === "http:") &&
    (url.pathname === "/" || url.pathname === "") &&
    url.search === "" &&
    url.hash === "" &&
    url.username === "" &&
    url.password === "";
  if (!plain) return undefined;
  const port = url.port !== "" ? url.port : https ? "443" : "80";
  return { hostPort: `${url.hostname}:${port}`, https };
}
