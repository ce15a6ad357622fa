import { describe, expect, it } from "vitest";
import {
  dashboardMetrics,
  exposedMetricNames,
  promqlMetricNames,
} from "../integration/lib/dashboard-metrics";

describe("promqlMetricNames", () => {
  it("finds selectors inside functions, aggregations, binary operators and Grafana intervals", () => {
    expect(
      promqlMetricNames(
        'sum by (le) (rate(a_bucket{svc=~"$service"}[$__rate_interval])) / count(up == 0) or vector(0)',
      ).sort(),
    ).toEqual(["a_bucket", "up"]);
  });

  it("reads an exact __name__ matcher and ignores regex ones", () => {
    expect(promqlMetricNames('{__name__="pg_up", job="x"} + {__name__=~"pg_.*"}')).toEqual([
      "pg_up",
    ]);
  });

  it("refuses what is not PromQL, naming the expression", () => {
    expect(() => promqlMetricNames("sum(rate(x[5m])")).toThrow(/not valid PromQL.*sum\(rate/);
  });
});

describe("dashboardMetrics", () => {
  const dashboard = (panels: unknown[], variables: unknown[] = []) =>
    JSON.stringify({ panels, templating: { list: variables } });

  it("collects Prometheus queries from panels, nested rows and label_values variables, not Loki's", () => {
    const metrics = dashboardMetrics({
      "d.json": dashboard(
        [
          { title: "A", targets: [{ expr: "rate(x_total[5m])" }] },
          { title: "Row", panels: [{ title: "B", targets: [{ expr: "y" }] }] },
          {
            title: "Logs",
            datasource: { uid: "loki" },
            targets: [{ expr: '{k8s_namespace_name="platform"}' }],
          },
        ],
        [{ name: "ns", query: 'label_values(z{job="j"}, namespace)' }],
      ),
    });
    expect(metrics).toEqual([
      { name: "x_total", usedBy: ["d.json: A"] },
      { name: "y", usedBy: ["d.json: B"] },
      { name: "z", usedBy: ["d.json: $ns"] },
    ]);
  });
});

describe("exposedMetricNames", () => {
  it("reads sample lines of a text exposition, not its comments", () => {
    const names = exposedMetricNames(
      '# HELP pg_up up\n# TYPE pg_up gauge\npg_up 1\nlat_bucket{le="1"} 3\n',
    );
    expect([...names].sort()).toEqual(["lat_bucket", "pg_up"]);
  });
});
