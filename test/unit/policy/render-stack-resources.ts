import { renderStack } from "../../../tools/lib/engine";

/**
 * `tsx test/unit/policy/render-stack-resources.ts <stack> [<stack file>]`: renders a shipped stack
 * (or the given stack file) under the engine-less tools' mock runtime and prints its resources
 * (secrets redacted) as one JSON line.
 * Run in a process of its own: the SDK's mock runtime is global state, one render per process.
 */
renderStack({ stack: process.argv[2], stackFile: process.argv[3] }).then(
  (result) => {
    // Exit only once the pipe took it all: a large write is asynchronous.
    process.stdout.write(JSON.stringify(result.resources) + "\n", () => process.exit(0));
  },
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
