import * as fs from "node:fs";
import * as path from "node:path";

/** The repository's `charts/` folder: Grafana dashboards and Prometheus alert rules. */
export const CHARTS_DIR = path.resolve(__dirname, "..", "..", "charts");
/** Prometheus rule files (`*.yaml`; promtool unit tests live in `tests/` below it). */
export const DEFAULT_ALERTS_DIR = path.join(CHARTS_DIR, "alerts");
/** Grafana dashboard JSON models. */
export const DEFAULT_DASHBOARDS_DIR = path.join(CHARTS_DIR, "dashboards");

/**
 * The files of one directory (not its subdirectories) whose names end in `extension`, by name,
 * in name order. ConfigMap keys are file names, so names must be valid keys.
 */
export function readChartFiles(dir: string, extension: string): Record<string, string> {
  const names = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(extension))
    .map((entry) => entry.name)
    .sort();
  for (const name of names) {
    if (!/^[-._a-zA-Z0-9]+$/.test(name)) {
      throw new Error(
        `${path.join(dir, name)}: a chart file name must be a ConfigMap key ([-._a-zA-Z0-9])`,
      );
    }
  }
  return Object.fromEntries(
    names.map((name) => [name, fs.readFileSync(path.join(dir, name), "utf8")]),
  );
}

/** The alert rule files. */
export function alertRuleFiles(dir: string = DEFAULT_ALERTS_DIR): Record<string, string> {
  return readChartFiles(dir, ".yaml");
}

/** The dashboards. */
export function dashboardFiles(dir: string = DEFAULT_DASHBOARDS_DIR): Record<string, string> {
  return readChartFiles(dir, ".json");
}
