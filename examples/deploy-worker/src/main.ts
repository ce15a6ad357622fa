/**
 * The worker process: `tsx examples/deploy-worker/src/main.ts` (or its compiled JavaScript) in
 * the app-worker pod. Settings come from the env contract, Kubernetes credentials from the pod's
 * projected ServiceAccount token; it polls its task queue until SIGINT or SIGTERM, which the
 * Temporal SDK turns into a graceful shutdown that lets running activities finish.
 */
import { NativeConnection, Worker } from "@temporalio/worker";
import { createActivities } from "./activities";
import { readWorkerEnv } from "./env";
import { inClusterConfig, kubeClients } from "./kube";

async function main(): Promise<void> {
  const env = readWorkerEnv();
  const kube = kubeClients(inClusterConfig());
  const connection = await NativeConnection.connect({ address: env.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      namespace: env.temporalNamespace,
      taskQueue: env.taskQueue,
      // Resolves to workflows.ts under tsx and to workflows.js once compiled.
      workflowsPath: require.resolve("./workflows"),
      activities: createActivities(kube, env),
    });
    // One line a supervisor (or a test) can wait for: the queue is being polled from here on.
    console.log(
      `deploy-worker polling ${env.taskQueue} in ${env.temporalNamespace} at ${env.temporalAddress}` +
        ` for ${env.deployNamespaces.join(",")} as ${env.fieldManager}`,
    );
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
