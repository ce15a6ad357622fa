import type { ControlPlane } from "../../e2e/lib/control-plane";
import type { EngineStack } from "./engine";

/**
 * The stack's state as the engine keeps it (`pulumi stack export`), read for what a test checks on
 * the cluster: each Kubernetes resource with the object it created, as the provider recorded it.
 */

export interface StateResource {
  urn: string;
  type: string;
  protect: boolean;
  retainOnDelete: boolean;
  /** The Kubernetes object, for a Kubernetes resource (from its outputs). */
  object?: { apiVersion: string; kind: string; name: string; namespace?: string };
}

interface ExportedResource {
  urn: string;
  type: string;
  custom?: boolean;
  protect?: boolean;
  retainOnDelete?: boolean;
  outputs?: {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; namespace?: string };
  };
}

export async function stateResources(stack: EngineStack): Promise<StateResource[]> {
  const exported = await stack.stack.exportStack();
  const resources = ((exported.deployment as { resources?: ExportedResource[] }).resources ??
    []) as ExportedResource[];
  return resources.map((resource) => {
    const { apiVersion, kind, metadata } = resource.outputs ?? {};
    const isObject =
      resource.custom === true &&
      resource.type.startsWith("kubernetes:") &&
      typeof apiVersion === "string" &&
      typeof kind === "string" &&
      typeof metadata?.name === "string";
    return {
      urn: resource.urn,
      type: resource.type,
      protect: resource.protect === true,
      retainOnDelete: resource.retainOnDelete === true,
      ...(isObject
        ? {
            object: {
              apiVersion: apiVersion as string,
              kind: kind as string,
              name: metadata?.name as string,
              ...(metadata?.namespace ? { namespace: metadata.namespace } : {}),
            },
          }
        : {}),
    };
  });
}

/** `Kind/namespace/name` of a state resource's object. */
export function objectLabel(resource: StateResource): string {
  const object = resource.object;
  if (!object) return resource.urn;
  return [object.kind, object.namespace, object.name].filter(Boolean).join("/");
}

/** The HTTP status of GET on the resource's object: 200 there, 404 gone. */
export async function liveStatus(cluster: ControlPlane, resource: StateResource): Promise<number> {
  const object = resource.object;
  if (!object) throw new Error(`${resource.urn} is not a Kubernetes object`);
  const objectPath = await cluster.client.objectPath(object.apiVersion, object.kind, object);
  return (await cluster.client.request("GET", objectPath)).status;
}
