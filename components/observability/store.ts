import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../../core/images";
import { check, probesFor, type ContainerProbes } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import {
  keepData,
  statefulServices,
  statefulWorkload,
  type ServicePortSpec,
  type StatefulWorkloadBase,
} from "../lib/stateful";
import type { ObjectBucket } from "./args";
import { PORTS, S3_ENV } from "./common";

/**
 * The shape Tempo, Loki, Prometheus and Grafana share: one process in a single-replica
 * StatefulSet behind a headless and a client Service, its config from a ConfigMap, its data on a
 * PVC, a small `/tmp`, scraped by Prometheus on its HTTP port.
 */

/**
 * The key pair as environment variables for `-config.expand-env=true`, via `secretKeyRef`; and
 * the endpoint, which the config file holds too, as the render's sign of where the pod may go.
 */
function bucketEnv(bucket: ObjectBucket): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "S3_ENDPOINT", value: bucket.url },
    bucket.credentials.accessKey.env(S3_ENV.accessKey),
    bucket.credentials.secretKey.env(S3_ENV.secretKey),
  ];
}

/** What the config hash covers of the bucket: a rotated key pair must restart the pod. */
function bucketHashInputs(bucket: ObjectBucket | undefined): pulumi.Input<unknown>[] {
  if (!bucket) return [];
  return [bucket.credentials.accessKey, bucket.credentials.secretKey].map(
    (key) => key.content ?? { secret: key.secretName, key: key.key },
  );
}

/** What {@link storeStatefulSet} builds from. */
export interface StoreStatefulSetSpec extends StatefulWorkloadBase {
  image: string;
  args: string[];
  /** Ports of both Services; the container's too. */
  ports: ServicePortSpec[];
  /** Container ports kept off the Services (Loki's and Tempo's internal gRPC). @default none */
  internalPorts?: ServicePortSpec[];
  /** Environment besides the bucket's key pair. @default none */
  env?: pulumi.Input<k8s.types.input.core.v1.EnvVar>[];
  resources: ResourceSpec;
  probes: ContainerProbes;
  /** The config ConfigMap, where it is mounted (read-only), and which keys to which paths. */
  configMount: {
    configMapName: pulumi.Input<string>;
    mountPath: string;
    /** @default every key, as a file of the same name */
    items?: { key: string; path: string }[];
  };
  /** More read-only ConfigMap or Secret volumes. @default none */
  extraVolumes?: { volume: k8s.types.input.core.v1.Volume; mountPath: string }[];
  /** Where the PVC is mounted. */
  dataDir: string;
  runAsUser: number;
  /** The port Prometheus scrapes `/metrics` on. */
  scrapePort: number;
  /**
   * Bucket for the data (Loki, Tempo in prod): its key pair goes into the environment and the
   * config hash. @default none
   */
  bucket?: ObjectBucket;
  serviceAccountName?: pulumi.Input<string>;
  /** Only for workloads that call the API (Prometheus). @default false */
  automountServiceAccountToken?: boolean;
}

/** A single-replica StatefulSet with a `data` volume claim and its config mounted read-only. */
export function storeStatefulSet(spec: StoreStatefulSetSpec): k8s.apps.v1.StatefulSetArgs {
  const extra = spec.extraVolumes ?? [];
  const bucket = spec.bucket;
  return statefulWorkload({
    name: spec.name,
    namespace: spec.namespace,
    identity: spec.identity,
    serviceName: spec.serviceName,
    storageSize: spec.storageSize,
    storageClass: spec.storageClass,
    configHashOf: [...spec.configHashOf, ...bucketHashInputs(bucket)],
    container: {
      image: spec.image,
      args: spec.args,
      ports: [...spec.ports, ...(spec.internalPorts ?? [])].map((port) => ({
        name: port.name,
        containerPort: port.port,
      })),
      env: [...(spec.env ?? []), ...(bucket ? bucketEnv(bucket) : [])],
      resources: spec.resources,
      probes: spec.probes,
      volumeMounts: [
        { name: "config", mountPath: spec.configMount.mountPath, readOnly: true },
        ...extra.map(({ volume, mountPath }) => ({ name: volume.name, mountPath, readOnly: true })),
      ],
    },
    dataDir: spec.dataDir,
    pod: {
      volumes: [
        {
          name: "config",
          configMap: {
            name: spec.configMount.configMapName,
            ...(spec.configMount.items ? { items: spec.configMount.items } : {}),
          },
        },
        ...extra.map(({ volume }) => volume),
      ],
      security: { runAsUser: spec.runAsUser },
      serviceAccountName: spec.serviceAccountName,
      automountServiceAccountToken: spec.automountServiceAccountToken,
    },
    scrape: { port: spec.scrapePort },
  });
}

/**
 * How Loki and Tempo run alike: one binary with every module (`-target=all`), its YAML from the
 * config ConfigMap with `${…}` filled from the environment (the bucket's key pair), gRPC between
 * its modules kept off the Services. `/ready` waits for every module (Loki's ingester joins its
 * ring about 15 s after start); liveness only needs the HTTP server to answer.
 */
export function singleBinary(
  workload: "loki" | "tempo",
  configMapName: pulumi.Input<string>,
): Pick<StoreStatefulSetSpec, "args" | "internalPorts" | "probes" | "configMount" | "runAsUser"> {
  const configDir = `/etc/${workload}`;
  return {
    args: ["-target=all", `-config.file=${configDir}/${workload}.yaml`, "-config.expand-env=true"],
    internalPorts: [{ name: "grpc", port: PORTS.grpc }],
    probes: probesFor(check.http("/ready", "http"), {
      liveness: check.tcp("http"),
      startupSeconds: 120,
    }),
    configMount: { configMapName, mountPath: configDir },
    runAsUser: IMAGES[workload].uid,
  };
}

/** What {@link storeWorkload} creates from: the StatefulSet's spec, less what it creates itself. */
export interface StoreWorkloadSpec extends Omit<StoreStatefulSetSpec, "name" | "serviceName"> {
  /** Protect the StatefulSet and retain it on delete (prod). */
  protect: boolean;
}

/**
 * Creates a store's headless and client Services and its StatefulSet, as children of `parent`.
 * The StatefulSet waits for the bucket's `dependsOn` (the bucket Job) when there is a bucket.
 */
export function storeWorkload(
  parent: pulumi.Resource,
  name: string,
  spec: StoreWorkloadSpec,
): {
  service: k8s.core.v1.Service;
  host: pulumi.Output<string>;
  statefulSet: k8s.apps.v1.StatefulSet;
} {
  const { protect, ...stateful } = spec;
  const { headless, client } = statefulServices(
    parent,
    name,
    spec.namespace,
    spec.identity,
    spec.ports,
  );
  const statefulSet = new k8s.apps.v1.StatefulSet(
    name,
    storeStatefulSet({ ...stateful, name, serviceName: headless.metadata.name }),
    { parent, dependsOn: spec.bucket?.dependsOn ?? [], ...keepData(protect) },
  );
  return {
    service: client,
    host: pulumi.interpolate`${client.metadata.name}.${client.metadata.namespace}.svc`,
    statefulSet,
  };
}
