import type { Manifest, RenderedResource } from "../../policy/model/render-model";
import { toPortableYaml } from "../../core/yaml";

/** A rendered Kubernetes object with the file name it is written to. */
export interface ManifestFile {
  file: string;
  manifest: Manifest;
  resource: RenderedResource;
}

/** Kubernetes objects the program registered (providers, components and others excluded). */
export function kubernetesResources(resources: RenderedResource[]): RenderedResource[] {
  return resources.filter(
    (resource) =>
      resource.custom && resource.type.startsWith("kubernetes:") && isManifest(resource.props),
  );
}

function isManifest(props: Record<string, unknown>): boolean {
  return typeof props.apiVersion === "string" && typeof props.kind === "string";
}

/** `Kind/namespace/name` (or `Kind/name` when cluster-scoped): how reports name an object. */
export function objectId(manifest: Manifest): string {
  const { namespace, name } = manifest.metadata;
  return namespace ? `${manifest.kind}/${namespace}/${name}` : `${manifest.kind}/${name}`;
}

/**
 * One file per object, `<kind>-<name>.yaml`; where two objects of a kind share a name (in two
 * namespaces), both get the namespace as well, so no file is ever overwritten.
 */
export function manifestFiles(resources: RenderedResource[]): ManifestFile[] {
  const objects = kubernetesResources(resources).map((resource) => ({
    resource,
    manifest: ordered(resource.props as unknown as Manifest),
  }));
  const baseName = ({ manifest }: { manifest: Manifest }) =>
    `${manifest.kind.toLowerCase()}-${manifest.metadata.name}`;
  const counts = new Map<string, number>();
  for (const object of objects)
    counts.set(baseName(object), (counts.get(baseName(object)) ?? 0) + 1);
  return objects
    .map((object) => {
      const base = baseName(object);
      const namespace = object.manifest.metadata.namespace;
      const file =
        (counts.get(base) ?? 0) > 1 && namespace
          ? `${object.manifest.kind.toLowerCase()}-${namespace}-${object.manifest.metadata.name}.yaml`
          : `${base}.yaml`;
      return { ...object, file };
    })
    .sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * The text of a manifest file: YAML without line folding, every string that kubectl's YAML 1.1
 * reader would take for another type (`off`, `0755`, `1:20`) quoted, so `kubectl apply -f` sends
 * the object the render shows.
 */
export function manifestYaml(manifest: Manifest): string {
  return toPortableYaml(manifest, { lineWidth: 0 });
}

/** apiVersion, kind and metadata first, as people write manifests. */
function ordered(manifest: Manifest): Manifest {
  const { apiVersion, kind, metadata, ...rest } = manifest;
  return { apiVersion, kind, metadata, ...rest };
}
