/**
 * Pieces of a rendered stack's observability configs, as the integration tests run them: a config
 * ConfigMap's file parsed, the Prometheus container's args, and `prometheus.yml` with its pod
 * paths rewritten to local files.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { RULES_DIR } from "../../../components/observability";
import { rewritePodPaths, type RenderedStack } from "./rendered-stack";

/** The service account mount Prometheus's kubelet jobs read in the pod. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** A config ConfigMap's one file, parsed. */
export function configFile(
  render: RenderedStack,
  configMap: string,
  key: string,
): Record<string, unknown> {
  return parse(render.configMap(configMap)[key]) as Record<string, unknown>;
}

/** The args of the rendered Prometheus container. */
export function prometheusArgs(render: RenderedStack): string[] {
  return render.container("StatefulSet", "prometheus", "prometheus").args ?? [];
}

/**
 * The stack's `prometheus.yml` and rule files written to `dir`, with the pod paths it names (rule
 * files, the service account token and CA) rewritten to local files and nothing else changed. The
 * CA is the system bundle: Prometheus parses it when it builds the kubelet jobs.
 */
export function localPrometheusConfig(
  render: RenderedStack,
  dir: string,
): { file: string; rewrites: string[] } {
  const rulesDir = path.join(dir, "rules");
  const accountDir = path.join(dir, "serviceaccount");
  fs.mkdirSync(rulesDir, { recursive: true });
  fs.mkdirSync(accountDir, { recursive: true });
  for (const [name, text] of Object.entries(render.configMap("prometheus-rules"))) {
    fs.writeFileSync(path.join(rulesDir, name), text);
  }
  fs.writeFileSync(path.join(accountDir, "token"), "not-a-real-token\n");
  fs.copyFileSync("/etc/ssl/certs/ca-certificates.crt", path.join(accountDir, "ca.crt"));
  const rendered = parse(render.configMap("prometheus-config")["prometheus.yml"]) as unknown;
  const { config, rewrites } = rewritePodPaths(rendered, {
    [RULES_DIR]: rulesDir,
    [SERVICE_ACCOUNT_DIR]: accountDir,
  });
  const file = path.join(dir, "prometheus.yml");
  fs.writeFileSync(file, stringify(config, { lineWidth: 0 }));
  return { file, rewrites };
}
