import type {
  EnforcementLevel,
  PolicyResource,
  PolicyResourceOptions,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { RenderedResource } from "./model/render-model";
import { POLICIES } from "./catalogue";
import { toKubeObject } from "./lib/k8s";
import { indexStack, stackProfile } from "./lib/stack";
import type { Profile } from "./model/profile";
import type { RuleConfig } from "./lib/rule";

/*
 * The policy pack run in-process on a render (`npm run check`, tests): the same rule objects as
 * policy/index.ts, called with the same argument shapes @pulumi/policy's analyzer builds, minus
 * the gRPC server that constructing a PolicyPack would start.
 */

export type ViolationLevel = "mandatory" | "advisory";
export type EnforcementOverride = ViolationLevel | "disabled";

/** One finding. */
export interface PolicyViolation {
  /** Rule id, e.g. `image-pinned`. */
  policy: string;
  level: ViolationLevel;
  /** URN of the resource it concerns; empty for a finding about the stack as a whole. */
  urn: string;
  /** `<Kind>/<namespace>/<name>` (`<Kind>/<name>` when cluster-scoped); `stack` for the stack. */
  resource: string;
  message: string;
}

export interface RunOptions {
  /** Per-rule level overrides from config (levels are config-changeable per rule). */
  enforcement?: Record<string, EnforcementOverride>;
  /** The configured StorageClass; without it storage-refs admits local-path and the stack's own. */
  storageClassName?: string;
  /** The image lock prod images are held to. @default the pack's images.lock.json */
  imageLock?: RuleConfig["imageLock"];
}

type Policy = ResourceValidationPolicy | StackValidationPolicy;

/** What a rule throws through `args.notApplicable()`: not a finding, the rule just stops. */
class NotApplicable extends Error {}

/** Runs every rule of the catalogue on a render. */
export function runPolicyPack(
  resources: RenderedResource[],
  options: RunOptions = {},
): Promise<PolicyViolation[]> {
  return runPolicies(POLICIES, resources, options);
}

/**
 * The profile a render declares on its namespaces, as the prod-only rules read it: prod unless
 * every declaration says dev.
 */
export function renderedProfile(resources: readonly RenderedResource[]): Profile {
  return stackProfile(indexStack(resources.map((resource) => ({ ...resource, opts: resource }))));
}

/** Runs the given rules on a render (tests run one rule at a time through this). */
export async function runPolicies(
  policies: readonly Policy[],
  resources: readonly RenderedResource[],
  options: RunOptions = {},
): Promise<PolicyViolation[]> {
  checkOverrides(policies, options.enforcement ?? {});
  const config: RuleConfig = {
    storageClassName: options.storageClassName,
    imageLock: options.imageLock,
  };
  const ids = new Map(resources.map((resource) => [resource.urn, describe(resource)]));
  const stackResources = toPolicyResources(resources);
  const violations: PolicyViolation[] = [];
  for (const policy of policies) {
    const level = levelOf(policy, options.enforcement?.[policy.name]);
    if (level === undefined) continue;
    const record = (message: string, urn: string | undefined): void => {
      violations.push({
        policy: policy.name,
        level,
        urn: urn ?? "",
        resource: urn === undefined ? "stack" : (ids.get(urn) ?? urn),
        message,
      });
    };
    if ("validateStack" in policy) {
      const args = stackArgs(stackResources, config);
      await attempt(() => policy.validateStack(args, (message, urn) => record(message, urn)));
      continue;
    }
    const validations = [policy.validateResource ?? []].flat();
    for (const resource of resources) {
      const args = resourceArgs(resource, config);
      for (const validate of validations) {
        await attempt(() => validate(args, (message) => record(message, resource.urn)));
      }
    }
  }
  return violations;
}

function checkOverrides(policies: readonly Policy[], overrides: Record<string, unknown>): void {
  const known = new Set(policies.map((policy) => policy.name));
  const unknown = Object.keys(overrides).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown policy ${unknown.join(", ")} in the enforcement overrides; known: ` +
        [...known].join(", "),
    );
  }
}

/** The level a rule runs at, or undefined when disabled. */
function levelOf(
  policy: Policy,
  override: EnforcementOverride | undefined,
): ViolationLevel | undefined {
  const level: EnforcementLevel = override ?? policy.enforcementLevel ?? "advisory";
  if (level === "disabled") return undefined;
  // The analyzer reports a remediating rule's remaining violations as mandatory too.
  return level === "advisory" ? "advisory" : "mandatory";
}

async function attempt(run: () => Promise<void> | void): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof NotApplicable)) throw error;
  }
}

function describe(resource: RenderedResource): string {
  const object = toKubeObject({ ...resource, opts: resource });
  return object?.id ?? `${resource.type}/${resource.name}`;
}

function notApplicable(reason?: string): never {
  throw new NotApplicable(reason);
}

function isTypeOf(type: string, resourceClass: unknown): boolean {
  // Generated resource classes carry their type token as `__pulumiType`, which is what
  // @pulumi/policy compares too.
  return (resourceClass as { __pulumiType?: unknown }).__pulumiType === type;
}

/** Resource options as @pulumi/policy passes them, plus the retainOnDelete the render knows. */
function optionsOf(
  resource: RenderedResource,
): PolicyResourceOptions & { retainOnDelete: boolean } {
  return {
    protect: resource.protect,
    retainOnDelete: resource.retainOnDelete,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    ...(resource.parent !== undefined ? { parent: resource.parent } : {}),
  };
}

function resourceArgs(resource: RenderedResource, config: RuleConfig): ResourceValidationArgs {
  const { type, props } = resource;
  return {
    type,
    props,
    urn: resource.urn,
    name: resource.name,
    opts: optionsOf(resource),
    stackTags: new Map(),
    isType: (resourceClass) => isTypeOf(type, resourceClass),
    asType: ((resourceClass: unknown) =>
      isTypeOf(type, resourceClass) ? props : undefined) as ResourceValidationArgs["asType"],
    getConfig: <T extends object>() => ({ ...config }) as T,
    notApplicable,
  };
}

function toPolicyResources(resources: readonly RenderedResource[]): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  for (const resource of resources) {
    const { type, props } = resource;
    byUrn.set(resource.urn, {
      type,
      props,
      urn: resource.urn,
      name: resource.name,
      opts: optionsOf(resource),
      dependencies: [],
      propertyDependencies: {},
      isType: (resourceClass) => isTypeOf(type, resourceClass),
      asType: ((resourceClass: unknown) =>
        isTypeOf(type, resourceClass) ? props : undefined) as PolicyResource["asType"],
    });
  }
  // Links go in once every resource exists, as the analyzer resolves them.
  for (const resource of resources) {
    const linked = byUrn.get(resource.urn);
    if (linked === undefined) continue;
    linked.parent = resource.parent !== undefined ? byUrn.get(resource.parent) : undefined;
    linked.dependencies = resource.dependencies.flatMap((urn) => byUrn.get(urn) ?? []);
  }
  return [...byUrn.values()];
}

function stackArgs(resources: PolicyResource[], config: RuleConfig): StackValidationArgs {
  return {
    resources,
    stackTags: new Map(),
    getConfig: <T extends object>() => ({ ...config }) as T,
    notApplicable,
  };
}
