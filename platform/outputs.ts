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
  /** Exported only while the app is on (the stack sets `app.image` or `app.build`). */
  appOnly?: boolean;
}

export const STACK_OUTPUTS = [
  { name: "namespace", secret: false, description: "namespace every platform workload runs in" },
  {
    name: "appStatus",
    secret: false,
    description: "`on`, or while the stack names no app image, `off:` and how to turn the app on",
  },
  {
    name: "appUrl",
    secret: false,
    appOnly: true,
    description: "the app's public URL (`/api`, `/trpc`)",
  },
  {
    name: "appImage",
    secret: false,
    appOnly: true,
    description: "the image reference the app's pods run (a build's repo digest)",
  },
  { name: "grafanaUrl", secret: false, description: "Grafana's URL" },
  { name: "grafanaAdminUser", secret: false, description: "Grafana's admin user name" },
  {
    name: "grafanaAdminPassword",
    secret: true,
    description:
      "Grafana's admin password as first seeded (a later change in Grafana's UI is not reflected)",
  },
  {
    name: "temporalUiUrl",
    secret: false,
    description:
      "the Temporal Web UI's URL; without its Ingress (prod's default) the port-forward address",
  },
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

/** The outputs a stack exports: all but the app's own while the app is off. */
export function exportedOutputs(appOn: boolean): StackOutputSpec[] {
  return STACK_OUTPUTS.filter((output: StackOutputSpec) => appOn || !output.appOnly);
}

/**
 * Every stack output of a Platform, by name; the secret ones marked secret whatever their source.
 * The app's own are undefined while it is off.
 */
export function stackOutputs(
  platform: Platform,
): Record<StackOutputName, pulumi.Input<string> | undefined> {
  const outputs: Record<StackOutputName, pulumi.Input<string> | undefined> = {
    namespace: platform.namespace,
    appStatus: platform.appStatus,
    appUrl: platform.appUrl,
    appImage: platform.appImage,
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
    const value = outputs[name];
    if (secret && value !== undefined) outputs[name] = pulumi.secret(value);
  }
  return outputs;
}

/** The outputs that have a value: what the stack exports. */
export function presentOutputs(
  outputs: Record<StackOutputName, pulumi.Input<string> | undefined>,
): Partial<Record<StackOutputName, pulumi.Input<string>>> {
  return Object.fromEntries(Object.entries(outputs).filter(([, value]) => value !== undefined));
}
