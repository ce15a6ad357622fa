import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { formatImageReference, parseImageReference } from "../../policy/model/image-reference";
import { APP_DEFAULTS, type AppBuildArgs } from "./args";

/** The `docker.Image` args of a build: context, Dockerfile and platform, pushed to the registry. */
export function dockerImageArgs(build: AppBuildArgs, stack: string): docker.ImageArgs {
  return {
    imageName: formatImageReference({
      registry: build.registry.server,
      repository: build.repository,
      tag: build.tag ?? stack,
    }),
    build: {
      context: build.context,
      // The provider resolves a relative Dockerfile against the program's directory, not the
      // context (pulumi-docker#572); joining keeps our documented "relative to context" true.
      dockerfile: path.join(build.context, build.dockerfile ?? APP_DEFAULTS.build.dockerfile),
      platform: build.platform ?? APP_DEFAULTS.build.platform,
    },
    registry: {
      server: build.registry.server,
      ...(build.registry.username !== undefined ? { username: build.registry.username } : {}),
      ...(build.registry.password !== undefined
        ? { password: pulumi.secret(build.registry.password) }
        : {}),
    },
  };
}

/**
 * The reference the pods run: `image` as given, or a build's `server/repository@<digest>` with the
 * digest the push returned, so the pods run exactly the bytes that were pushed whatever later
 * happens to the tag. Both through the one formatter, so both paths read alike.
 */
export function deployedReference(
  source: { image: string } | { build: AppBuildArgs; pushedDigest: pulumi.Output<string> },
): pulumi.Output<string> {
  if ("image" in source) {
    return pulumi.output(formatImageReference(parseImageReference(source.image)));
  }
  const { registry, repository } = source.build;
  return source.pushedDigest.apply((repoDigest) =>
    formatImageReference({
      registry: registry.server,
      repository,
      digest: parseImageReference(repoDigest).digest,
    }),
  );
}

/** Builds and pushes the app image; returns the Image and the reference the pods run. */
export function buildAppImage(
  name: string,
  build: AppBuildArgs,
  parent: pulumi.Resource,
): { image: docker.Image; reference: pulumi.Output<string> } {
  const image = new docker.Image(name, dockerImageArgs(build, pulumi.getStack()), { parent });
  return { image, reference: deployedReference({ build, pushedDigest: image.repoDigest }) };
}
