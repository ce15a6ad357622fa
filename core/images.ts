import { pinImage, type ImageLock } from "../policy/model/image-lock";
import { formatImageReference, parseImageReference } from "../policy/model/image-reference";

/**
 * The image catalogue: every image the platform runs, with an exact tag, in one place. A
 * component takes its image from here unless the stack config overrides it (`images.<name>`), the
 * image lock adds each tag's digest, and the policy pack refuses anything that is not pinned.
 */

/** One image: where it lives, its exact tag, and the user its process runs as. */
export interface CatalogueImage {
  /** Registry and repository, e.g. `docker.io/library/postgres`. */
  repository: string;
  /** Exact, immutable-in-practice tag; never `latest`. */
  tag: string;
  /** UID of the image's own non-root user, which the pod's security context must match. */
  uid: number;
}

export const IMAGES = {
  /**
   * PostgreSQL 15 at the minor release the integration tests run (Debian 12's postgresql-15, from
   * bookworm-security); the integration tier fails when the two differ. Staying on 15: see the
   * README's "Why PostgreSQL 15".
   */
  postgres: { repository: "docker.io/library/postgres", tag: "15.20-bookworm", uid: 999 },
  /**
   * Spilo (Zalando): Patroni 4.0.4 and PostgreSQL 13–17 in one image, the HA members' image
   * (`postgres.ha`). The pods run its `patroni` with the platform's rendered config and
   * PostgreSQL 15 from `/usr/lib/postgresql/15/bin`, never Spilo's env-driven entrypoint; user
   * `postgres` (101). The `spilo-15` line stopped at 3.1-p1 (Patroni 3.1.2); this one keeps the
   * Patroni major the integration tests run (4.x).
   */
  spilo: { repository: "ghcr.io/zalando/spilo-17", tag: "4.0-p3", uid: 101 },
  postgresExporter: {
    repository: "quay.io/prometheuscommunity/postgres-exporter",
    tag: "v0.17.1",
    uid: 65534,
  },
  /** PgBouncer 1.24: has `max_prepared_statements` (added in 1.21). */
  pgbouncer: { repository: "docker.io/edoburu/pgbouncer", tag: "v1.24.1-p1", uid: 70 },
  pgbouncerExporter: {
    repository: "quay.io/prometheuscommunity/pgbouncer-exporter",
    tag: "v0.10.2",
    uid: 65534,
  },
  dragonfly: {
    repository: "docker.dragonflydb.io/dragonflydb/dragonfly",
    tag: "v1.36.0",
    uid: 999,
  },
  /** MinIO's community images stopped being published in late 2025: the stack config can replace it. */
  minio: { repository: "quay.io/minio/minio", tag: "RELEASE.2025-04-22T22-12-26Z", uid: 1000 },
  minioClient: { repository: "quay.io/minio/mc", tag: "RELEASE.2025-04-16T18-13-26Z", uid: 1000 },
  /**
   * rclone (MIT), the backup CronJob's uploader to any S3-compatible target; the integration tests
   * build `github.com/rclone/rclone` at this version. Alpine-based, with `/bin/sh` and `sort`; a
   * static binary that runs as any UID: the backup pod runs it as the Postgres image's user (999),
   * so both of its containers share the scratch folder.
   */
  rclone: { repository: "docker.io/rclone/rclone", tag: "1.68.2", uid: 999 },
  /**
   * Atlas CLI, community (Apache-2.0) build of the same `ariga.io/atlas` engine the integration
   * tests run. Entrypoint `atlas`; a static binary that runs as any UID, so the pod picks one.
   */
  atlas: { repository: "docker.io/arigaio/atlas", tag: "1.3.3-community", uid: 65532 },
  /**
   * OpenTelemetry Collector, contrib distribution (k8sattributes, filelog). 0.165.0 is the release
   * whose core modules the integration tests build with the collector builder.
   */
  otelCollector: {
    repository: "docker.io/otel/opentelemetry-collector-contrib",
    tag: "0.165.0",
    uid: 10001,
  },
  /** Tempo 3 in monolithic mode (no Kafka; the distributor feeds the live-store in process). */
  tempo: { repository: "docker.io/grafana/tempo", tag: "3.0.3", uid: 10001 },
  /** Loki 3 single binary: schema v13 + tsdb, OTLP ingest at `/otlp`. */
  loki: { repository: "docker.io/grafana/loki", tag: "3.7.8", uid: 10001 },
  /** Prometheus 3 (Go module `github.com/prometheus/prometheus` v0.316.0 for promtool). */
  prometheus: { repository: "docker.io/prom/prometheus", tag: "v3.16.0", uid: 65534 },
  grafana: { repository: "docker.io/grafana/grafana", tag: "13.1.3", uid: 472 },
  /**
   * Alertmanager (user `nobody`). Its tag is the Go module version of
   * `github.com/prometheus/alertmanager` whose `amtool` and `alertmanager` the integration tests
   * build, so `amtool check-config` judges the config with the release the cluster runs.
   */
  alertmanager: { repository: "docker.io/prom/alertmanager", tag: "v0.35.0", uid: 65534 },
  /**
   * kube-state-metrics (user `nobody`): Jobs' and CronJobs' state as metrics, for the backup and
   * migrations alerts. Its tag is the Go module version of `k8s.io/kube-state-metrics/v2`.
   */
  kubeStateMetrics: {
    repository: "registry.k8s.io/kube-state-metrics/kube-state-metrics",
    tag: "v2.20.0",
    uid: 65534,
  },
  /**
   * Temporal server (`temporal-server`, user `temporal` 1000). Its tag is the Go module version of
   * `go.temporal.io/server` the integration tests build; keep it equal to `temporalAdminTools`.
   */
  temporalServer: { repository: "docker.io/temporalio/server", tag: "1.32.1", uid: 1000 },
  /** `temporal-sql-tool` (schemas embedded) and the `temporal` CLI of the same release. */
  temporalAdminTools: { repository: "docker.io/temporalio/admin-tools", tag: "1.32.1", uid: 1000 },
  temporalUi: { repository: "docker.io/temporalio/ui", tag: "2.53.3", uid: 1000 },
  /**
   * Ollama runs as root with HOME=/root upstream and has no user of its own; we run it as this
   * UID with HOME and the models on its PVC (see components/ollama/).
   */
  ollama: { repository: "docker.io/ollama/ollama", tag: "0.32.6", uid: 65532 },
  /** curl and a busybox shell, for small HTTP Jobs (user `curl_user`, 100). */
  curl: { repository: "docker.io/curlimages/curl", tag: "8.11.1", uid: 100 },
} as const satisfies Record<string, CatalogueImage>;

export type ImageName = keyof typeof IMAGES;

/** Every catalogue name, in the catalogue's order. */
export const IMAGE_NAMES = Object.keys(IMAGES) as ImageName[];

/** References given in place of catalogue images (a mirror, another build), by catalogue name. */
export type ImageOverrides = Partial<Record<ImageName, string>>;

/** Every catalogue image as a stack deploys it. */
export type ResolvedImages = Readonly<Record<ImageName, string>>;

/**
 * The reference each catalogue image is deployed by: the stack's override or the catalogue's
 * tag, with the digest the image lock records for that tag (`repo:tag@sha256:…`), else the tag as
 * it is. The one place images are resolved: the Platform hands the result to the components.
 */
export function resolveImages(overrides: ImageOverrides, lock: ImageLock): ResolvedImages {
  return Object.fromEntries(
    IMAGE_NAMES.map((name) => [name, pinImage(overrides[name] ?? imageRef(name), lock)]),
  ) as Record<ImageName, string>;
}

/** `repository:tag` of a catalogue image. */
export function imageRef(name: ImageName): string {
  const image = IMAGES[name];
  return formatImageReference({ repository: image.repository, tag: image.tag });
}

/** The tag of an image reference (`repo:tag`, `repo:tag@sha256:…`), or undefined when it has none. */
export function tagOf(reference: string): string | undefined {
  return parseImageReference(reference).tag;
}

/** A PostgreSQL release: its major and, when the version names one, its minor. */
export interface PostgresRelease {
  major: number;
  minor?: number;
}

/**
 * The PostgreSQL release a version names: an image tag (`15.20-bookworm`, `16`) or a server's
 * `server_version` (`15.20 (Debian 15.20-0+deb12u1)`); undefined when it names none (`latest`,
 * `2.1.0`: PostgreSQL versions have one dot at most since 10).
 */
export function postgresRelease(version: string): PostgresRelease | undefined {
  const match = /^(\d+)(?:\.(\d+))?(?![.\d])/.exec(version);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: match[2] === undefined ? undefined : Number(match[2]) };
}

/** The PostgreSQL major of the catalogue's `postgres` image: the one the platform runs. */
export function cataloguePostgresMajor(): number {
  const release = postgresRelease(IMAGES.postgres.tag);
  if (!release) {
    throw new Error(`the catalogue's postgres tag "${IMAGES.postgres.tag}" names no release`);
  }
  return release.major;
}
