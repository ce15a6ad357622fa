import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { selectorFor, type WorkloadIdentity } from "../lib/labels";
import type { ContainerProbes } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import { RETAIN_CLAIMS, volumeClaimTemplate, type ServicePortSpec } from "../lib/stateful";
import { container, emptyDir, objectMeta, podTemplate } from "../lib/workload";
import { S3_ENV, type BucketAccess, type S3Endpoint } from "./common";

/**
 * The shape Tempo, Loki, Prometheus and Grafana share: one process in a single-replica
 * StatefulSet, its config from a ConfigMap, its data on a PVC, a small `/tmp`.
 */

/** One consumer's bucket, resolved for a component: endpoint parsed, region set. */
export interface ObjectBucket extends BucketAccess {
  /** The S3 endpoint as `host:port` and TLS flag. */
  endpoint: pulumi.Input<S3Endpoint>;
  /** S3 region. */
  region: string;
  /** What must exist first (the bucket Job). */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The key pair as environment variables for `-config.expand-env=true`, via `secretKeyRef`. */
export function bucketEnv(bucket: ObjectBucket): k8s.types.input.core.v1.EnvVar[] {
  return [
    bucket.credentials.accessKey.env(S3_ENV.accessKey),
    bucket.credentials.secretKey.env(S3_ENV.secretKey),
  ];
}

/** What the config hash covers of the bucket: a rotated key pair must restart the pod. */
export function bucketHashInputs(bucket: ObjectBucket | undefined): pulumi.Input<unknown>[] {
  if (!bucket) return [];
  return [bucket.credentials.accessKey, bucket.credentials.secretKey].map(
    (key) => key.content ?? { secret: key.secretName, key: key.key },
  );
}

/** What {@link storeStatefulSet} builds from. */
export interface StoreStatefulSetSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  args: string[];
  /** Container ports (named as the Service ports that target them). */
  ports: ServicePortSpec[];
  env: pulumi.Input<k8s.types.input.core.v1.EnvVar>[];
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
  storageSize: string;
  storageClass?: pulumi.Input<string>;
  /** The headless Service that governs the StatefulSet. */
  serviceName: pulumi.Input<string>;
  podAnnotations: pulumi.Input<Record<string, string>>;
  serviceAccountName?: pulumi.Input<string>;
  /** Only for workloads that call the API (Prometheus). @default false */
  automountServiceAccountToken?: boolean;
}

/** A single-replica StatefulSet with a `data` volume claim. */
export function storeStatefulSet(spec: StoreStatefulSetSpec): k8s.apps.v1.StatefulSetArgs {
  const extra = spec.extraVolumes ?? [];
  const main = container({
    name: spec.identity.name,
    image: spec.image,
    args: spec.args,
    ports: spec.ports.map((port) => ({ name: port.name, containerPort: port.port })),
    env: spec.env,
    resources: spec.resources,
    probes: spec.probes,
    volumeMounts: [
      { name: "config", mountPath: spec.configMount.mountPath, readOnly: true },
      ...extra.map(({ volume, mountPath }) => ({ name: volume.name, mountPath, readOnly: true })),
      { name: "data", mountPath: spec.dataDir },
      { name: "tmp", mountPath: "/tmp" },
    ],
  });
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
          containers: [main],
          volumes: [
            {
              name: "config",
              configMap: {
                name: spec.configMount.configMapName,
                ...(spec.configMount.items ? { items: spec.configMount.items } : {}),
              },
            },
            ...extra.map(({ volume }) => volume),
            emptyDir("tmp"),
          ],
          security: { runAsUser: spec.runAsUser },
          ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
          automountServiceAccountToken: spec.automountServiceAccountToken ?? false,
        },
        spec.podAnnotations,
      ),
      volumeClaimTemplates: [
        volumeClaimTemplate("data", spec.identity, spec.storageSize, spec.storageClass),
      ],
    },
  };
}
