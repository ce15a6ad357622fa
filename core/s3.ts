/**
 * S3 rules that need no resource, for the stack config and the components alike: the key prefix
 * a bucket folder may have, and how an endpoint URL splits into the host and scheme a client takes.
 */

/** A key prefix: path segments of safe characters, so it is a folder and safe in a script. */
export const S3_KEY_PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

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
