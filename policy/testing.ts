import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { profileNamespace } from "./fixtures/objects";
import type { Profile } from "./model/profile";
import type { RenderedResource } from "./model/render-model";
import type { RunOptions } from "./run";
import { runPolicies } from "./run";

/*
 * The shared helper of the policy tests: small typed fixtures (policy/fixtures/) and a runner for
 * one rule. Like pulumi/compliance-policies' tests, but with whole-stack rules fed a list.
 */

export * from "./fixtures/kube-object";
export * from "./fixtures/objects";
export * from "./fixtures/workloads";

/** How a test runs a rule: the pack's options, plus the profile the stack declares. */
export interface RuleRunOptions extends RunOptions {
  /**
   * Adds the platform namespace labelled with this profile; without it the stack declares none,
   * which the prod-only rules treat as prod.
   * @default "dev"
   */
  profile?: Profile | "undeclared";
}

/** Runs one rule on the resources (a dev stack unless told otherwise) and returns its messages. */
export async function runRule(
  rule: ResourceValidationPolicy | StackValidationPolicy,
  resources: RenderedResource[],
  { profile = "dev", ...options }: RuleRunOptions = {},
): Promise<string[]> {
  const declared = profile === "undeclared" ? [] : [profileNamespace(profile)];
  const violations = await runPolicies([rule], [...declared, ...resources], options);
  return violations.map((violation) => violation.message);
}
