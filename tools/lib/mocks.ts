import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { formatImageReference, parseImageReference } from "../../policy/model/image-reference";

/** Every generated secret under mocks starts with this, so a leak is easy to search for. */
export const MOCK_SECRET_PREFIX = "MOCK-SECRET-";

type MockArgs = pulumi.runtime.MockResourceArgs;
type MockResult = pulumi.runtime.MockResourceResult;

/**
 * Resource mocks that stand in for the engine and the providers: deterministic, recognisable
 * values for generated secrets, and for Kubernetes objects the state the API server would echo
 * back (the inputs, with the name defaulted). Shared by the engine-less tools and the tests.
 */
export class PlatformMocks implements pulumi.runtime.Mocks {
  /** Every secret value the mocks generated, for redaction and leak checks. */
  readonly generatedSecrets = new Set<string>();
  /** Every resource registered, with its resolved inputs, in order: what tests assert on. */
  readonly registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];

  newResource(args: MockArgs): MockResult {
    this.registered.push({ type: args.type, name: args.name, inputs: args.inputs });
    if (args.type === "random:index/randomPassword:RandomPassword") {
      const value = `${MOCK_SECRET_PREFIX}${args.name}`;
      this.generatedSecrets.add(value);
      return { id: args.name, state: { ...args.inputs, result: value } };
    }
    if (args.type === DOCKER_IMAGE_TYPE) {
      return { id: `${args.name}-id`, state: { ...args.inputs, ...mockImageOutputs(args) } };
    }
    if (args.type.startsWith("kubernetes:") && args.inputs.metadata !== undefined) {
      const metadata = { name: args.name, ...args.inputs.metadata };
      const id = metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name;
      return { id, state: { ...args.inputs, metadata } };
    }
    return { id: `${args.name}-id`, state: args.inputs };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    return args.inputs;
  }
}

/** Type token of `@pulumi/docker`'s `Image` (v4 and v5). */
export const DOCKER_IMAGE_TYPE = "docker:index/image:Image";

/**
 * What a build-and-push would report: `repoDigest` as `<registry>/<repository>@sha256:<64 hex>`,
 * the repository taken from `imageName` without its tag and the digest from the resource name, so
 * it is deterministic and recognisably fake.
 */
function mockImageOutputs(args: MockArgs): Record<string, string> {
  const imageName = typeof args.inputs.imageName === "string" ? args.inputs.imageName : args.name;
  const { registry, repository: path } = parseImageReference(imageName);
  const repository = formatImageReference({ registry, repository: path });
  const digest = createHash("sha256").update(args.name).digest("hex");
  return { imageName, baseImageName: imageName, repoDigest: `${repository}@sha256:${digest}` };
}
