import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation } from "./hash";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { scrapeAnnotations } from "./scrape";
import {
  container,
  emptyDir,
  objectMeta,
  podTemplate,
  type ContainerArgs,
  type PodArgs,
} from "./workload";

/**
 * The parts every StatefulSet-backed component repeats: its volume claim, its headless and client
 * Services, the single-replica StatefulSet itself, and the resource options that keep its data in
 * prod.
 */

/** One port of a Service, reaching the container port of the same name. */
export interface ServicePortSpec {
  /** Port name; also the container port name it targets. */
  name: string;
  /** Port number the Service exposes. */
  port: number;
}

/**
 * A ReadWriteOnce volumeClaimTemplate. Its labels are the selector subset only: the template is
 * immutable, so a label that changes with the image version would force a StatefulSet replacement.
 */
export function volumeClaimTemplate(
  name: string,
  identity: WorkloadIdentity,
  storage: string,
  storageClassName?: pulumi.Input<string>,
): k8s.types.input.core.v1.PersistentVolumeClaim {
  return {
    metadata: { name, labels: selectorFor(identity) },
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(storageClassName ? { storageClassName } : {}),
      resources: { requests: { storage } },
    },
  };
}

/**
 * A Service selecting the workload's pods. The headless variant is the StatefulSet's
 * `serviceName`: it publishes not-ready pods too, so a pod's own DNS name resolves while it starts.
 */
export function serviceArgs(
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
  ports: ServicePortSpec[],
  options: { headless?: boolean } = {},
): k8s.core.v1.ServiceArgs {
  return {
    metadata: { name, namespace, labels: labelsFor(identity) },
    spec: {
      type: "ClusterIP",
      ...(options.headless ? { clusterIP: "None", publishNotReadyAddresses: true } : {}),
      selector: selectorFor(identity),
      ports: ports.map((port) => ({
        name: port.name,
        port: port.port,
        targetPort: port.name,
        protocol: "TCP",
      })),
    },
  };
}

/**
 * Resource options of a resource that holds data: in prod it is protected from `pulumi destroy`
 * and kept in the cluster when Pulumi stops managing it.
 */
export function keepData(
  protect: boolean,
): Pick<pulumi.CustomResourceOptions, "protect" | "retainOnDelete"> {
  return protect ? { protect: true, retainOnDelete: true } : {};
}

/**
 * PVCs outlive their StatefulSet's deletion and scale-down (the Kubernetes default, stated so a
 * reader does not have to know it).
 */
export const RETAIN_CLAIMS: k8s.types.input.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy =
  { whenDeleted: "Retain", whenScaled: "Retain" };

/** The Service's fully qualified in-cluster DNS name, which resolves from any namespace. */
export function serviceHost(
  serviceName: string,
  namespace: pulumi.Input<string>,
  clusterDomain = "cluster.local",
): pulumi.Output<string> {
  // Built from the names, never from the Service's outputs: a workload whose Secret or config
  // holds its own host would otherwise depend on its client Service, which the provider awaits
  // until that very workload's pods are ready, and `pulumi up` would hang until it times out.
  return pulumi.interpolate`${serviceName}.${namespace}.svc.${clusterDomain}`;
}

/**
 * The headless Service that governs a StatefulSet (`${name}-headless`) and the client Service
 * (`name`), over the same ports. Created in that order, as children of `parent`.
 */
export function statefulServices(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
  ports: ServicePortSpec[],
): { headless: k8s.core.v1.Service; client: k8s.core.v1.Service } {
  const headless = new k8s.core.v1.Service(
    `${name}-headless`,
    serviceArgs(`${name}-headless`, namespace, identity, ports, { headless: true }),
    { parent },
  );
  const client = new k8s.core.v1.Service(name, serviceArgs(name, namespace, identity, ports), {
    parent,
  });
  return { headless, client };
}

/**
 * What every builder of a single-replica stateful workload takes, whatever runs in it; the
 * builders of Dragonfly, the object store and the observability stores add their own fields.
 */
export interface StatefulWorkloadBase {
  /** Name of the StatefulSet. */
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  /** The headless Service that governs the StatefulSet (see {@link statefulServices}). */
  serviceName: pulumi.Input<string>;
  /** Size of the `data` volume claim. */
  storageSize: string;
  /** StorageClass of the `data` volume claim. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /**
   * What the pod reads only at start (ConfigMap data, Secret content): hashed into a pod-template
   * annotation, so a change rolls the pod.
   */
  configHashOf: pulumi.Input<unknown>[];
}

/** What {@link statefulWorkload} builds from. */
export interface StatefulWorkloadSpec extends StatefulWorkloadBase {
  /**
   * The one container, named after the workload (`identity.name`). Its own volume mounts come
   * first, then `data` at {@link dataDir} and `/tmp`.
   */
  container: Omit<ContainerArgs, "name">;
  /** Where the `data` volume claim is mounted. */
  dataDir: string;
  /** The pod besides its container; its own volumes come first, then `tmp`. */
  pod: Omit<PodArgs, "containers">;
  /** Where Prometheus scrapes the pod. @default not scraped */
  scrape?: { port: number; path?: string };
}

/**
 * A single-replica StatefulSet with one container, its data on a `data` volume claim and a small
 * `/tmp` emptyDir: the root filesystem is read-only, so a stray temp file needs somewhere to go.
 */
export function statefulWorkload(spec: StatefulWorkloadSpec): k8s.apps.v1.StatefulSetArgs {
  const main = container({
    name: spec.identity.name,
    ...spec.container,
    volumeMounts: [
      ...(spec.container.volumeMounts ?? []),
      { name: "data", mountPath: spec.dataDir },
      { name: "tmp", mountPath: "/tmp" },
    ],
  });
  const configHash = configHashAnnotation(...spec.configHashOf);
  const scrape = spec.scrape;
  const annotations = scrape
    ? configHash.apply((hash) => ({ ...hash, ...scrapeAnnotations(scrape.port, scrape.path) }))
    : configHash;
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      replicas: 1,
      serviceName: spec.serviceName,
      selector: { matchLabels: selectorFor(spec.identity) },
      persistentVolumeClaimRetentionPolicy: RETAIN_CLAIMS,
      template: podTemplate(
        spec.identity,
        {
          ...spec.pod,
          containers: [main],
          volumes: [...(spec.pod.volumes ?? []), emptyDir("tmp")],
        },
        annotations,
      ),
      volumeClaimTemplates: [
        volumeClaimTemplate("data", spec.identity, spec.storageSize, spec.storageClass),
      ],
    },
  };
}
