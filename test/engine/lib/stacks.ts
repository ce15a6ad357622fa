import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type { ControlPlane } from "../../e2e/lib/control-plane";
import { createStack, type EngineBinaries, type EngineStack, type ProgramOptions } from "./engine";

/**
 * The shipped stacks as the engine tier runs them: `Pulumi.<stack>.yaml` with the cluster's
 * kubeconfig, every credential given as a secret (the random provider cannot be had here, so a
 * stack that would generate one cannot run), and a given app image in place of a docker build
 * (nor can the docker provider be had).
 */

const ROOT = path.resolve(__dirname, "..", "..", "..");

const CREDENTIALS = [
  ...["superuser", "replication", "app", "app2", "temporal", "exporter", "backup"].map(
    (role) => `postgres.${role}`,
  ),
  "pgbouncer.stats",
  "dragonfly.password",
  ...["root", "app", "backups", "loki", "tempo"].map((user) => `objectStore.${user}`),
  "grafana.admin",
];

/** `pulumi config set --secret --path` values: 16+ URL-safe characters, one per credential. */
export const CREDENTIAL_SECRETS: Record<string, string> = Object.fromEntries(
  CREDENTIALS.map((key) => [
    `k3s-platform:credentials.${key}`,
    `Engine${key.replace(/\W/g, "")}0123456789abcdef`,
  ]),
);

/** The app image a stack that builds one (prod) deploys instead, by digest as prod requires. */
export const GIVEN_APP_DIGEST = `sha256:${"0".repeat(64)}`;

/**
 * The app image a stack that names none (dev, as shipped, runs without its app) deploys here, so
 * the engine tier sees the app roll out after its migrations. kwok pulls no image: any name runs.
 */
export const GIVEN_APP_IMAGE = "registry.example.com/acme/app:1.0.0";

/**
 * Config overrides: the cluster, a given app image in place of a docker build, and one where the
 * stack names no image.
 */
export function stackOverrides(stackName: string, kubeconfig: string): Record<string, unknown> {
  const file = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stackName}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  const result: Record<string, unknown> = { "k3s-platform:kubernetes": { kubeconfig } };
  const app = file.config["k3s-platform:app"] as Record<string, unknown> | undefined;
  if (app?.build === undefined && app?.image === undefined) {
    result["k3s-platform:app"] = { ...app, image: GIVEN_APP_IMAGE };
  } else if (app?.build !== undefined) {
    const { build, ...rest } = app;
    const { registry, repository } = build as { registry: { server: string }; repository: string };
    result["k3s-platform:app"] = {
      ...rest,
      image: `${registry.server}/${repository}@${GIVEN_APP_DIGEST}`,
    };
  }
  return result;
}

/** A shipped stack (`dev`, `prod`) on a control plane, ready for preview/up/destroy. */
export function shippedStack(
  stackName: string,
  cluster: ControlPlane,
  binaries: EngineBinaries,
  program?: ProgramOptions,
): Promise<EngineStack> {
  return createStack(
    stackName,
    `Pulumi.${stackName}.yaml`,
    stackOverrides(stackName, path.join(cluster.dir, "admin.kubeconfig")),
    { secrets: CREDENTIAL_SECRETS, binaries, program },
  );
}

/** Seconds, one decimal, for the printed figures. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
