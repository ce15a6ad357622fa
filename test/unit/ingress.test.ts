import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../config";
import { componentProblems } from "../../platform/validate";
import { readStackConfig } from "../../tools/lib/stack-file";
import { APP_IMAGE } from "./stack-config";

/**
 * Every component that serves through the ingress controller (the app's API, Grafana, the Temporal
 * Web UI) takes the same Ingress settings and refuses a host an Ingress rule cannot carry, at the
 * stack key the user wrote.
 */

const dev = parseConfig(
  readStackConfig(path.resolve(__dirname, "..", "..", "Pulumi.dev.yaml")).values,
);

describe("one Ingress shape, one host rule", () => {
  it.each([
    [
      "the app",
      { ...dev, app: { ...dev.app, image: APP_IMAGE, host: "App.Example.com" } },
      "app.host",
    ],
    [
      "Grafana",
      {
        ...dev,
        observability: {
          ...dev.observability,
          grafana: { ...dev.observability.grafana, host: "grafana_example" },
        },
      },
      "observability.grafana.host",
    ],
    [
      "the Temporal UI",
      { ...dev, temporal: { ...dev.temporal, ui: { ...dev.temporal.ui, host: "-temporal" } } },
      "temporal.ui.host",
    ],
  ])("%s: a host that is no lowercase DNS name is refused at its key", (_, config, key) => {
    expect(componentProblems(config)).toEqual([
      { key, reason: expect.stringMatching(/must be a lowercase DNS name/) },
    ]);
  });

  it("the shipped dev stack's hosts pass", () => {
    expect(componentProblems(dev)).toEqual([]);
  });
});
