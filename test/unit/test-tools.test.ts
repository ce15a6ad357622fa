import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { IMAGES } from "../../core/images";
import {
  collectorBuilderManifest,
  kubeStateMetricsTool,
  otelcolCoreTool,
  postgresExporterTool,
  prometheusModuleVersion,
  prometheusTool,
  rcloneTool,
  temporalModuleVersion,
  temporalTool,
} from "../integration/lib/test-tools";

describe("the integration tier's programs follow the image catalogue", () => {
  it("builds postgres_exporter at the catalogue's tag, which its wrapper module requires", () => {
    const tool = postgresExporterTool();
    expect(tool.version).toBe(IMAGES.postgresExporter.tag);
    expect(tool.wrapper?.goMod).toMatch(
      new RegExp(`postgres_exporter ${IMAGES.postgresExporter.tag.replaceAll(".", "\\.")}\\b`),
    );
  });

  it("builds kube-state-metrics at the catalogue's tag, the root package of its v2 module", () => {
    expect(kubeStateMetricsTool()).toEqual({
      name: "kube-state-metrics",
      version: IMAGES.kubeStateMetrics.tag,
      packages: ["k8s.io/kube-state-metrics/v2"],
    });
  });

  it("rclone is built at the release of the backup uploader's image", () => {
    const spec = rcloneTool();
    expect(spec.version).toBe(`v${IMAGES.rclone.tag}`);
    expect(spec.packages).toEqual(["github.com/rclone/rclone"]);
  });

  it("Prometheus 3.MM.P maps to Go module v0.3MM.P", () => {
    expect(prometheusModuleVersion("v3.16.0")).toBe("v0.316.0");
    expect(prometheusModuleVersion("v3.5.2")).toBe("v0.305.2");
    expect(prometheusModuleVersion("3.0.1")).toBe("v0.300.1");
  });

  it("refuses a Prometheus tag whose module version is unknown", () => {
    expect(() => prometheusModuleVersion("v2.53.0")).toThrow(/not an exact 3\.x release/);
    expect(() => prometheusModuleVersion("v3.16")).toThrow(/not an exact 3\.x release/);
    expect(() => prometheusModuleVersion("v3.16.0-rc.0")).toThrow(/not an exact 3\.x release/);
    expect(() => prometheusModuleVersion("latest")).toThrow(/not an exact 3\.x release/);
  });

  it("promtool and prometheus are built at the version of the Prometheus image", () => {
    const spec = prometheusTool();
    expect(spec.version).toBe(prometheusModuleVersion(IMAGES.prometheus.tag));
    expect(spec.packages).toEqual([
      "github.com/prometheus/prometheus/cmd/promtool",
      "github.com/prometheus/prometheus/cmd/prometheus",
    ]);
  });

  it("the core collector and its builder are at the collector image's release", () => {
    const spec = otelcolCoreTool();
    expect(spec.version).toBe(`v${IMAGES.otelCollector.tag}`);
    expect(spec.builder.version).toBe(spec.version);
    const manifest = parse(collectorBuilderManifest(spec, "/tmp/out")) as Record<
      string,
      { gomod: string }[]
    >;
    const gomods = [...manifest.receivers, ...manifest.processors, ...manifest.exporters];
    expect(gomods.length).toBeGreaterThan(0);
    for (const { gomod } of gomods) expect(gomod).toMatch(new RegExp(` ${spec.version}$`));
  });
});

describe("the Temporal programs the integration tier builds", () => {
  it("are go.temporal.io/server at the release the server and admin-tools images carry", () => {
    expect(temporalModuleVersion("1.32.1", "1.32.1")).toBe("v1.32.1");
    const spec = temporalTool();
    expect(spec.version).toBe(`v${IMAGES.temporalServer.tag}`);
    expect(spec.packages).toEqual([
      "go.temporal.io/server/cmd/server",
      "go.temporal.io/server/cmd/tools/sql",
    ]);
  });

  it("refuses a server and admin-tools pair of different releases", () => {
    expect(() => temporalModuleVersion("1.32.1", "1.32.2")).toThrow(
      /temporalServer \(1\.32\.1\) and temporalAdminTools \(1\.32\.2\) must be the same release/,
    );
  });

  it("refuses a tag that names no module version", () => {
    for (const tag of ["latest", "1.32", "v1.32.1", "1.32.1-tctl-1.18", "1.33.0-rc.1"]) {
      expect(() => temporalModuleVersion(tag, tag)).toThrow(/not a plain release/);
    }
  });
});
