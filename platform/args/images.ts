import { resolveImages, type ResolvedImages } from "../../core/images";
import type { PlatformArgs } from "../../stack-config/types";

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
      clientImage: images.minioClient,
    },
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
    },
  } as const;
}

/** Each component's images for the stack: its overrides (`images.*`) pinned by its image lock. */
export type ComponentImages = ReturnType<typeof componentImages>;

/** The stack's images, by component. */
export function imagesForPlatform(
  args: Pick<PlatformArgs, "images" | "imageLock">,
): ComponentImages {
  return componentImages(resolveImages(args.images, args.imageLock));
}
