/**
 * The metric names our Grafana dashboards and alert rules query, read with Prometheus's own PromQL
 * grammar (`@prometheus-io/lezer-promql`, the parser of Prometheus's web UI), and where each comes
 * from. A test holds every name against what the program that produces it really exposes.
 */
import { parser } from "@prometheus-io/lezer-promql";
import type { SyntaxNode } from "@lezer/common";
import { parse } from "yaml";
import { alertRuleFiles, dashboardFiles } from "../../../components/observability/charts";
import { DATASOURCE_UIDS } from "../../../components/observability/common";

export interface DashboardMetric {
  /** The metric name, e.g. `pg_up`. */
  name: string;
  /** `dashboard.json: panel title` or `rules.yaml: alert` of everything that queries it. */
  usedBy: string[];
}

interface Panel {
  title?: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

interface Dashboard {
  panels?: Panel[];
  templating?: { list?: { name: string; datasource?: { uid?: string }; query?: unknown }[] };
}

/**
 * Grafana's built-in interval variables stand where PromQL wants a duration; any other variable
 * of ours sits inside a quoted matcher value, which parses as it is.
 */
function withGrafanaIntervals(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, "5m");
}

/** Metric names a PromQL expression selects: `name{…}` and `{__name__="name"}`. */
export function promqlMetricNames(expr: string): string[] {
  const text = withGrafanaIntervals(expr);
  const tree = parser.parse(text);
  const names = new Set<string>();
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(text.slice(Math.max(0, node.from - 10), node.to + 10));
      if (node.name !== "VectorSelector") return;
      const identifier = node.node.getChild("Identifier");
      if (identifier) names.add(text.slice(identifier.from, identifier.to));
      const byName = nameMatcher(node.node, text);
      if (byName) names.add(byName);
    },
  });
  if (errors.length > 0) {
    throw new Error(`not valid PromQL near ${errors.map((e) => `"${e}"`).join(", ")}: ${expr}`);
  }
  return [...names];
}

/** The value of an exact `__name__="…"` matcher of a vector selector. */
function nameMatcher(selector: SyntaxNode, text: string): string | undefined {
  for (const matcher of selector.getChild("LabelMatchers")?.getChildren("UnquotedLabelMatcher") ??
    []) {
    const label = matcher.getChild("LabelName");
    const op = matcher.getChild("MatchOp");
    const value = matcher.getChild("StringLiteral");
    if (!label || !op || !value) continue;
    if (text.slice(label.from, label.to) !== "__name__" || text.slice(op.from, op.to) !== "=") {
      continue;
    }
    return JSON.parse(text.slice(value.from, value.to)) as string;
  }
  return undefined;
}

function isPrometheus(uid: string | undefined): boolean {
  return uid === undefined || uid === DATASOURCE_UIDS.prometheus;
}

/** Metric names by where they are used, merged and sorted. */
class MetricUses {
  private readonly uses = new Map<string, Set<string>>();

  add(expr: string, where: string): void {
    for (const name of promqlMetricNames(expr)) this.addUse(name, where);
  }

  addUse(name: string, where: string): void {
    this.uses.set(name, (this.uses.get(name) ?? new Set()).add(where));
  }

  list(): DashboardMetric[] {
    return [...this.uses]
      .map(([name, usedBy]) => ({ name, usedBy: [...usedBy].sort() }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** Every metric name the dashboards in `charts/dashboards` query through Prometheus. */
export function dashboardMetrics(files = dashboardFiles()): DashboardMetric[] {
  const uses = new MetricUses();
  for (const [file, json] of Object.entries(files)) {
    const dashboard = JSON.parse(json) as Dashboard;
    const walk = (panels: Panel[]) => {
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          const uid = target.datasource?.uid ?? panel.datasource?.uid;
          if (target.expr && isPrometheus(uid)) uses.add(target.expr, `${file}: ${panel.title}`);
        }
        walk(panel.panels ?? []);
      }
    };
    walk(dashboard.panels ?? []);
    for (const variable of dashboard.templating?.list ?? []) {
      const query = variable.query;
      if (typeof query !== "string" || !isPrometheus(variable.datasource?.uid)) continue;
      // label_values(<selector>, label) is Grafana's, not PromQL: its selector is.
      const selector = /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1] ?? query;
      uses.add(selector, `${file}: $${variable.name}`);
    }
  }
  return uses.list();
}

/** Every metric name the alert rules in `charts/alerts` query. */
export function alertRuleMetrics(files = alertRuleFiles()): DashboardMetric[] {
  const uses = new MetricUses();
  for (const [file, text] of Object.entries(files)) {
    const rules = parse(text) as { groups: { rules: { alert?: string; expr: string }[] }[] };
    for (const rule of rules.groups.flatMap((group) => group.rules)) {
      uses.add(rule.expr, `${file}: ${rule.alert ?? "recording rule"}`);
    }
  }
  return uses.list();
}

/** What the dashboards and the alert rules query, together. */
export function queriedMetrics(): DashboardMetric[] {
  const uses = new MetricUses();
  for (const { name, usedBy } of [...dashboardMetrics(), ...alertRuleMetrics()]) {
    for (const where of usedBy) uses.addUse(name, where);
  }
  return uses.list();
}

/** Metric names in a Prometheus text exposition (`/metrics`), histogram series included. */
export function exposedMetricNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)/.exec(line);
    if (match) names.add(match[1]);
  }
  return names;
}

/** Where each dashboard metric comes from; a name no source claims fails the test. */
export const METRIC_SOURCES = {
  postgresExporter: { claims: /^pg_/, checkedBy: "this file, on the real exporter" },
  temporal: {
    claims: /^(service_|persistence_|asyncmatch_|poll_|workflow_)/,
    checkedBy: "temporal.test.ts, on the real server",
  },
  kubelet: {
    claims: /^(container_|kubelet_)/,
    checkedBy: "this file, against our kubelet jobs' keep-lists (no kubelet runs here)",
  },
  prometheus: { claims: /^(up|ALERTS)$/, checkedBy: "none: Prometheus makes these itself" },
  kubeStateMetrics: {
    claims: /^kube_/,
    checkedBy: "test/e2e/kube-state-metrics.test.ts, on the real exporter and API server",
  },
  recorded: {
    claims: /^platform:/,
    checkedBy: "none: the stack records it (backup-schedule.yaml, observability-config.test.ts)",
  },
  pgbouncerExporter: {
    claims: /^pgbouncer_/,
    checkedBy: "none: the pgbouncer_exporter module is not served by the Go proxy here",
  },
  dragonfly: {
    claims: /^dragonfly_/,
    checkedBy: "none: Dragonfly is C++ and neither built nor packaged here",
  },
  tempo: {
    claims: /^traces_/,
    checkedBy: "none: Tempo's metrics generator; Tempo is not on the Go proxy",
  },
} as const;

export type MetricSource = keyof typeof METRIC_SOURCES;

/** The sources that claim a metric name: exactly one, for every name the dashboards query. */
export function sourceOf(name: string): MetricSource[] {
  return (Object.keys(METRIC_SOURCES) as MetricSource[]).filter((source) =>
    METRIC_SOURCES[source].claims.test(name),
  );
}
