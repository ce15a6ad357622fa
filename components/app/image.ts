import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { APP_DEFAULTS, type AppBuildArgs } from "./args";

/** The `docker.Image` args of a build: context, Dockerfile and platform, pushed to the registry. */
export function dockerImageArgs(build: AppBuildArgs, stack: string): docker.ImageArgs {
  const tag = build.tag ?? stack;
  return {
    imageName: `${build.registry.server}/${build.repository}:${tag}`,
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
 * Builds and pushes the app image and returns its repo digest (`server/repo@sha256:…`): the
 * pods run exactly the bytes that were pushed, whatever later happens to the tag.
 */
export function buildAppImage(
  name: string,
  build: AppBuildArgs,
  parent: pulumi.Resource,
): { image: docker.Image; reference: pulumi.Output<string> } {
  const image = new docker.Image(name, dockerImageArgs(build, pulumi.getStack()), { parent });
  return { image, reference: image.repoDigest };
}
