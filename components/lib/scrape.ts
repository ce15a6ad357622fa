/**
 * The one convention by which Prometheus finds what to scrape: pod-template annotations that its
 * Kubernetes pod discovery keeps (see the Observability component's scrape config).
 */
export const SCRAPE_ANNOTATIONS = {
  scrape: "prometheus.io/scrape",
  port: "prometheus.io/port",
  path: "prometheus.io/path",
} as const;

/** Annotations that make Prometheus scrape `port` at `path` on every pod of the template. */
export function scrapeAnnotations(port: number, path = "/metrics"): Record<string, string> {
  return {
    [SCRAPE_ANNOTATIONS.scrape]: "true",
    [SCRAPE_ANNOTATIONS.port]: String(port),
    [SCRAPE_ANNOTATIONS.path]: path,
  };
}
