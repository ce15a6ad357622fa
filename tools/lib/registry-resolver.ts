import { createHash } from "node:crypto";
import {
  canonicalImageReference,
  DOCKER_HUB,
  isSha256Digest,
} from "../../policy/model/image-reference";

/**
 * Asks a registry which digest an image tag points to, over the registry HTTP API v2 (the OCI
 * Distribution API): `HEAD /v2/<repository>/manifests/<tag>` for the `Docker-Content-Digest`
 * header, falling back to a `GET` whose body is hashed and checked against that header. Public
 * images on Docker Hub, ghcr.io and quay.io need an anonymous Bearer token first: the 401 names
 * where to get one (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`).
 */

/** Every manifest kind a tag can point to: the digest is of whichever the registry serves. */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

/** Docker Hub's API host: `docker.io` names the registry, not a server that answers. */
const DOCKER_HUB_API = "registry-1.docker.io";

/** How to reach registries. */
export interface ResolverOptions {
  /**
   * Registries spoken to over plain HTTP (`host:port` as the mirror or reference names them),
   * for a registry on loopback. @default none: HTTPS everywhere
   */
  insecureRegistries?: readonly string[];
  /**
   * Where to ask instead of a registry, by the registry a reference names (`docker.io` →
   * `mirror.example.com`): the repository path and tag stay, and the lock keeps the original
   * name, so the program pins the images it deploys. @default none
   */
  mirrors?: Readonly<Record<string, string>>;
  /** Always fetch the manifest and hash it, rather than trust a HEAD's header. @default false */
  verify?: boolean;
}

/** What a registry said a tag points to. */
export interface ResolvedTag {
  digest: string;
  mediaType: string;
}

/** A registry that refused, or a tag that does not exist: names the image. */
export class RegistryError extends Error {
  constructor(reference: string, problem: string) {
    super(`${reference}: ${problem}`);
    this.name = "RegistryError";
  }
}

/** A reusable resolver: anonymous tokens are kept per realm, service and scope for its lifetime. */
export class RegistryResolver {
  private readonly tokens = new Map<string, string>();

  constructor(private readonly options: ResolverOptions = {}) {}

  /** The digest the reference's tag points to now. */
  async resolve(reference: string): Promise<ResolvedTag> {
    const { registry = DOCKER_HUB, repository, tag } = canonicalImageReference(reference);
    if (tag === undefined) throw new RegistryError(reference, "has no tag to resolve");
    const served = this.options.mirrors?.[registry] ?? registry;
    const scheme = this.options.insecureRegistries?.includes(served) ? "http" : "https";
    const host = served === DOCKER_HUB ? DOCKER_HUB_API : served;
    const url = `${scheme}://${host}/v2/${repository}/manifests/${encodeURIComponent(tag)}`;
    const at = served === registry ? registry : `${registry} (through ${served})`;
    const ask = (method: "HEAD" | "GET") =>
      this.request(reference, url, method, `repository:${repository}:pull`, at);
    if (!this.options.verify) {
      const head = await ask("HEAD");
      const digest = head.headers.get("docker-content-digest") ?? undefined;
      if (isSha256Digest(digest)) return { digest, mediaType: mediaTypeOf(head) };
    }
    return verifiedManifest(reference, await ask("GET"));
  }

  /** One request, with the anonymous token flow when the registry answers 401. */
  private async request(
    reference: string,
    url: string,
    method: "HEAD" | "GET",
    defaultScope: string,
    at: string,
  ): Promise<Response> {
    const accept = MANIFEST_MEDIA_TYPES.join(", ");
    const send = (token?: string) =>
      fetchOrExplain(reference, at, url, {
        method,
        headers: { Accept: accept, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      });
    let response = await send(this.cachedToken(url, defaultScope));
    if (response.status === 401) {
      const token = await this.anonymousToken(reference, response, defaultScope, at);
      response = await send(token);
    }
    if (!response.ok) throw await refusal(reference, at, response, method);
    return response;
  }

  private cachedToken(url: string, scope: string): string | undefined {
    return this.tokens.get(`${new URL(url).host} ${scope}`);
  }

  /** Follows a `WWW-Authenticate: Bearer` challenge to an anonymous pull token. */
  private async anonymousToken(
    reference: string,
    response: Response,
    defaultScope: string,
    at: string,
  ): Promise<string> {
    const challenge = parseBearerChallenge(response.headers.get("www-authenticate") ?? "");
    if (challenge === undefined || challenge.realm === undefined) {
      throw new RegistryError(
        reference,
        `${at} asks for credentials without a Bearer challenge (HTTP 401); the image lock ` +
          `resolves public images only`,
      );
    }
    const tokenUrl = new URL(challenge.realm);
    if (challenge.service !== undefined) tokenUrl.searchParams.set("service", challenge.service);
    tokenUrl.searchParams.set("scope", challenge.scope ?? defaultScope);
    const answer = await fetchOrExplain(reference, at, tokenUrl.toString(), { method: "GET" });
    if (!answer.ok) {
      throw new RegistryError(
        reference,
        `${at}'s token service ${tokenUrl.origin} refused an anonymous pull token (HTTP ${answer.status})`,
      );
    }
    const body = (await answer.json()) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === "string" ? body.token : body.access_token;
    if (typeof token !== "string" || token === "") {
      throw new RegistryError(reference, `${at}'s token service answered without a token`);
    }
    this.tokens.set(`${new URL(response.url).host} ${defaultScope}`, token);
    return token;
  }
}

/** The parameters of a `Bearer realm="…",service="…",scope="…"` challenge. */
export function parseBearerChallenge(
  header: string,
): { realm?: string; service?: string; scope?: string } | undefined {
  const match = /^\s*Bearer\s+(.*)$/i.exec(header);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of match[1].matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) {
    params[key.toLowerCase()] = quoted ?? bare;
  }
  return { realm: params.realm, service: params.service, scope: params.scope };
}

/** The manifest's digest, hashed from its body and checked against the registry's header. */
async function verifiedManifest(reference: string, response: Response): Promise<ResolvedTag> {
  const body = Buffer.from(await response.arrayBuffer());
  const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  const claimed = response.headers.get("docker-content-digest");
  if (claimed !== null && claimed !== digest) {
    throw new RegistryError(
      reference,
      `the registry says the manifest is ${claimed}, but its body hashes to ${digest}`,
    );
  }
  return { digest, mediaType: mediaTypeOf(response) };
}

function mediaTypeOf(response: Response): string {
  return (response.headers.get("content-type") ?? "").split(";")[0].trim() || "unknown";
}

/** A fetch whose network failure names the image and the registry. */
async function fetchOrExplain(
  reference: string,
  at: string,
  url: string,
  init: RequestInit,
): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: "follow", signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new RegistryError(
      reference,
      `cannot reach ${at} at ${new URL(url).origin} (${cause ?? (error as Error).message})`,
    );
  }
}

/** The error for a refused request, with the registry's own error code where it sent one. */
async function refusal(
  reference: string,
  at: string,
  response: Response,
  method: string,
): Promise<RegistryError> {
  const detail = method === "GET" ? await registryErrors(response) : "";
  if (response.status === 404) {
    return new RegistryError(reference, `the tag does not exist in ${at} (HTTP 404${detail})`);
  }
  return new RegistryError(
    reference,
    `${at} refused the manifest (HTTP ${response.status}${detail})`,
  );
}

async function registryErrors(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { errors?: { code?: string; message?: string }[] };
    const errors = (body.errors ?? []).map((error) => `${error.code}: ${error.message}`);
    return errors.length > 0 ? `, ${errors.join("; ")}` : "";
  } catch {
    return "";
  }
}
