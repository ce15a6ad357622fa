/**
 * The image catalogue: every image the platform runs, with an exact tag, in one place. A
 * component takes its image from here unless the stack config overrides it, and the policy pack
 * refuses anything that is not pinned.
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
  /** PostgreSQL 15, the major version the integration tests run (Debian's postgresql-15). */
  postgres: { repository: "docker.io/library/postgres", tag: "15.14-bookworm", uid: 999 },
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
} as const satisfies Record<string, CatalogueImage>;

export type ImageName = keyof typeof IMAGES;

/** `repository:tag` of a catalogue image. */
export function imageRef(name: ImageName): string {
  const image = IMAGES[name];
  return `${image.repository}:${image.tag}`;
}

/** The tag of an image reference (`repo:tag`, `repo:tag@sha256:…`), or undefined when it has none. */
export function tagOf(reference: string): string | undefined {
  const withoutDigest = reference.split("@")[0];
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  return colon >= 0 ? lastSegment.slice(colon + 1) : undefined;
}
