import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  ALERT_SEVERITIES,
  BACKUP_MAX_AGE_SERIES,
  BACKUP_RULE_FILE,
  NODE_DOWN_ALERT,
  alertRuleFiles,
  DATASOURCE_TYPES,
  DATASOURCE_UIDS,
  dashboardFiles,
  grafanaDatasources,
} from "../../components/observability";

/* The data in charts/: dashboards and alert rules, read as the stack ships them. */

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON/YAML

const ALERTS_DIR = path.resolve(__dirname, "../../charts/alerts");
const dashboards = Object.entries(dashboardFiles()).map(([file, text]) => ({
  file,
  model: JSON.parse(text) as Obj,
}));
const provisioned = new Map(
  (
    grafanaDatasources({ prometheusUrl: "p", tempoUrl: "t", lokiUrl: "l", alertmanagerUrl: "a" })
      .datasources as Obj[]
  ).map((ds) => [ds.uid as string, ds.type as string]),
);

/** Every `datasource` reference anywhere in a dashboard, with where it is. */
function datasourceRefs(node: unknown, where = "$"): { where: string; ref: unknown }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => datasourceRefs(item, `${where}[${i}]`));
  if (!node || typeof node !== "object") return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === "datasource"
      ? [{ where: `${where}.${key}`, ref: value }]
      : datasourceRefs(value, `${where}.${key}`),
  );
}

/** Panels, including those nested in rows. */
function panelsOf(model: Obj): Obj[] {
  return (model.panels as Obj[]).flatMap((panel) => [panel, ...((panel.panels as Obj[]) ?? [])]);
}

/**
 * The query language of a target, told apart by shape: TraceQL has a traceql query type; LogQL
 * starts from a stream selector (`{` not preceded by a metric name); PromQL selects by metric name.
 */
function languageOf(target: Obj): "traceql" | "logql" | "promql" | "unknown" {
  if (target.queryType === "traceql" && typeof target.query === "string") return "traceql";
  const expr = target.expr;
  if (typeof expr !== "string") return "unknown";
  const bareSelector = /(^|[\s(,])\{/.test(expr);
  const pipeline = /\|[=~]|\|\s*(json|logfmt|line_format|label_format|unwrap)\b/.test(expr);
  if (bareSelector || pipeline) return "logql";
  // PromQL: metric names and functions only, never TraceQL's dotted attributes.
  return /[a-zA-Z_:][a-zA-Z0-9_:]*/.test(expr) && !/\b(resource|span)\./.test(expr)
    ? "promql"
    : "unknown";
}

const LANGUAGE_OF_TYPE: Record<string, string> = {
  prometheus: "promql",
  loki: "logql",
  tempo: "traceql",
};

describe("dashboards", () => {
  it("ships the dashboards the platform promises", () => {
    expect(dashboards.map((d) => d.file).sort()).toEqual([
      "app-red.json",
      "dragonfly.json",
      "platform-overview.json",
      "postgres-pgbouncer.json",
      "temporal.json",
    ]);
  });

  it("every dashboard references only provisioned datasource UIDs", () => {
    for (const { file, model } of dashboards) {
      const refs = datasourceRefs(model);
      expect(refs.length, file).toBeGreaterThan(0);
      for (const { where, ref } of refs) {
        // A name or ${DS_…} input would resolve differently per Grafana; only fixed UIDs do not.
        expect(ref, `${file} ${where}`).toEqual({
          type: provisioned.get((ref as Obj).uid),
          uid: expect.stringMatching(new RegExp(`^(${[...provisioned.keys()].join("|")})$`)),
        });
      }
      expect(JSON.stringify(model), file).not.toMatch(/\$\{DS_|__inputs/);
    }
  });

  it("the provisioned UIDs are the fixed ones the dashboards are written against", () => {
    expect([...provisioned.entries()].sort()).toEqual(
      Object.values(DATASOURCE_UIDS)
        .map((uid) => [uid, DATASOURCE_TYPES[uid]])
        .sort(),
    );
  });

  it("each panel's query language matches its datasource type", () => {
    for (const { file, model } of dashboards) {
      for (const panel of panelsOf(model).filter((p) => p.type !== "row")) {
        const panelType = provisioned.get(panel.datasource.uid);
        expect(panel.targets?.length, `${file}: ${panel.title}`).toBeGreaterThan(0);
        for (const target of panel.targets as Obj[]) {
          const type = provisioned.get(target.datasource?.uid ?? panel.datasource.uid);
          expect(type, `${file}: ${panel.title}`).toBe(panelType);
          expect(
            languageOf(target),
            `${file}: ${panel.title}: ${target.expr ?? target.query}`,
          ).toBe(LANGUAGE_OF_TYPE[type as string]);
        }
      }
    }
  });

  it("template variables query Prometheus through its fixed UID", () => {
    for (const { file, model } of dashboards) {
      for (const variable of model.templating.list as Obj[]) {
        expect(variable.datasource, `${file}: $${variable.name}`).toEqual({
          type: "prometheus",
          uid: DATASOURCE_UIDS.prometheus,
        });
      }
    }
  });

  it("dashboards have unique UIDs, unique panel ids and are read-only", () => {
    const uids = dashboards.map((d) => d.model.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const { file, model } of dashboards) {
      const ids = panelsOf(model).map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      expect(model.editable, file).toBe(false);
    }
  });
});

const ruleFiles = Object.entries(alertRuleFiles()).map(([file, text]) => ({
  file,
  doc: parse(text) as Obj,
}));
const alerts = ruleFiles.flatMap(({ file, doc }) =>
  (doc.groups as Obj[]).flatMap((group) =>
    (group.rules as Obj[]).filter((rule) => rule.alert).map((rule) => ({ file, rule })),
  ),
);
const testFiles = fs
  .readdirSync(path.join(ALERTS_DIR, "tests"))
  .filter((name) => name.endsWith(".test.yaml"))
  .map((name) => ({
    name,
    doc: parse(fs.readFileSync(path.join(ALERTS_DIR, "tests", name), "utf8")) as Obj,
  }));

describe("alert rules", () => {
  it("cover what the platform promises to alert on", () => {
    expect(alerts.map(({ rule }) => rule.alert).sort()).toEqual(
      [
        "AppErrorBudgetBurn",
        "AppLatencyBudgetBurn",
        "DragonflyMemoryNearMax",
        "MigrationsJobFailed",
        "NodeDown",
        "PersistentVolumeFillingUp",
        "PersistentVolumeFillingUpFast",
        "PgBouncerClientsWaiting",
        "PodCrashLooping",
        "PostgresBackupFailed",
        "PostgresBackupTooOld",
        "PostgresConnectionsNearMax",
        "PostgresPrimaryChanged",
        "PostgresStandbyLagging",
        "PostgresWalArchivingFailing",
        "TargetDown",
        "TemporalPersistenceErrors",
        "TemporalScheduleToStartLatencyHigh",
      ].sort(),
    );
  });

  it("the backup alerts compare against the series the stack records from the schedule", () => {
    for (const name of ["PostgresBackupTooOld", "PostgresBackupFailed"]) {
      const found = alerts.find(({ rule }) => rule.alert === name);
      expect(found?.rule.expr, name).toContain(BACKUP_MAX_AGE_SERIES);
    }
    // The generated file is not among the charts' own: a chart file of that name would be refused.
    expect(ruleFiles.map(({ file }) => file)).not.toContain(BACKUP_RULE_FILE);
  });

  it("routes every severity through Alertmanager and has the alert its inhibit rule names", () => {
    for (const { rule } of alerts) {
      expect(ALERT_SEVERITIES as readonly string[], rule.alert).toContain(rule.labels?.severity);
    }
    expect(alerts.map(({ rule }) => rule.alert)).toContain(NODE_DOWN_ALERT);
  });

  it("every alert has a severity, a summary and a runbook-style description", () => {
    for (const { rule } of alerts) {
      expect(["critical", "warning", "info"], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations?.description, rule.alert).toMatch(/Check/);
      expect(rule.annotations?.description?.length, rule.alert).toBeGreaterThan(200);
    }
  });

  it("no rule is written for the control-plane parts K3s embeds", () => {
    for (const { rule } of alerts) {
      expect(rule.expr, rule.alert).not.toMatch(
        /apiserver|kube_scheduler|controller_manager|etcd|kubeproxy/,
      );
    }
  });

  it("every rule file is loaded by a promtool test file", () => {
    const loaded = testFiles.flatMap(({ doc }) =>
      (doc.rule_files as string[]).map((file) => path.basename(file)),
    );
    expect([...new Set(loaded)].sort()).toEqual(ruleFiles.map(({ file }) => file).sort());
  });

  it("every alert has a promtool test that fires it and one that expects silence", () => {
    const cases = testFiles.flatMap(({ doc }) =>
      (doc.tests as Obj[]).flatMap((test) => test.alert_rule_test as Obj[]),
    );
    for (const { rule } of alerts) {
      const own = cases.filter((c) => c.alertname === rule.alert);
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${rule.alert} fires`,
      ).toBe(true);
      expect(
        own.some((c) => c.exp_alerts.length === 0),
        `${rule.alert} stays silent`,
      ).toBe(true);
    }
  });
});
