import * as pulumi from "@pulumi/pulumi";
import { describeFieldErrors, type FieldError } from "../../core/validation";

/**
 * Throws Pulumi's `InputPropertiesError` listing every problem at once, or returns. Components call
 * it first in their constructor, before any child exists: a stack's config has already run the
 * same rules, so this only fires for a program that builds a component by hand.
 */
export function assertValidArgs(component: string, errors: FieldError[]): void {
  if (errors.length === 0) return;
  throw new pulumi.InputPropertiesError({
    message: `${component}: invalid arguments\n${describeFieldErrors(errors)}`,
    errors,
  });
}
