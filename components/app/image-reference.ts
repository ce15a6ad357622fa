import { fieldError, fieldErrorIf, type FieldError } from "../../core/validation";
import type { AppArgs } from "./args";

/**
 * Which images the App accepts. Exactly one of `image` and `build`; an image names one build (a
 * tag that is not a floating one such as `latest`, or a digest), and in prod a digest, because a
 * tag can be pushed again. A build is deployed by its repo digest, so it satisfies prod by
 * construction.
 */

const SHA256_DIGEST = /@sha256:[0-9a-f]{64}$/;
const FLOATING_TAGS = new Set(["latest", "stable", "edge", "nightly", "main", "master", "dev"]);
const REPOSITORY = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const REGISTRY_SERVER = /^[a-zA-Z0-9.-]+(:\d+)?$/;

/**
 * Whether a repository path starts with a registry host, as Docker reads one: a first segment
 * with a dot or a port, or `localhost` (`ghcr.io/acme/app`, `localhost/app`).
 */
function startsWithRegistryHost(repository: string): boolean {
  const [first, ...rest] = repository.split("/");
  return rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
}

/** What the image rules read: the profile, and the image or the build (its registry and repository). */
export interface AppImageSettings extends Pick<AppArgs, "profile" | "image"> {
  build?: Pick<NonNullable<AppArgs["build"]>, "registry" | "repository">;
}

/** Every problem with the App's image settings (`image`, `build.*`). */
export function appImageRules({ profile, image, build }: AppImageSettings): FieldError[] {
  if (image !== undefined && build !== undefined) {
    return [fieldError("image", "set either image or build, not both")];
  }
  if (build !== undefined) return buildRules(build);
  if (image === undefined) {
    return [
      fieldError(
        "image",
        "is required: set image (a pinned reference) or build (context and registry)",
      ),
    ];
  }
  return imageReferenceRules(profile, image);
}

/** A build pushes to `server/repository`: both must be names a registry accepts. */
function buildRules(build: NonNullable<AppImageSettings["build"]>): FieldError[] {
  return [
    ...fieldErrorIf(
      !REGISTRY_SERVER.test(build.registry.server),
      "build.registry.server",
      () =>
        `must be a registry host[:port] without a scheme, e.g. ghcr.io (got "${build.registry.server}")`,
    ),
    ...fieldErrorIf(
      !startsWithRegistryHost(build.repository) && !REPOSITORY.test(build.repository),
      "build.repository",
      () => `must be a lowercase repository path such as acme/app (got "${build.repository}")`,
    ),
    ...fieldErrorIf(
      startsWithRegistryHost(build.repository),
      "build.repository",
      () =>
        `must be the path within build.registry.server, without a registry host: the image is ` +
        `pushed to ${build.registry.server}/<repository> (got "${build.repository}", which would ` +
        `become ${build.registry.server}/${build.repository})`,
    ),
  ];
}

/** An image reference must name one build, and in prod by its digest. */
function imageReferenceRules(profile: AppArgs["profile"], reference: string): FieldError[] {
  const digested = SHA256_DIGEST.test(reference);
  const named = reference.split("@")[0];
  const colon = named.lastIndexOf(":");
  const tag = colon > named.lastIndexOf("/") ? named.slice(colon + 1) : undefined;
  if (reference.includes("@") && !digested) {
    return [
      fieldError("image", `has a malformed digest; use @sha256:<64 hex> (got "${reference}")`),
    ];
  }
  if (profile === "prod" && !digested) {
    return [
      fieldError(
        "image",
        `must be pinned by digest in prod (repo:tag@sha256:<digest>), a tag can be pushed again ` +
          `(got "${reference}"); or use build, which deploys by digest`,
      ),
    ];
  }
  if (!digested && (tag === undefined || FLOATING_TAGS.has(tag.toLowerCase()))) {
    return [
      fieldError(
        "image",
        `must name one build: an exact tag or a digest, not "${tag ?? "no tag"}" (got "${reference}")`,
      ),
    ];
  }
  return [];
}
