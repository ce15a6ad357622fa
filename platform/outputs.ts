import * as pulumi from "@pulumi/pulumi";
import type { Platform } from "./platform";

/**
 * The stack outputs, in one list: `index.ts` exports exactly these, the README's outputs table is
 * generated from it, and a render test holds the rendered `outputs.json` to it.
 */

/** One stack output: its name (`pulumi stack output <name>`), what it holds, whether it is secret. */
export interface StackOutputSpec {
  name: string;
  description: string;
  /** Shown only with `pulumi stack output --show-secrets`; redacted in renders. */
  secret: boolean;
}

export const STACK_OUTPUTS = [
  { name: "namespace", secret: false, description: "namespace every platform workload runs in" },
  { name: "appUrl", secret: false, description: "the app's public URL (`/api`, `/trpc`)" },
  { name: "grafanaUrl", secret: false, description: "Grafana's URL" },
  { name: "grafanaAdminUser", secret: false, description: "Grafana's admin user name" },
  {
    name: "grafanaAdminPassword",
    secret: true,
    description:
      "Grafana's admin password as first seeded (a later change in Grafana's UI is not reflected)",
  },
  { name: "temporalUiUrl", secret: false, description: "the Temporal Web UI's URL" },
  {
    name: "temporalAddress",
    secret: false,
    description: "Temporal's frontend (`host:7233`), for workers and `temporal` CLI port-forwards",
  },
  {
    name: "otlpEndpoint",
    secret: false,
    description:
      "the collector's OTLP/HTTP endpoint (4318), the app's `OTEL_EXPORTER_OTLP_ENDPOINT`",
  },
  {
    name: "databaseUrl",
    secret: true,
    description: "the app's `DATABASE_URL`, through PgBouncer",
  },
  {
    name: "wiringTable",
    secret: false,
    description: "the wiring table the NetworkPolicies enforce, as Markdown",
  },
] as const satisfies readonly StackOutputSpec[];

export type StackOutputName = (typeof STACK_OUTPUTS)[number]["name"];

/** Every stack output of a Platform, by name; the secret ones marked secret whatever their source. */
export function stackOutputs(platform: Platform): Record<StackOutputName, pulumi.Input<string>> {
  const outputs: Record<StackOutputName, pulumi.Input<string>> = {
    namespace: platform.namespace,
    appUrl: platform.appUrl,
    grafanaUrl: platform.grafanaUrl,
    grafanaAdminUser: platform.grafanaAdminUser,
    grafanaAdminPassword: platform.grafanaAdminPassword,
    temporalUiUrl: platform.temporalUiUrl,
    temporalAddress: platform.temporalAddress,
    otlpEndpoint: platform.otlpEndpoint,
    databaseUrl: platform.databaseUrl,
    wiringTable: platform.wiringTable,
  };
  for (const { name, secret } of STACK_OUTPUTS) {
    if (secret) outputs[name] = pulumi.secret(outputs[name]);
  }
  return outputs;
}
