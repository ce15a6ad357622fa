import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import type { RenderedResource } from "../core/render-model";
import type { RunOptions } from "./run";
import { runPolicies } from "./run";

/*
 * The shared helper of the policy tests: small typed fixtures (policy/fixtures/) and a runner for
 * one rule. Like pulumi/compliance-policies' tests, but with whole-stack rules fed a list.
 */

export * from "./fixtures/kube-object";
export * from "./fixtures/objects";
export * from "./fixtures/workloads";

/** Runs one rule on the resources (dev unless told otherwise) and returns its messages. */
export async function runRule(
  rule: ResourceValidationPolicy | StackValidationPolicy,
  resources: RenderedResource[],
  options: Partial<RunOptions> = {},
): Promise<string[]> {
  const violations = await runPolicies([rule], resources, { profile: "dev", ...options });
  return violations.map((violation) => violation.message);
}
