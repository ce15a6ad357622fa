import { stringify } from "yaml";
import * as fs from "node:fs";
import * as path from "node:path";
import { IMAGES } from "../../../core/images";
import type { GoToolSpec, GoWrapperModule } from "./go-tools";

/**
 * The Go-built programs of the integration tier, each derived from the image catalogue so that the
 * programs the tests run are the versions the cluster runs: bump an image, and the tests rebuild.
 */

const PROMETHEUS_MODULE = "github.com/prometheus/prometheus";
const COLLECTOR_MODULE = "go.opentelemetry.io/collector";

/**
 * Go module version of a Prometheus 3 release: Prometheus tags its Go module `v0.3MM.P` for
 * release `3.MM.P` (the module predates v3 and never took a `/v3` path), e.g. v3.16.0 → v0.316.0.
 * Refuses anything that is not an exact 3.x release, since no other scheme is known to hold.
 */
export function prometheusModuleVersion(tag: string): string {
  const match = /^v?3\.(\d+)\.(\d+)$/.exec(tag);
  if (!match) {
    throw new Error(
      `Prometheus image tag "${tag}" is not an exact 3.x release (v3.MINOR.PATCH); ` +
        `the Go module version (v0.3MM.P) is only known for Prometheus 3`,
    );
  }
  const minor = Number(match[1]);
  if (minor > 99) {
    throw new Error(`Prometheus image tag "${tag}": minor ${minor} does not fit v0.3MM.P`);
  }
  return `v0.3${String(minor).padStart(2, "0")}.${Number(match[2])}`;
}

/** `promtool` and `prometheus` at the catalogue's Prometheus release. */
export function prometheusTool(): GoToolSpec {
  return {
    name: "prometheus",
    version: prometheusModuleVersion(IMAGES.prometheus.tag),
    packages: [`${PROMETHEUS_MODULE}/cmd/promtool`, `${PROMETHEUS_MODULE}/cmd/prometheus`],
  };
}

const ALERTMANAGER_MODULE = "github.com/prometheus/alertmanager";

/**
 * `amtool` and `alertmanager` at the catalogue's Alertmanager release: its image tag is the Go
 * module version (`v0.35.0`), so the config `amtool check-config` accepts is the one the pod reads.
 */
export function alertmanagerTool(): GoToolSpec {
  const version = IMAGES.alertmanager.tag;
  if (!/^v0\.\d+\.\d+$/.test(version)) {
    throw new Error(
      `Alertmanager image tag "${version}" is not a plain v0.MINOR.PATCH release, so it names no ` +
        `${ALERTMANAGER_MODULE} module version`,
    );
  }
  return {
    name: "alertmanager",
    version,
    packages: [`${ALERTMANAGER_MODULE}/cmd/amtool`, `${ALERTMANAGER_MODULE}/cmd/alertmanager`],
  };
}

const KUBE_STATE_METRICS_MODULE = "k8s.io/kube-state-metrics/v2";

/**
 * `kube-state-metrics` at the catalogue's release: its image tag is the Go module version
 * (`v2.20.0` of `k8s.io/kube-state-metrics/v2`, whose root package is the program), so the e2e
 * tier runs the exporter the Deployment runs, with the rendered arguments.
 */
export function kubeStateMetricsTool(): GoToolSpec {
  const version = IMAGES.kubeStateMetrics.tag;
  if (!/^v2\.\d+\.\d+$/.test(version)) {
    throw new Error(
      `kube-state-metrics image tag "${version}" is not a plain v2.MINOR.PATCH release, so it ` +
        `names no ${KUBE_STATE_METRICS_MODULE} module version`,
    );
  }
  return { name: "kube-state-metrics", version, packages: [KUBE_STATE_METRICS_MODULE] };
}

const POSTGRES_EXPORTER_MODULE = "github.com/prometheus-community/postgres_exporter";
const POSTGRES_EXPORTER_DIR = path.resolve(__dirname, "..", "postgres-exporter");

/**
 * `postgres_exporter` at the catalogue's release (its image tag is the Go module version): the
 * Postgres dashboard queries its metric names, so the tests run the real exporter. Built from the
 * committed wrapper module in `test/integration/postgres-exporter` (a `tool` line), because the
 * proxy refuses the module's version list, which `go install module@version` asks for. The
 * pgbouncer exporter's module is not served at all, so that one cannot be built here.
 */
export function postgresExporterTool(): GoToolSpec {
  const wrapper = wrapperModuleIn(POSTGRES_EXPORTER_DIR);
  const required = new RegExp(`^\\s*${POSTGRES_EXPORTER_MODULE} (\\S+)`, "m").exec(
    wrapper.goMod,
  )?.[1];
  const wanted = IMAGES.postgresExporter.tag;
  if (required !== wanted) {
    throw new Error(
      `test/integration/postgres-exporter/go.mod requires ${POSTGRES_EXPORTER_MODULE} ` +
        `${required ?? "(none)"}, but the image catalogue pins ${wanted}: run ` +
        `\`go get -tool ${POSTGRES_EXPORTER_MODULE}/cmd/postgres_exporter@${wanted}\` there`,
    );
  }
  return {
    name: "postgres_exporter",
    version: wanted,
    packages: [`${POSTGRES_EXPORTER_MODULE}/cmd/postgres_exporter`],
    wrapper,
  };
}

/**
 * The `go.temporal.io/server` module version of the catalogue's Temporal release: the
 * `temporalio/server` and `temporalio/admin-tools` tags are the server's release without the `v`
 * (`1.32.1` → `v1.32.1`). Refuses tags that differ, since the schema the admin tools install is
 * the one their own release ships, and anything but a plain release, which names no module
 * version the proxy serves.
 */
export function temporalModuleVersion(serverTag: string, adminToolsTag: string): string {
  if (serverTag !== adminToolsTag) {
    throw new Error(
      `temporalServer (${serverTag}) and temporalAdminTools (${adminToolsTag}) must be the same ` +
        `release: the schema the tools install is the one the server of their release expects`,
    );
  }
  if (!/^\d+\.\d+\.\d+$/.test(serverTag)) {
    throw new Error(
      `Temporal image tag "${serverTag}" is not a plain release (MAJOR.MINOR.PATCH), so it ` +
        `names no go.temporal.io/server module version`,
    );
  }
  return `v${serverTag}`;
}

/** `temporal-server` and `temporal-sql-tool` (binaries `server`, `sql`) at the catalogue's release. */
export function temporalTool(): GoToolSpec {
  return {
    name: "temporal",
    version: temporalModuleVersion(IMAGES.temporalServer.tag, IMAGES.temporalAdminTools.tag),
    packages: ["go.temporal.io/server/cmd/server", "go.temporal.io/server/cmd/tools/sql"],
  };
}

/**
 * A collector distribution built with the collector builder (`ocb`) from a manifest: the builder
 * itself is a Go tool, the distribution a set of component modules at one core version.
 */
export interface CollectorDistributionSpec {
  /** Cache name and binary name, e.g. `otelcol-core`. */
  name: string;
  /** Core release, e.g. `v0.165.0`; every component module below is taken at this version. */
  version: string;
  /** The builder, at the same release. */
  builder: GoToolSpec;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

/**
 * The OpenTelemetry Collector with only the core components our gateway config uses, at the
 * catalogue's collector release (the image is the contrib distribution of that same release).
 * The contrib components (`k8sattributes`, `filelog`, `health_check`, `file_storage`) are absent:
 * the tests that run the pipeline end to end remove them from a copy of the config and say so,
 * and `otelcol-contrib` below runs them where they are what is tested. `debug` stands in for a
 * backend that cannot run here (Tempo).
 */
export function otelcolCoreTool(): CollectorDistributionSpec {
  const version = `v${IMAGES.otelCollector.tag.replace(/^v/, "")}`;
  return {
    name: "otelcol-core",
    version,
    builder: { name: "otelcol-builder", version, packages: [`${COLLECTOR_MODULE}/cmd/builder`] },
    receivers: [`${COLLECTOR_MODULE}/receiver/otlpreceiver`],
    processors: [
      `${COLLECTOR_MODULE}/processor/batchprocessor`,
      `${COLLECTOR_MODULE}/processor/memorylimiterprocessor`,
    ],
    exporters: [
      `${COLLECTOR_MODULE}/exporter/otlpexporter`,
      `${COLLECTOR_MODULE}/exporter/otlphttpexporter`,
      `${COLLECTOR_MODULE}/exporter/debugexporter`,
    ],
  };
}

/**
 * The builder manifest for a distribution (the build recipe): every component at the spec's
 * version. Providers are left to the builder's defaults (env, file, http, https, yaml), which it
 * pins to its own release.
 */
export function collectorBuilderManifest(
  spec: CollectorDistributionSpec,
  outputPath: string,
): string {
  const gomods = (modules: string[]) =>
    modules.map((module) => ({ gomod: `${module} ${spec.version}` }));
  return stringify({
    dist: {
      name: spec.name,
      description: `${spec.name} for the k3s-platform integration tests`,
      output_path: outputPath,
    },
    receivers: gomods(spec.receivers),
    processors: gomods(spec.processors),
    exporters: gomods(spec.exporters),
  });
}

/** A committed wrapper module as the build takes it: go.mod, go.sum and its root `.go` files. */
export function wrapperModuleIn(dir: string): GoWrapperModule {
  const read = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");
  return {
    goMod: read("go.mod"),
    goSum: read("go.sum"),
    mainFiles: Object.fromEntries(
      fs
        .readdirSync(dir)
        .filter((file) => file.endsWith(".go"))
        .map((file) => [file, read(file)]),
    ),
  };
}

/** The e2e tier's wrapper module: kube-apiserver, kube-controller-manager and embedded etcd. */
export const CONTROL_PLANE_MODULE_DIR = path.resolve(__dirname, "..", "..", "e2e", "control-plane");

/**
 * The Kubernetes release the wrapper module requires (its go.mod is the one place it is pinned:
 * the staging `replace` lines must agree with it, and `go mod tidy` keeps go.sum in step).
 */
export function kubernetesVersion(goMod: string): {
  version: string;
  major: string;
  minor: string;
} {
  const match = /^\s*k8s\.io\/kubernetes (v(\d+)\.(\d+)\.\d+)\s*$/m.exec(goMod);
  if (!match)
    throw new Error("the control-plane go.mod requires no exact k8s.io/kubernetes version");
  const [, version, major, minor] = match;
  const staging = `v0.${minor}.${version.split(".")[2]}`;
  const stray = [...goMod.matchAll(/^\s*(k8s\.io\/\S+) => \S+ (\S+)\s*$/gm)].filter(
    ([, , replaced]) => replaced !== staging,
  );
  if (stray.length > 0) {
    throw new Error(
      `control-plane go.mod: ${stray.map(([, mod, v]) => `${mod} ${v}`).join(", ")} must be ` +
        `replaced with ${staging}, the staging release of Kubernetes ${version}`,
    );
  }
  return { version, major, minor };
}

/**
 * One `control-plane` binary (`control-plane etcd|kube-apiserver|kube-controller-manager`) built
 * from the committed wrapper module, reporting its real Kubernetes version: upstream sets these
 * variables from git at release time, which a module build cannot see.
 */
export function controlPlaneTool(): GoToolSpec {
  const wrapper = wrapperModuleIn(CONTROL_PLANE_MODULE_DIR);
  const { version, major, minor } = kubernetesVersion(wrapper.goMod);
  const pkg = "k8s.io/component-base/version";
  return {
    name: "control-plane",
    version,
    packages: ["."],
    wrapper: {
      ...wrapper,
      ldflags: [
        `-X ${pkg}.gitVersion=${version}`,
        `-X ${pkg}.gitMajor=${major}`,
        `-X ${pkg}.gitMinor=${minor}`,
        `-X ${pkg}.gitTreeState=clean`,
      ].join(" "),
    },
  };
}

/** kwok simulates the node: it binds pods and moves them through its stages (Running, Ready). */
export function kwokTool(): GoToolSpec {
  return { name: "kwok", version: "v0.8.0", packages: ["sigs.k8s.io/kwok/cmd/kwok"] };
}

/** Our program around Atlas's engine (ariga.io/atlas `sql/migrate`, `sql/postgres`). */
export const ATLAS_ENGINE_MODULE_DIR = path.resolve(__dirname, "..", "atlas");

/**
 * `atlas-engine` built from the committed module in `test/integration/atlas`: the Atlas CLI module
 * is not on the Go proxy, its engine is. Cached by the `ariga.io/atlas` version its go.mod pins
 * (and, as a wrapper, by a hash of its files).
 */
export function atlasEngineTool(): GoToolSpec {
  const wrapper = wrapperModuleIn(ATLAS_ENGINE_MODULE_DIR);
  const version = /^\s*ariga\.io\/atlas (v\S+)\s*$/m.exec(wrapper.goMod)?.[1];
  if (version === undefined) {
    throw new Error("test/integration/atlas/go.mod requires no exact ariga.io/atlas version");
  }
  return { name: "atlas-engine", version, packages: ["."], wrapper };
}

/** The collector distribution with the contrib components our configs use (see below). */
export const OTELCOL_CONTRIB_MODULE_DIR = path.resolve(__dirname, "..", "otelcol-contrib");

/**
 * `otelcol-contrib`: every component the rendered gateway and node-log configs name (otlp,
 * filelog, memory_limiter, batch, k8sattributes, the otlp exporters, health_check, file_storage),
 * built from a committed module because the collector builder's `go mod tidy` also resolves the
 * components' test dependencies, one of which the module proxy refuses. Its sources are the
 * builder's output for that component list; the core and contrib modules are at the catalogue's
 * release, except `k8sattributesprocessor`, which is at v1.3.1 (the contrib release before ours):
 * its v1.4.x imports a package of an unreleased `go.opentelemetry.io/otel` that the proxy refuses,
 * and the other modules build against the released otel v1.47.0 (the replace block of its go.mod).
 */
export function otelcolContribTool(): GoToolSpec {
  const wrapper = wrapperModuleIn(OTELCOL_CONTRIB_MODULE_DIR);
  const version = `v${IMAGES.otelCollector.tag.replace(/^v/, "")}`;
  const pinned = new RegExp(`otlpreceiver ${version.replace(/\./g, "\\.")}\\b`);
  if (!pinned.test(wrapper.goMod)) {
    throw new Error(
      `test/integration/otelcol-contrib/go.mod does not build the catalogue's collector ` +
        `${version}: regenerate it for that release`,
    );
  }
  return { name: "otelcol-contrib", version, packages: ["."], wrapper };
}

const CONTAINER_REGISTRY_MODULE = "github.com/google/go-containerregistry";
/** The go-containerregistry release whose registry and crane the image lock's test runs. */
const CONTAINER_REGISTRY_VERSION = "v0.22.1";

/**
 * go-containerregistry's in-memory registry (`registry`, the Distribution API v2 on one port, no
 * TLS), which the image lock's test resolves against on loopback. Not a catalogue image: the
 * platform never runs it.
 */
export function registryTool(): GoToolSpec {
  return {
    name: "registry",
    version: CONTAINER_REGISTRY_VERSION,
    packages: [`${CONTAINER_REGISTRY_MODULE}/cmd/registry`],
  };
}

/** `crane`, the registry client the test pushes images with and whose digests it trusts. */
export function craneTool(): GoToolSpec {
  return {
    name: "crane",
    version: CONTAINER_REGISTRY_VERSION,
    packages: [`${CONTAINER_REGISTRY_MODULE}/cmd/crane`],
  };
}

/**
 * rclone at the release of the catalogue's `rclone` image (tags are the release without its `v`):
 * the backup test uploads with the program the backup CronJob runs.
 */
export function rcloneTool(): GoToolSpec {
  const { tag } = IMAGES.rclone;
  if (!/^\d+\.\d+\.\d+$/.test(tag)) {
    throw new Error(
      `rclone image tag "${tag}" is not a plain MAJOR.MINOR.PATCH release, so it names no ` +
        `github.com/rclone/rclone module version`,
    );
  }
  return { name: "rclone", version: `v${tag}`, packages: ["github.com/rclone/rclone"] };
}

/**
 * gofakes3 (MIT), an S3 server with an in-memory backend, for the backup test's bucket on
 * loopback: the platform's own object store (MinIO) is AGPL and is not run here.
 */
export function gofakes3Tool(): GoToolSpec {
  return {
    name: "gofakes3",
    version: "v1.2.0",
    packages: ["github.com/johannesboyne/gofakes3/cmd/gofakes3"],
  };
}
