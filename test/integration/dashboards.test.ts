/**
 * Every metric our Grafana dashboards and alert rules query, held against what produces it. postgres_exporter is
 * built at the catalogue's release and run as the rendered sidecar runs it (only the address
 * changed), against PostgreSQL 15 with our rendered config and init SQL, as the exporter role:
 * its `/metrics` is what Prometheus stores, since our pod scrape job keeps every name. Kubelet
 * names must survive our kubelet jobs' keep-lists. Temporal's are checked on the real server in
 * `temporal.test.ts`. The rest come from programs that cannot run here; each is listed with why.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  queriedMetrics,
  exposedMetricNames,
  METRIC_SOURCES as SOURCES,
  sourceOf,
  type MetricSource as Source,
} from "./lib/dashboard-metrics";
import { binaryPath, ensureGoTool } from "./lib/go-tools";
import { configFile } from "./lib/observability-render";
import { freePort } from "./lib/process";
import { startServer, type LoopbackServer } from "./lib/prometheus-server";
import { startRenderedPostgres, type RenderedPostgres } from "./lib/rendered-postgres";
import { renderStackToDir, type RenderedStack } from "./lib/rendered-stack";
import { postgresExporterTool } from "./lib/test-tools";

const BUILD_TIMEOUT = 30 * 60_000;

const metrics = queriedMetrics();
let rendered: RenderedStack | undefined;

beforeAll(async () => {
  rendered = await renderStackToDir("dev");
}, 120_000);

afterAll(() => rendered?.remove());

function render(): RenderedStack {
  if (!rendered) throw new Error("the dev stack was not rendered");
  return rendered;
}

describe("the metric names the dashboards and alerts query", () => {
  it("are each claimed by exactly one source", () => {
    const unclaimed = metrics.filter((m) => sourceOf(m.name).length !== 1);
    expect(metrics.length).toBeGreaterThan(30);
    expect(unclaimed).toEqual([]);
    for (const source of Object.keys(SOURCES) as Source[]) {
      const names = metrics.filter((m) => sourceOf(m.name)[0] === source).map((m) => m.name);
      console.log(`${source} (${SOURCES[source].checkedBy}): ${names.join(", ")}`);
    }
  });
});

describe("postgres_exporter at the pinned release, run as our sidecar, on our rendered Postgres", () => {
  let db: RenderedPostgres | undefined;
  let exporter: LoopbackServer | undefined;

  beforeAll(async () => {
    await ensureGoTool(postgresExporterTool());
    db = await startRenderedPostgres("dev");
    const container = render().container("StatefulSet", "postgres", "exporter");
    const uri = (container.env ?? []).find((e) => e.name === "DATA_SOURCE_URI")?.value ?? "";
    const local = uri.replace(/^[^/]+/, `${db.pg.host}:${db.pg.port}`);
    console.log(`exporter: DATA_SOURCE_URI ${uri} -> ${local}; the exporter role's credentials`);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    exporter = await startServer(
      binaryPath(postgresExporterTool(), "postgres_exporter"),
      [...(container.args ?? []), `--web.listen-address=127.0.0.1:${port}`],
      url,
      `${url}/metrics`,
      {
        DATA_SOURCE_URI: local,
        DATA_SOURCE_USER: db.roles.exporter.username,
        DATA_SOURCE_PASS: db.roles.exporter.password,
      },
    );
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await exporter?.stop();
    await db?.stop();
  });

  it("exposes every pg_ metric the dashboards query, connected as the exporter role", async () => {
    if (!exporter) throw new Error("the exporter did not start");
    const exposition = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(exposition, exporter.log()).toMatch(/^pg_up 1$/m);
    const exposed = exposedMetricNames(exposition);
    const queried = metrics.filter((m) => sourceOf(m.name)[0] === "postgresExporter");
    expect(queried.length).toBeGreaterThan(5);
    const missing = queried.filter((m) => !exposed.has(m.name));
    expect(missing).toEqual([]);
  });
});

describe("the dashboards' kubelet and cAdvisor metrics", () => {
  it("survive the keep-lists of our kubelet scrape jobs", () => {
    const config = configFile(render(), "prometheus-config", "prometheus.yml") as {
      scrape_configs: {
        job_name: string;
        metric_relabel_configs?: { action?: string; source_labels?: string[]; regex?: string }[];
      }[];
    };
    const keepLists = config.scrape_configs.flatMap((job) =>
      (job.metric_relabel_configs ?? [])
        .filter((r) => r.action === "keep" && r.source_labels?.join() === "__name__")
        // Prometheus anchors relabel regexes at both ends.
        .map((r) => new RegExp(`^(?:${r.regex})$`)),
    );
    expect(keepLists.length).toBeGreaterThan(0);
    const dropped = metrics
      .filter((m) => sourceOf(m.name)[0] === "kubelet")
      .filter((m) => !keepLists.some((keep) => keep.test(m.name)));
    expect(dropped).toEqual([]);
  });
});
