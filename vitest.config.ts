import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each file in its own process: the Pulumi SDK's mock runtime is global state.
    pool: "forks",
    // Two files at a time: this vitest defaults to one worker on a two-core machine, and most
    // files spend their time waiting on servers, the engine or the control plane, not the CPU.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
