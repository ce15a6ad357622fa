import { DATASOURCE_UIDS, PORTS } from "./common";

/**
 * Grafana's provisioning files and `grafana.ini`, as pure functions of their inputs.
 *
 * Grafana expands `$VAR` and `${VAR}` in provisioning files from its environment before parsing
 * them, so every literal `$` of a query or link template must be written `$$`:
 * {@link escapeProvisioning} does that once for the whole document, and the builders write the
 * templates exactly as Grafana should see them.
 */

/** Where the dashboard JSON files are mounted, and what the file provider reads. */
export const DASHBOARDS_DIR = "/etc/grafana-dashboards";

/** Every `$` doubled, in every string of the value. */
export function escapeProvisioning<T>(value: T): T {
  if (typeof value === "string") return value.replace(/\$/g, "$$$$") as T;
  if (Array.isArray(value)) return value.map((item: unknown) => escapeProvisioning(item)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, escapeProvisioning(inner)]),
    ) as T;
  }
  return value;
}

/** Where Grafana finds each store. */
export interface GrafanaDatasourceArgs {
  prometheusUrl: string;
  tempoUrl: string;
  lokiUrl: string;
  /** Alertmanager's URL: its alerts and silences in Grafana. */
  alertmanagerUrl: string;
}

/** How far around a span the linked logs and metrics are searched. */
const SPAN_WINDOW = { spanStartTimeShift: "-5m", spanEndTimeShift: "5m" };

/**
 * Logs of the span's service that carry its trace ID. Loki's OTLP ingest indexes `service.name`
 * as `service_name` and keeps `trace_id` as structured metadata, which a label filter reads.
 */
export const TRACE_TO_LOGS_QUERY =
  '{service_name="${__span.tags["service.name"]}"} | trace_id="${__trace.traceId}"';

/**
 * The datasources, with the fixed UIDs the dashboards use (and Alertmanager's, to list and silence
 * alerts), linked both ways: a trace opens its
 * logs (Loki) and its service's RED metrics and service map (Prometheus, from Tempo's generator);
 * a log line with a `trace_id` opens the trace; an exemplar on a latency graph opens the trace.
 * Returned unescaped: the Grafana component escapes it with {@link escapeProvisioning}.
 */
export function grafanaDatasources(args: GrafanaDatasourceArgs): Record<string, unknown> {
  const common = { access: "proxy", orgId: 1, editable: false, version: 1 };
  return {
    apiVersion: 1,
    // Datasources removed from this file are removed from Grafana too.
    prune: true,
    datasources: [
      {
        ...common,
        name: "Prometheus",
        type: "prometheus",
        uid: DATASOURCE_UIDS.prometheus,
        url: args.prometheusUrl,
        isDefault: true,
        jsonData: {
          httpMethod: "POST",
          // Tempo's generator writes exemplars labelled `traceID`.
          exemplarTraceIdDestinations: [{ name: "traceID", datasourceUid: DATASOURCE_UIDS.tempo }],
        },
      },
      {
        ...common,
        name: "Tempo",
        type: "tempo",
        uid: DATASOURCE_UIDS.tempo,
        url: args.tempoUrl,
        jsonData: tempoJsonData(),
      },
      {
        ...common,
        name: "Loki",
        type: "loki",
        uid: DATASOURCE_UIDS.loki,
        url: args.lokiUrl,
        jsonData: lokiJsonData(),
      },
      {
        ...common,
        name: "Alertmanager",
        type: "alertmanager",
        uid: DATASOURCE_UIDS.alertmanager,
        url: args.alertmanagerUrl,
        // The stack's Alertmanager: Grafana lists and silences its alerts, and sends it none.
        jsonData: { implementation: "prometheus", handleGrafanaManagedAlerts: false },
      },
    ],
  };
}

/** Tempo's links: a trace to its logs, to its service's RED metrics, and the service map. */
function tempoJsonData(): Record<string, unknown> {
  const spanTags = [{ key: "service.name", value: "service" }];
  return {
    tracesToLogsV2: {
      datasourceUid: DATASOURCE_UIDS.loki,
      ...SPAN_WINDOW,
      filterByTraceID: false,
      filterBySpanID: false,
      customQuery: true,
      query: TRACE_TO_LOGS_QUERY,
    },
    tracesToMetrics: {
      datasourceUid: DATASOURCE_UIDS.prometheus,
      ...SPAN_WINDOW,
      tags: spanTags,
      queries: [
        {
          name: "Request rate",
          query: "sum(rate(traces_spanmetrics_calls_total{$__tags}[5m]))",
        },
        {
          name: "Error rate",
          query:
            'sum(rate(traces_spanmetrics_calls_total{$__tags, status_code="STATUS_CODE_ERROR"}[5m]))',
        },
        {
          name: "p99 latency",
          query:
            "histogram_quantile(0.99, sum by (le) (rate(traces_spanmetrics_latency_bucket{$__tags}[5m])))",
        },
      ],
    },
    serviceMap: { datasourceUid: DATASOURCE_UIDS.prometheus },
    nodeGraph: { enabled: true },
    lokiSearch: { datasourceUid: DATASOURCE_UIDS.loki },
    search: { hide: false },
    traceQuery: { timeShiftEnabled: true, ...SPAN_WINDOW },
  };
}

/** Loki's links: a log line to its trace, by structured metadata or by the text of the line. */
function lokiJsonData(): Record<string, unknown> {
  return {
    maxLines: 1000,
    derivedFields: [
      {
        // OTLP logs: the trace ID is the `trace_id` structured-metadata field.
        name: "TraceID",
        matcherType: "label",
        matcherRegex: "trace_id",
        datasourceUid: DATASOURCE_UIDS.tempo,
        url: "${__value.raw}",
        urlDisplayLabel: "View trace",
      },
      {
        // stdout logs that print it themselves, e.g. `trace_id=4bf92f35…` or JSON.
        name: "TraceID in line",
        matcherType: "regex",
        matcherRegex: '(?:trace_?[iI][dD])"?[=:]\\s*"?([0-9a-fA-F]{32})',
        datasourceUid: DATASOURCE_UIDS.tempo,
        url: "${__value.raw}",
        urlDisplayLabel: "View trace",
      },
    ],
  };
}

/** The file provider that loads every dashboard in {@link DASHBOARDS_DIR}, read-only. */
export function grafanaDashboardProviders(): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [
      {
        name: "k3s-platform",
        orgId: 1,
        folder: "Platform",
        type: "file",
        // The files are the truth: edits in the UI are refused rather than lost at the next up.
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 60,
        options: { path: DASHBOARDS_DIR, foldersFromFilesStructure: false },
      },
    ],
  };
}

/** What `grafana.ini` is built from. */
export interface GrafanaIniArgs {
  /** The URL users open, e.g. `https://grafana.example.com`. */
  rootUrl: string;
  /** Let visitors in without logging in, as Viewer. */
  anonymousViewer: boolean;
  /** Served over HTTPS: session cookies are marked Secure. */
  https: boolean;
  /** Login name of the admin; its password comes from the Secret through the environment. */
  adminUser: string;
}

/** Role of anonymous visitors when they are let in; never more. */
export const ANONYMOUS_ROLE = "Viewer";

/**
 * `grafana.ini`. No password in it: `GF_SECURITY_ADMIN_PASSWORD` comes from the Secret. Nothing
 * calls out of the cluster (update checks, news, plugin preinstalls): the network policies allow
 * no such egress, and an air-gapped site has none.
 */
export function grafanaIni(args: GrafanaIniArgs): string {
  const sections: Record<string, Record<string, string | number | boolean>> = {
    server: { http_port: PORTS.grafanaHttp, root_url: args.rootUrl },
    paths: { data: "/var/lib/grafana", plugins: "/var/lib/grafana/plugins" },
    log: { mode: "console" },
    analytics: {
      reporting_enabled: false,
      check_for_updates: false,
      check_for_plugin_updates: false,
      feedback_links_enabled: false,
    },
    news: { news_feed_enabled: false },
    // Grafana ≥ 12 installs and auto-updates plugins from grafana.com in the background; keep the
    // image's bundled ones (an update could even unregister a core datasource mid-run).
    plugins: {
      preinstall_disabled: true,
      preinstall_auto_update: false,
      public_key_retrieval_disabled: true,
    },
    security: {
      admin_user: args.adminUser,
      disable_gravatar: true,
      cookie_secure: args.https,
    },
    users: { allow_sign_up: false },
    "auth.anonymous": args.anonymousViewer
      ? { enabled: true, org_role: ANONYMOUS_ROLE }
      : { enabled: false },
  };
  return Object.entries(sections)
    .map(
      ([section, settings]) =>
        `[${section}]\n${Object.entries(settings)
          .map(([key, value]) => `${key} = ${value}`)
          .join("\n")}\n`,
    )
    .join("\n");
}
