import type { DragonflyArgs } from "../../components/dragonfly/args";
import type { MigrationsArgs } from "../../components/migrations/args";
import type { ObjectStoreArgs } from "../../components/object-store/args";
import type { ObservabilityArgs } from "../../components/observability/args";
import type { OllamaArgs } from "../../components/ollama/args";
import type { PgBouncerArgs } from "../../components/pgbouncer/args";
import type { PostgresArgs } from "../../components/postgres/args";
import type { PostgresHaArgs } from "../../components/postgres/ha-args";
import type { TemporalArgs } from "../../components/temporal/args";
import { resolveImages, type ResolvedImages } from "../../core/images";
import type { PlatformArgs } from "../../stack-config/types";

/** The observability workloads that take an image of their own. */
type ObservedWorkload =
  | "collector"
  | "nodeLogs"
  | "tempo"
  | "loki"
  | "prometheus"
  | "grafana"
  | "alertmanager"
  | "kubeStateMetrics";

/** The image args of each component, by the name the table gives it. */
type ImageArgs = {
  objectStore: Pick<ObjectStoreArgs, "image" | "clientImage">;
  postgres: Pick<PostgresArgs, "image" | "exporterImage" | "uploaderImage">;
  postgresHa: Pick<PostgresHaArgs, "image">;
  pgbouncer: Pick<PgBouncerArgs, "image" | "exporterImage">;
  dragonfly: Pick<DragonflyArgs, "image">;
  migrations: Pick<MigrationsArgs, "image">;
  ollama: Pick<OllamaArgs, "image" | "pullImage">;
  temporal: Pick<TemporalArgs, "images">;
  observability: {
    [K in ObservedWorkload]-?: Pick<NonNullable<ObservabilityArgs[K]>, "image">;
  };
};

/**
 * Which catalogue image each component argument takes: the one table from the catalogue's names
 * to the components' image args. The Platform resolves the stack's images once (overrides, then
 * the lock) and spreads each component's part of this into its args.
 */
export function componentImages(images: ResolvedImages) {
  return {
    objectStore: { image: images.minio, clientImage: images.minioClient },
    postgres: {
      image: images.postgres,
      exporterImage: images.postgresExporter,
      uploaderImage: images.rclone,
    },
    postgresHa: { image: images.spilo },
    pgbouncer: { image: images.pgbouncer, exporterImage: images.pgbouncerExporter },
    dragonfly: { image: images.dragonfly },
    migrations: { image: images.atlas },
    ollama: { image: images.ollama, pullImage: images.curl },
    temporal: {
      images: {
        server: images.temporalServer,
        adminTools: images.temporalAdminTools,
        ui: images.temporalUi,
      },
    },
    observability: {
      collector: { image: images.otelCollector },
      nodeLogs: { image: images.otelCollector },
      tempo: { image: images.tempo },
      loki: { image: images.loki },
      prometheus: { image: images.prometheus },
      grafana: { image: images.grafana },
      alertmanager: { image: images.alertmanager },
      kubeStateMetrics: { image: images.kubeStateMetrics },
    },
    // Checked against the components' args: a renamed image arg fails here, not silently.
  } satisfies ImageArgs;
}

/** Each component's images for the stack: its overrides (`images.*`) pinned by its image lock. */
export type ComponentImages = ReturnType<typeof componentImages>;

/** The stack's images, by component. */
export function imagesForPlatform(
  args: Pick<PlatformArgs, "images" | "imageLock">,
): ComponentImages {
  return componentImages(resolveImages(args.images, args.imageLock));
}
