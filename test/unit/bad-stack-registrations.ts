import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { ConfigError } from "../../config";
import { renderStack } from "../../tools/lib/engine";

/**
 * `tsx test/unit/bad-stack-registrations.ts <stack-file>`: runs the real program under the
 * engine-less tools' mock runtime (`renderStack`) with the given stack file, counting every
 * resource registration the program makes, and prints one JSON line: whether it failed with a
 * config error, the problems it listed, and the type of every resource it registered. Run in a
 * process of its own: the SDK's mock runtime is global state. Only that line is the answer: the
 * SDK's exit hook complains (on stderr, with status 1) of the program's promises left unsettled.
 */

type Register = (this: MockMonitor, request: { getType(): string }, callback: unknown) => unknown;

const registered: string[] = [];
const prototype = MockMonitor.prototype as unknown as { registerResource: Register };
const original = prototype.registerResource;
prototype.registerResource = function (request, callback) {
  registered.push(request.getType());
  return original.call(this, request, callback);
};

renderStack({ stack: "bad", stackFile: process.argv[2] }).then(
  (result) => {
    const rendered = result.resources.length;
    console.log(JSON.stringify({ configError: false, issues: [], registered, rendered }));
    process.exit(0);
  },
  (error: unknown) => {
    const issues = error instanceof ConfigError ? error.issues : [];
    console.log(JSON.stringify({ configError: error instanceof ConfigError, issues, registered }));
    // The SDK raises the program's error once more, uncaught: exit first, as the tools do.
    process.exit(0);
  },
);
