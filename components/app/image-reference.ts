import {
  malformedReferenceProblem,
  parseImageReference,
  REGISTRY_SERVER,
  REPOSITORY,
  startsWithRegistryHost,
  unpinnedReferenceProblem,
} from "../../policy/model/image-reference";
import { fieldError, fieldErrorIf, type FieldError } from "../../core/validation";
import type { AppArgs } from "./args";

/**
 * Which images the App accepts. Exactly one of `image` and `build`; an image names one build (a
 * tag that is not a floating one such as `latest`, or a digest), and in prod a digest, because a
 * tag can be pushed again. A build is deployed by its repo digest, so it satisfies prod by
 * construction. Both paths are read and written with policy/model/image-reference.ts.
 */

/** What the image rules read: the profile, the image or the build, and the pull credentials. */
export interface AppImageSettings extends Pick<AppArgs, "profile" | "image"> {
  build?: Pick<NonNullable<AppArgs["build"]>, "registry" | "repository">;
  /** Names of the pull settings given (their values are secrets or existing objects). */
  pull?: { imagePullSecret: boolean; credentials: boolean };
}

/** Every problem with the App's image settings (`image`, `build.*`, pull credentials). */
export function appImageRules(settings: AppImageSettings): FieldError[] {
  return [...imageSourceRules(settings), ...pullRules(settings)];
}

function imageSourceRules({ profile, image, build }: AppImageSettings): FieldError[] {
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
  const hasHost = startsWithRegistryHost(build.repository);
  return [
    ...fieldErrorIf(
      !REGISTRY_SERVER.test(build.registry.server),
      "build.registry.server",
      () =>
        `must be a registry host[:port] without a scheme, e.g. ghcr.io (got "${build.registry.server}")`,
    ),
    ...fieldErrorIf(
      !hasHost && !REPOSITORY.test(build.repository),
      "build.repository",
      () => `must be a lowercase repository path such as acme/app (got "${build.repository}")`,
    ),
    ...fieldErrorIf(
      hasHost,
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
  const parsed = parseImageReference(reference);
  const malformed = (what: string) => [fieldError("image", `${what} (got "${reference}")`)];
  const shape = malformedReferenceProblem(parsed);
  if (shape !== undefined) return malformed(shape);
  if (profile === "prod" && parsed.digest === undefined) {
    return malformed(
      "must be pinned by digest in prod (repo:tag@sha256:<digest>), a tag can be pushed again; " +
        "or use build, which deploys by digest",
    );
  }
  const unpinned = unpinnedReferenceProblem(parsed);
  return unpinned === undefined ? [] : malformed(unpinned);
}

/** One way to pull: an existing Secret or credentials, not both. */
function pullRules({ pull }: AppImageSettings): FieldError[] {
  return fieldErrorIf(
    pull !== undefined && pull.imagePullSecret && pull.credentials,
    "imagePullSecret",
    () =>
      "and pull credentials are both set: name an existing kubernetes.io/dockerconfigjson Secret, " +
      "or give credentials for the platform to make one, not both",
  );
}
