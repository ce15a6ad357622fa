/**
 * The seed's deployment workflow shape, bundled by `@temporalio/worker` for the round trip in
 * `temporal.test.ts`: one activity behind a retry policy, and a result; and two workflows that end
 * the other ways the Temporal dashboard counts (failed; cancelled, terminated, timed out).
 */
import { ApplicationFailure, condition, proxyActivities } from "@temporalio/workflow";

export interface DeployInput {
  service: string;
  image: string;
}

export interface DeployResult {
  status: "deployed";
  service: string;
  image: string;
  /** The attempt on which the activity succeeded. */
  attempts: number;
}

/** The activities the worker registers (implemented in the test). */
export interface DeployActivities {
  /** Returns the attempt number it succeeded on. */
  deployToK3s(input: DeployInput): Promise<number>;
}

const { deployToK3s } = proxyActivities<DeployActivities>({
  startToCloseTimeout: "10 seconds",
  retry: { maximumAttempts: 3, initialInterval: "100 milliseconds", backoffCoefficient: 1 },
});

export async function deployWorkflow(input: DeployInput): Promise<DeployResult> {
  const attempts = await deployToK3s(input);
  return { status: "deployed", service: input.service, image: input.image, attempts };
}

/** Fails for good, as a deployment refused by a check would. */
export async function rejectDeploy(reason: string): Promise<never> {
  throw ApplicationFailure.nonRetryable(reason, "DeployRejected");
}

/** Waits for an approval that never comes: it ends only by cancellation, termination or timeout. */
export async function awaitApproval(): Promise<void> {
  await condition(() => false);
}
