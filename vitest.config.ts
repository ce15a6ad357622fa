import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each file in its own process: the Pulumi SDK's mock runtime is global state.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
