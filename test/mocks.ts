import * as pulumi from "@pulumi/pulumi";
import { PlatformMocks } from "../tools/lib/mocks";

export { MOCK_SECRET_PREFIX } from "../tools/lib/mocks";

/**
 * Installs the shared mocks for a unit-test file. Call it at the top of the file, before a dynamic
 * `import()` of the code under test, so the SDK is in mock mode when the components load.
 */
export function setupMocks(stack = "test"): PlatformMocks {
  const mocks = new PlatformMocks();
  void pulumi.runtime.setMocks(mocks, "k3s-platform", stack, false);
  return mocks;
}

/** The value of an Output (secret or not), for assertions. */
export function unwrap<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Resolved inputs of every registered resource of a type, once registrations have settled. */
export async function registeredOfType(
  mocks: PlatformMocks,
  type: string,
): Promise<{ name: string; inputs: Record<string, unknown> }[]> {
  // Registrations resolve asynchronously; let the queued ones reach the mocks first.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return mocks.registered.filter((resource) => resource.type === type);
}

/** Whether an Output is marked secret (`isSecret` is internal to the SDK's Output class). */
export function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
  return (output as unknown as { isSecret: Promise<boolean> }).isSecret;
}
