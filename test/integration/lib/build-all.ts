/**
 * `npx tsx test/integration/lib/build-all.ts`: builds (or finds cached) every real program the
 * integration tier runs, one after the other with progress, before vitest starts, so that a cold
 * build is visible and never runs inside a test's timeout. Add a tool by adding one line to TOOLS
 * with its spec from `test-tools.ts`.
 */
import { kubernetesProviderTool, pulumiCliTool } from "../../engine/lib/tools";
import { ensureAlertmanager } from "./alertmanager-build";
import { ensureGoTool } from "./go-tools";
import { ensureCollector } from "./otelcol-core";
import {
  alertmanagerTool,
  atlasEngineTool,
  controlPlaneTool,
  craneTool,
  kubeStateMetricsTool,
  gofakes3Tool,
  kwokTool,
  otelcolContribTool,
  otelcolCoreTool,
  postgresExporterTool,
  prometheusTool,
  registryTool,
  rcloneTool,
  temporalTool,
} from "./test-tools";

interface Tool {
  /** What the tests use it for, printed with the timing. */
  label: string;
  /** Builds unless cached; resolves to where the binaries are. */
  ensure: () => Promise<string>;
}

const TOOLS: Tool[] = [
  { label: "promtool + prometheus", ensure: () => ensureGoTool(prometheusTool()) },
  {
    label: "amtool + alertmanager (placeholder web UI)",
    ensure: () => ensureAlertmanager(alertmanagerTool()),
  },
  {
    label: "temporal-server + temporal-sql-tool",
    ensure: () => ensureGoTool(temporalTool()),
  },
  { label: "otelcol core (collector validate)", ensure: () => ensureCollector(otelcolCoreTool()) },
  {
    label: "otelcol-contrib (filelog offsets, k8sattributes)",
    ensure: () => ensureGoTool(otelcolContribTool()),
  },
  {
    label: "kube-apiserver + kube-controller-manager + etcd (e2e)",
    ensure: () => ensureGoTool(controlPlaneTool()),
  },
  { label: "kwok (e2e fake node)", ensure: () => ensureGoTool(kwokTool()) },
  {
    label: "kube-state-metrics (e2e, the alerts' Job and CronJob metrics)",
    ensure: () => ensureGoTool(kubeStateMetricsTool()),
  },
  { label: "atlas-engine (Atlas's sql/migrate)", ensure: () => ensureGoTool(atlasEngineTool()) },
  {
    label: "postgres_exporter (dashboard metric names)",
    ensure: () => ensureGoTool(postgresExporterTool()),
  },
  { label: "registry (image lock, loopback)", ensure: () => ensureGoTool(registryTool()) },
  { label: "crane (image lock pushes)", ensure: () => ensureGoTool(craneTool()) },
  { label: "rclone (the backup upload)", ensure: () => ensureGoTool(rcloneTool()) },
  { label: "gofakes3 (the backup test's S3 server)", ensure: () => ensureGoTool(gofakes3Tool()) },
  { label: "pulumi CLI (engine tier)", ensure: () => ensureGoTool(pulumiCliTool()) },
  {
    label: "pulumi-resource-kubernetes (engine tier)",
    ensure: () => ensureGoTool(kubernetesProviderTool()),
  },
];

async function main(): Promise<number> {
  const started = Date.now();
  // One at a time: the machines have two cores and each Go build uses them all.
  for (const tool of TOOLS) {
    const toolStarted = Date.now();
    const where = await tool.ensure();
    console.log(`${tool.label}: ${where} (${seconds(toolStarted)} s)`);
  }
  console.log(`integration tools ready in ${seconds(started)} s`);
  return 0;
}

function seconds(since: number): number {
  return Math.round((Date.now() - since) / 1000);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
