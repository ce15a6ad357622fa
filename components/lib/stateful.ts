import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labelsFor, selectorFor, type WorkloadIdentity } from "./labels";

/**
 * The parts every StatefulSet-backed component repeats: its volume claim, its headless and client
 * Services, and the resource options that keep its data in prod.
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
  service: k8s.core.v1.Service,
  clusterDomain = "cluster.local",
): pulumi.Output<string> {
  return pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc.${clusterDomain}`;
}
