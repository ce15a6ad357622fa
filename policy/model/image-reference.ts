/**
 * Image references as Docker reads them (`[registry/]repository[:tag][@digest]`): one parser and
 * one formatter, so a reference given in config, one built from `{server, repository, tag}` for a
 * push, and one built from the digest a push returned all come out the same way.
 */

/** The parts of an image reference. */
export interface ImageReference {
  /** Registry host[:port]; none means Docker Hub. */
  registry?: string;
  /** Path within the registry, e.g. `acme/app`. */
  repository: string;
  /** Tag, e.g. `1.2.3`. */
  tag?: string;
  /** Content digest, e.g. `sha256:<64 hex>`. */
  digest?: string;
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
/** A repository path as registries accept it: lowercase components separated by `/`. */
export const REPOSITORY = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
/** A registry as a reference names it: host[:port], no scheme. */
export const REGISTRY_SERVER = /^[a-zA-Z0-9.-]+(:\d+)?$/;
const TAG = /^\w[\w.-]{0,127}$/;

/** True for a well-formed `sha256:<64 hex>` digest. */
export function isSha256Digest(digest: string | undefined): digest is string {
  return digest !== undefined && SHA256_DIGEST.test(digest);
}

/** What is malformed in a reference's parts (registry, repository, tag, digest), if anything. */
export function malformedReferenceProblem(reference: ImageReference): string | undefined {
  const { registry, repository, tag, digest } = reference;
  if (registry !== undefined && !REGISTRY_SERVER.test(registry)) {
    return `has a malformed registry host "${registry}"`;
  }
  if (!REPOSITORY.test(repository)) {
    return `must name a lowercase repository such as acme/app, not "${repository}"`;
  }
  if (tag !== undefined && !TAG.test(tag)) return `has a malformed tag "${tag}"`;
  if (digest !== undefined && !isSha256Digest(digest)) {
    return "has a malformed digest; use @sha256:<64 hex>";
  }
  return undefined;
}

/** Why a reference does not name one build (no tag and no digest, or a moving tag), if it does not. */
export function unpinnedReferenceProblem(reference: ImageReference): string | undefined {
  const { tag, digest } = reference;
  if (digest !== undefined || (tag !== undefined && !FLOATING_TAGS.has(tag.toLowerCase()))) {
    return undefined;
  }
  return `must name one build: an exact tag or a digest, not "${tag ?? "no tag"}"`;
}

/** The registry Docker assumes when a reference names none. */
export const DOCKER_HUB = "docker.io";

/** The key Docker Hub's credentials have in a `.dockerconfigjson` (Docker's legacy index URL). */
const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

/**
 * Whether the first path segment is a registry host, as Docker decides it: a segment with a dot
 * or a port, or `localhost`, that is followed by more of the path.
 */
export function startsWithRegistryHost(path: string): boolean {
  const [first, ...rest] = path.split("/");
  return rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
}

/** Splits a reference into its parts; checks nothing (the image rules do). */
export function parseImageReference(reference: string): ImageReference {
  const at = reference.indexOf("@");
  const named = at >= 0 ? reference.slice(0, at) : reference;
  const digest = at >= 0 ? reference.slice(at + 1) : undefined;
  const colon = named.lastIndexOf(":");
  const hasTag = colon > named.lastIndexOf("/");
  const path = hasTag ? named.slice(0, colon) : named;
  const tag = hasTag ? named.slice(colon + 1) : undefined;
  const slash = path.indexOf("/");
  const registry = startsWithRegistryHost(path) ? path.slice(0, slash) : undefined;
  return {
    ...(registry !== undefined ? { registry } : {}),
    repository: registry !== undefined ? path.slice(slash + 1) : path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** The reference of its parts: `registry/repository:tag@digest`, each part only when present. */
export function formatImageReference(reference: ImageReference): string {
  return (
    (reference.registry !== undefined ? `${reference.registry}/` : "") +
    reference.repository +
    (reference.tag !== undefined ? `:${reference.tag}` : "") +
    (reference.digest !== undefined ? `@${reference.digest}` : "")
  );
}

/** The registry a reference is pulled from (Docker Hub when it names none). */
export function registryOf(reference: string): string {
  return parseImageReference(reference).registry ?? DOCKER_HUB;
}

/** The key of a registry's entry in a `.dockerconfigjson` `auths` map. */
export function dockerConfigAuthKey(registry: string): string {
  return registry === DOCKER_HUB || registry === "index.docker.io" ? DOCKER_HUB_AUTH_KEY : registry;
}

/**
 * The reference as a registry names it: the registry always spelled out, Docker Hub as
 * `docker.io` and its single-name repositories under `library/`. `postgres:15`,
 * `docker.io/postgres:15` and `index.docker.io/library/postgres:15` are one image, and the image
 * lock keys each image by this one spelling.
 */
export function canonicalImageReference(reference: string): ImageReference {
  const parsed = parseImageReference(reference);
  const given = parsed.registry ?? DOCKER_HUB;
  const registry = given === "index.docker.io" ? DOCKER_HUB : given;
  const repository =
    registry === DOCKER_HUB && !parsed.repository.includes("/")
      ? `library/${parsed.repository}`
      : parsed.repository;
  return { ...parsed, registry, repository };
}
