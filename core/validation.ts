import type { InputPropertyErrorDetails } from "@pulumi/pulumi";
import { parseQuantity, QUANTITY_PATTERN } from "./quantity";

/**
 * The one shape of "this argument is wrong" in the project: Pulumi's own
 * `InputPropertyErrorDetails` (`propertyPath`, `reason`), which the CLI prints per field when a
 * component throws `InputPropertiesError`. Every component exports pure rules over its args that
 * return these; the stack config runs the same rules and maps each `propertyPath` to the stack key
 * the user wrote, so a problem is reported once, before anything exists, in the user's words.
 */
export type FieldError = InputPropertyErrorDetails;

/** A component's rules: every problem with its args, none when they are valid. Pure. */
export type Rules<Args> = (args: Args) => FieldError[];

/**
 * A component's args less where the Platform places it (`namespace`, `instance`): what its rules
 * read, and what the stack config can produce before any resource exists.
 */
export type Settings<Args> = Omit<Args, "namespace" | "instance">;

/** One problem with one argument, by its dotted path in the args (`pool.minPoolSize`). */
export function fieldError(propertyPath: string, reason: string): FieldError {
  return { propertyPath, reason };
}

/** A problem only when `broken` holds; the reason is built only then. */
export function fieldErrorIf(
  broken: boolean,
  propertyPath: string,
  reason: () => string,
): FieldError[] {
  return broken ? [fieldError(propertyPath, reason())] : [];
}

/** The problems of a nested argument, with its path in front (`pool` + `minPoolSize`). */
export function nestedErrors(prefix: string, errors: FieldError[]): FieldError[] {
  return errors.map(({ propertyPath, reason }) => fieldError(`${prefix}.${propertyPath}`, reason));
}

/** Each problem as `path: reason`, one a line, for error messages. */
export function describeFieldErrors(errors: FieldError[]): string {
  return errors.map(({ propertyPath, reason }) => `${propertyPath}: ${reason}`).join("\n");
}

/**
 * A volume size, when given: a positive Kubernetes quantity (a PVC of `0Gi` or `20 GB` is refused
 * by the API server only at apply time). `example` is a size that fits the volume.
 */
export function storageSizeErrors(
  propertyPath: string,
  storageSize: string | undefined,
  example: string,
): FieldError[] {
  return fieldErrorIf(
    storageSize !== undefined &&
      (!QUANTITY_PATTERN.test(storageSize) || parseQuantity(storageSize) <= 0),
    propertyPath,
    () => `must be a positive quantity such as ${example} (got "${storageSize}")`,
  );
}
