import { tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { hashedName } from "../lib/hash";
import type { ResourceSpec } from "../lib/resources";
import {
  ALL_IN_ONE_REPLICAS,
  TEMPORAL_DEFAULTS,
  type TemporalArgs,
  type TemporalIdentities,
  type TemporalImages,
} from "./args";
import { TEMPORAL_SERVICES, type TemporalServiceName } from "./config";
import type { NamespaceRegistration, SchemaTarget } from "./jobs";

/**
 * Pure builders of how the component is laid out: its server Deployments, the identities of its
 * workloads and the names of its Jobs. The workloads themselves are built in server.ts and
 * jobs.ts, the server's config files in config.ts.
 */

/** One server Deployment: what its pods run, and how many of them. */
export interface ServerPart {
  /** Its Deployment's name after the component's: `server` (all-in-one) or the service. */
  suffix: string;
  identity: WorkloadIdentity;
  /** The services its pods run. */
  services: TemporalServiceName[];
  replicas: number;
  resources: ResourceSpec;
}

/** The identity of server pods running one component, as a function of that component. */
export function serverIdentity(
  instance: string,
  serverImage: string,
): (component: string) => WorkloadIdentity {
  const version = tagOf(serverImage);
  return (component) => ({ name: "temporal-server", component, instance, version });
}

/**
 * The server Deployments: one per service when `separateServices` (each sized by `replicas` and
 * `serviceResources`), else one running all four with {@link ALL_IN_ONE_REPLICAS} pod and
 * `resources`, whatever `replicas` says.
 */
export function serverLayout(
  args: Pick<TemporalArgs, "separateServices" | "replicas" | "resources" | "serviceResources">,
  identity: (component: string) => WorkloadIdentity,
): ServerPart[] {
  if (!(args.separateServices ?? TEMPORAL_DEFAULTS.separateServices)) {
    return [
      {
        suffix: "server",
        identity: identity("temporal-server"),
        services: [...TEMPORAL_SERVICES],
        replicas: ALL_IN_ONE_REPLICAS,
        resources: args.resources,
      },
    ];
  }
  return TEMPORAL_SERVICES.map((service) => ({
    suffix: service,
    identity: identity(`temporal-${service}`),
    services: [service],
    replicas: args.replicas?.[service] ?? TEMPORAL_DEFAULTS.replicas,
    resources: args.serviceResources?.[service] ?? args.resources,
  }));
}

/** Where the frontend runs in a layout: the part the frontend Service selects. */
export function frontendIndex(layout: readonly ServerPart[]): number {
  const index = layout.findIndex((part) => part.services.includes("frontend"));
  // Every layout above runs the frontend; this guards the builder, not the args.
  if (index < 0) throw new Error("no server Deployment runs the Temporal frontend");
  return index;
}

/** Labels of every workload, for the component's output and the network policies. */
export function temporalIdentities(
  instance: string,
  images: TemporalImages,
  layout: readonly ServerPart[],
): TemporalIdentities {
  const tools = (component: string): WorkloadIdentity => ({
    name: "temporal-admin-tools",
    component,
    instance,
    version: tagOf(images.adminTools),
  });
  return {
    server: layout.map((part) => part.identity),
    frontend: layout[frontendIndex(layout)].identity,
    ui: { name: "temporal-ui", component: "temporal-ui", instance, version: tagOf(images.ui) },
    schemaJob: tools("temporal-schema"),
    namespaceJob: tools("temporal-namespace"),
  };
}

/**
 * The schema Job's name, hashed over everything that shapes it, so a new release is a new Job.
 * The host is hashed only when already known; it is in the Job's script too, so even a host only
 * known later replaces the Job when it changes.
 */
export function schemaJobName(
  name: string,
  adminToolsImage: string,
  target: Omit<SchemaTarget, "host"> & { host: unknown },
): string {
  return hashedName(`${name}-schema`, {
    image: adminToolsImage,
    host: typeof target.host === "string" ? target.host : undefined,
    port: target.port,
    database: target.database,
    visibilityDatabase: target.visibilityDatabase,
  });
}

/** The namespace Job's name, hashed over the registration and where it is sent. */
export function namespaceJobName(
  name: string,
  adminToolsImage: string,
  registration: NamespaceRegistration,
): string {
  return hashedName(`${name}-namespace`, {
    image: adminToolsImage,
    registration,
    frontend: `${name}-frontend`,
  });
}
