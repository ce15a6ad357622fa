import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { readMigrationDir, SUM_FILE, validateMigrationDir } from "../core/atlas-sum";
import { hashedName } from "./lib/hash";
import { IMAGES, imageRef, tagOf } from "../core/images";
import type { WorkloadIdentity } from "../core/labels";
import { RESOURCE_PRESETS, type ResourceSpec } from "./lib/resources";
import type { SecretKey } from "./lib/secrets";
import { container, emptyDir, objectMeta, podTemplate } from "./lib/workload";

/** The repository's migration directory; a relative `dir` arg is resolved against the cwd instead. */
export const DEFAULT_MIGRATION_DIR = path.resolve(__dirname, "..", "atlas", "migrations");
/** Where the ConfigMap is mounted in the Job's pod; `--dir file:///migrations`. */
export const MIGRATIONS_MOUNT_PATH = "/migrations";
/** Environment variable the Job reads the direct Postgres URL from (`--url $(DATABASE_URL)`). */
export const MIGRATIONS_URL_ENV = "DATABASE_URL";
/**
 * Kubernetes refuses a ConfigMap over 1 MiB (etcd's object limit); stay below it with room for
 * the object's metadata, and say so at preview rather than at apply.
 */
export const MAX_CONFIGMAP_BYTES = 1_000_000;

/** Arguments of {@link Migrations}. */
export interface MigrationsArgs {
  /** Namespace of the ConfigMap and the Job. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its labels. @default the component's name */
  instance?: string;
  /**
   * The DIRECT Postgres URL of the app database (owner role), never PgBouncer's: Atlas holds a
   * session advisory lock (`pg_try_advisory_lock`) for the whole run, which transaction pooling
   * would hand to another client. Include `sslmode=disable` when Postgres serves no TLS.
   */
  databaseUrl: SecretKey;
  /** Migration directory (`<version>_<name>.sql` files and `atlas.sum`). @default `atlas/migrations` of this repository */
  dir?: string;
  /** Atlas image. @default the catalogue's `atlas` */
  image?: string;
  /** Schema of Atlas's `atlas_schema_revisions` table (`--revisions-schema`). @default "public" */
  revisionsSchema?: string;
  /**
   * How long to wait for another `migrate apply` to release the lock (`--lock-timeout`) before
   * failing; the Job's retries wait again. @default 30 (as `atlas.hcl`'s prod env)
   */
  lockTimeoutSeconds?: number;
  /** Failed pods before the Job fails (`backoffLimit`). @default 2 */
  backoffLimit?: number;
  /** Upper bound of the whole Job, retries included (`activeDeadlineSeconds`). @default 600 */
  activeDeadlineSeconds?: number;
  /** Requests and limits of the Atlas container. @default the `nano` preset */
  resources?: ResourceSpec;
  /** What must be ready first: the Postgres StatefulSet (and its init). @default none */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Atlas `migrate apply` options that end up on its command line. */
export interface AtlasApplyOptions {
  revisionsSchema: string;
  lockTimeoutSeconds: number;
}

/** The files of a migration directory as ConfigMap entries, after checking `atlas.sum`. */
export interface MigrationBundle {
  /** Text files by name (`data`). */
  data: Record<string, string>;
  /** Files that are not valid UTF-8, base64 (`binaryData`); Atlas hashes bytes, so keep them. */
  binaryData: Record<string, string>;
}

function invalid(propertyPath: string, reason: string): never {
  throw new pulumi.InputPropertyError({ propertyPath, reason });
}

/**
 * Reads a migration directory at program time: refuses one whose `atlas.sum` does not match its
 * files (what `atlas migrate apply` would refuse in the cluster, minutes later), and returns the
 * `*.sql` files plus `atlas.sum`: exactly what Atlas reads, so an unrelated file in the folder
 * never starts a new Job.
 */
export function readMigrationBundle(dir: string): MigrationBundle {
  const result = validateMigrationDir(dir);
  if (!result.ok) {
    invalid(
      "dir",
      `migration directory ${dir} does not pass \`atlas migrate validate\`:\n  - ` +
        result.findings.join("\n  - "),
    );
  }
  const files = [
    ...readMigrationDir(dir),
    { name: SUM_FILE, content: readFileSync(path.join(dir, SUM_FILE)) },
  ];
  const bundle: MigrationBundle = { data: {}, binaryData: {} };
  let bytes = 0;
  for (const file of files) {
    const content = Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content);
    bytes += content.length;
    const text = content.toString("utf8");
    if (Buffer.from(text, "utf8").equals(content)) bundle.data[file.name] = text;
    else bundle.binaryData[file.name] = content.toString("base64");
  }
  if (bytes > MAX_CONFIGMAP_BYTES) {
    invalid(
      "dir",
      `the migrations in ${dir} hold ${bytes} bytes, more than a ConfigMap can (${MAX_CONFIGMAP_BYTES}); ` +
        "squash old migrations with `atlas migrate checkpoint` or ship them in an image",
    );
  }
  return bundle;
}

/**
 * `<base>-<hash>` over the files' names and contents: new or edited migrations give a new
 * ConfigMap, the same files the same name, so an unchanged directory is no change at all.
 */
export function migrationsConfigMapName(base: string, bundle: MigrationBundle): string {
  return hashedName(`${base}-files`, bundle);
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

/** What {@link migrationsJob} builds from. */
export interface MigrationsJobSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  configMapName: string;
  databaseUrl: SecretKey;
  options: AtlasApplyOptions;
  backoffLimit: number;
  activeDeadlineSeconds: number;
  resources: ResourceSpec;
}

/** Annotations that make Pulumi wait for the Job and retry a failed one on the next `up`. */
export function migrationsJobAnnotations(activeDeadlineSeconds: number): Record<string, string> {
  return {
    // A Job that failed is "unready": the next `pulumi up` replaces it, i.e. runs it again.
    "pulumi.com/replaceUnready": "true",
    // Wait as long as the Job may run (the provider's default is 10 minutes), plus scheduling.
    "pulumi.com/timeoutSeconds": String(activeDeadlineSeconds + 60),
  };
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
      migrationsJobAnnotations(spec.activeDeadlineSeconds),
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

/**
 * The app's schema migrations: the migration directory, checked against `atlas.sum` at preview,
 * in a content-named immutable ConfigMap, and an Atlas `migrate apply` Job named after that
 * ConfigMap and the image. Unchanged files are no change in the diff; new files are a new Job;
 * a failed Job is run again on the next `up`. The App's Deployments depend on {@link job}, so a
 * failed migration stops the rollout while the old ReplicaSet keeps serving.
 */
export class Migrations extends pulumi.ComponentResource {
  /** The Job, for the App's `dependsOn`. */
  public readonly job: k8s.batch.v1.Job;
  /** Name of the Job (it changes with the migrations and the image). */
  public readonly jobName: pulumi.Output<string>;
  /** Name of the ConfigMap holding the migration files. */
  public readonly configMapName: pulumi.Output<string>;
  /** Labels of the Job's pods, for network policies (they reach Postgres directly). */
  public readonly identity: WorkloadIdentity;

  constructor(name: string, args: MigrationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:app:Migrations", name, {}, opts);
    const dir = args.dir ? path.resolve(args.dir) : DEFAULT_MIGRATION_DIR;
    const image = args.image ?? imageRef("atlas");
    const options: AtlasApplyOptions = {
      revisionsSchema: args.revisionsSchema ?? "public",
      lockTimeoutSeconds: args.lockTimeoutSeconds ?? 30,
    };
    const backoffLimit = args.backoffLimit ?? 2;
    const activeDeadlineSeconds = args.activeDeadlineSeconds ?? 600;
    const resources = args.resources ?? RESOURCE_PRESETS.nano;
    if (!Number.isInteger(backoffLimit) || backoffLimit < 0) {
      invalid("backoffLimit", `must be a whole number ≥ 0 (got ${backoffLimit})`);
    }
    if (!Number.isInteger(activeDeadlineSeconds) || activeDeadlineSeconds < 30) {
      invalid(
        "activeDeadlineSeconds",
        `must be a whole number ≥ 30 (got ${activeDeadlineSeconds})`,
      );
    }
    this.identity = {
      name: "atlas",
      component: "migrations",
      instance: args.instance ?? name,
      version: tagOf(image),
    };

    const bundle = readMigrationBundle(dir);
    const configMapName = migrationsConfigMapName(name, bundle);
    const configMap = new k8s.core.v1.ConfigMap(
      configMapName,
      {
        metadata: objectMeta(configMapName, args.namespace, this.identity),
        immutable: true,
        data: bundle.data,
        ...(Object.keys(bundle.binaryData).length > 0 ? { binaryData: bundle.binaryData } : {}),
      },
      { parent: this },
    );

    const jobName = migrationsJobName(name, {
      configMapName,
      image,
      options,
      backoffLimit,
      activeDeadlineSeconds,
      resources,
      databaseUrl: args.databaseUrl,
    });
    this.job = new k8s.batch.v1.Job(
      jobName,
      migrationsJob({
        name: jobName,
        namespace: args.namespace,
        identity: this.identity,
        image,
        configMapName,
        databaseUrl: args.databaseUrl,
        options,
        backoffLimit,
        activeDeadlineSeconds,
        resources,
      }),
      {
        parent: this,
        dependsOn: [configMap, ...(args.dependsOn ?? [])],
        // A retried (replaceUnready) Job keeps its name: the old one must go first.
        deleteBeforeReplace: true,
      },
    );
    this.jobName = this.job.metadata.name;
    this.configMapName = configMap.metadata.name;

    this.registerOutputs({ jobName: this.jobName, configMapName: this.configMapName });
  }
}
