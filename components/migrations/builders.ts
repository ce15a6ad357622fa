import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../../core/images";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { hashedName } from "../lib/hash";
import type { ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import {
  container,
  emptyDir,
  objectMeta,
  podTemplate,
  retriedJobAnnotations,
} from "../lib/workload";
import type { AtlasApplyOptions } from "./args";
import type { MigrationBundle } from "./bundle";

/** Where the ConfigMap is mounted in the Job's pod; `--dir file:///migrations`. */
export const MIGRATIONS_MOUNT_PATH = "/migrations";
/** Environment variable the Job reads the direct Postgres URL from (`--url $(DATABASE_URL)`). */
export const MIGRATIONS_URL_ENV = "DATABASE_URL";

/**
 * `<base>-<hash>` over the files' names and contents: new or edited migrations give a new
 * ConfigMap, the same files the same name, so an unchanged directory is no change at all.
 */
export function migrationsConfigMapName(base: string, bundle: MigrationBundle): string {
  return hashedName(`${base}-files`, bundle);
}

/** The immutable ConfigMap holding the migration files, under its content-hashed name. */
export function migrationsConfigMap(
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
  bundle: MigrationBundle,
): k8s.core.v1.ConfigMapArgs {
  return {
    metadata: objectMeta(name, namespace, identity),
    immutable: true,
    data: bundle.data,
    ...(Object.keys(bundle.binaryData).length > 0 ? { binaryData: bundle.binaryData } : {}),
  };
}

/** `atlas migrate apply` arguments (the image's entrypoint is `atlas`). */
export function atlasApplyArgs(options: AtlasApplyOptions): string[] {
  return [
    "migrate",
    "apply",
    "--dir",
    `file://${MIGRATIONS_MOUNT_PATH}`,
    // Expanded by the kubelet from the env var below; the pod spec never holds the URL.
    "--url",
    `$(${MIGRATIONS_URL_ENV})`,
    "--revisions-schema",
    options.revisionsSchema,
    // One transaction per file (Atlas's default, stated): a failed file leaves the earlier ones
    // applied and recorded, and the next run resumes at the failed one.
    "--tx-mode",
    "file",
    "--lock-timeout",
    `${options.lockTimeoutSeconds}s`,
  ];
}

/** Everything that shapes the Job's pod, for its name. */
export interface MigrationsJobInputs {
  configMapName: string;
  image: string;
  options: AtlasApplyOptions;
  backoffLimit: number;
  activeDeadlineSeconds: number;
  resources: ResourceSpec;
  databaseUrl: SecretKey;
}

/**
 * `<base>-<hash>` over the ConfigMap name (itself a hash of the files), the image and every other
 * input of the pod: any change is a new Job rather than an in-place update Kubernetes would
 * refuse (a Job's pod template is immutable), and equal inputs are the same Job, so no diff. The
 * URL's Secret counts by name when known now, never by content: a rotated password needs no run.
 */
export function migrationsJobName(base: string, inputs: MigrationsJobInputs): string {
  const { databaseUrl, ...rest } = inputs;
  const secret = typeof databaseUrl.secretName === "string" ? databaseUrl.secretName : "";
  return hashedName(base, { ...rest, url: { secret, key: databaseUrl.key } });
}

/** What {@link migrationsJob} builds from: the Job's name and place, and its pod's inputs. */
export interface MigrationsJobSpec extends MigrationsJobInputs {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
}

/** The Job running `atlas migrate apply` against the mounted migration files. */
export function migrationsJob(spec: MigrationsJobSpec): k8s.batch.v1.JobArgs {
  const atlas = container({
    name: "atlas",
    image: spec.image,
    args: atlasApplyArgs(spec.options),
    env: [
      spec.databaseUrl.env(MIGRATIONS_URL_ENV),
      // Atlas checks vercheck.ariga.io and sends anonymous telemetry unless told not to; the
      // network policies allow the Job Postgres and DNS only, so both would just time out.
      { name: "ATLAS_NO_UPDATE_NOTIFIER", value: "true" },
      { name: "ATLAS_NO_ANON_TELEMETRY", value: "true" },
      // Any cache Atlas wants goes to the writable emptyDir, not the read-only root.
      { name: "HOME", value: "/tmp" },
    ],
    resources: spec.resources,
    volumeMounts: [
      { name: "migrations", mountPath: MIGRATIONS_MOUNT_PATH, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
  });
  return {
    metadata: objectMeta(
      spec.name,
      spec.namespace,
      spec.identity,
      retriedJobAnnotations(spec.activeDeadlineSeconds),
    ),
    spec: {
      backoffLimit: spec.backoffLimit,
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      // No ttlSecondsAfterFinished: a Job that vanished would be re-created by the next `up`.
      template: podTemplate(spec.identity, {
        containers: [atlas],
        volumes: [
          { name: "migrations", configMap: { name: spec.configMapName, defaultMode: 0o444 } },
          emptyDir("tmp"),
        ],
        security: { runAsUser: IMAGES.atlas.uid },
        // Never: each retry is a fresh pod whose logs survive for `kubectl logs`.
        restartPolicy: "Never",
      }),
    },
  };
}
