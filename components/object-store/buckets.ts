import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { parseQuantity } from "../../core/quantity";
import { hashedName } from "../lib/hash";
import { IMAGES } from "../../core/images";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { RESOURCE_PRESETS } from "../lib/resources";
import type { PlatformSecret, SecretKey } from "../lib/secrets";
import { container, emptyDir, objectMeta, podTemplate } from "../lib/workload";

/**
 * The object store's bucket Job: one bucket and one bucket-scoped user per consumer, created
 * idempotently by `mc`. Pure builders; the ObjectStore component creates the resources.
 */

/** Keys of every credentials Secret the component creates. */
export const S3_SECRET_KEYS = { accessKey: "accessKey", secretKey: "secretKey" } as const;
/** The bucket Job's limits: long enough for a slow first start, short enough to fail an `up`. */
export const BUCKET_JOB_LIMITS = { backoffLimit: 3, activeDeadlineSeconds: 600 } as const;

/** The consumers of the object store: each gets one bucket and one user scoped to it. */
export const BucketRole = {
  /** The app's uploads (`S3_BUCKET`). */
  app: "app",
  /** Postgres backups (`pg_dump` CronJob). */
  backups: "backups",
  /** Loki chunks and index (prod). */
  loki: "loki",
  /** Tempo traces (prod). */
  tempo: "tempo",
  /** Dragonfly's snapshots, when they go to the object store. */
  dragonfly: "dragonfly",
} as const;
export type BucketRole = (typeof BucketRole)[keyof typeof BucketRole];

/** An S3 key pair, as Secret keys for `secretKeyRef`; `secret` is the Secret, for config hashes. */
export interface S3Credentials {
  accessKey: SecretKey;
  secretKey: SecretKey;
  secret: PlatformSecret;
}

/** One consumer's user and its bucket-scoped policy. */
export interface BucketUser {
  role: BucketRole;
  bucket: string;
  /** Name of the canned policy on the server. */
  policy: string;
  /** Environment variables of the bucket Job holding the user's key pair. */
  accessKeyEnv: string;
  secretKeyEnv: string;
}

/** One bucket's hard quota: the most it may hold, or none. */
export interface BucketQuota {
  bucket: string;
  /** The quota as configured (`40Gi`), for the script's comments. */
  size?: string;
  /** The same in bytes, as `mc quota set --size` reads it; absent: the bucket has no quota. */
  bytes?: number;
}

/** Everything the bucket Job does, in order. */
export interface BucketPlan {
  /** Distinct bucket names, in role order. */
  buckets: string[];
  users: BucketUser[];
  /** Each bucket's quota, in role order: set when configured, cleared when not. */
  quotas: BucketQuota[];
}

/** The roles given a bucket, in {@link BucketRole} order. */
export function bucketRoles(buckets: Partial<Record<BucketRole, string>>): BucketRole[] {
  return Object.values(BucketRole).filter((role) => buckets[role] !== undefined);
}

/**
 * The plan for the given buckets, one user per role given. The names must pass the ObjectStore's
 * `bucketRules` (its constructor checks them first): they are written into the Job's script.
 */
export function bucketPlan(
  buckets: Partial<Record<BucketRole, string>>,
  quotas: Partial<Record<BucketRole, string>> = {},
): BucketPlan {
  const users = bucketRoles(buckets).map((role): BucketUser => {
    const prefix = role.toUpperCase();
    return {
      role,
      bucket: buckets[role] as string,
      policy: `${role}-readwrite`,
      accessKeyEnv: `${prefix}_ACCESS_KEY`,
      secretKeyEnv: `${prefix}_SECRET_KEY`,
    };
  });
  return {
    buckets: [...new Set(users.map((user) => user.bucket))],
    users,
    quotas: users.map(({ role, bucket }) => {
      const size = quotas[role];
      return size === undefined ? { bucket } : { bucket, size, bytes: parseQuantity(size) };
    }),
  };
}

/** An IAM policy that lets a user list, read, write and delete in one bucket and nothing else. */
export function bucketPolicy(bucket: string): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
        Resource: [`arn:aws:s3:::${bucket}`],
      },
      {
        Effect: "Allow",
        Action: [
          "s3:GetObject",
          "s3:PutObject",
          "s3:DeleteObject",
          "s3:AbortMultipartUpload",
          "s3:ListMultipartUploadParts",
        ],
        Resource: [`arn:aws:s3:::${bucket}/*`],
      },
    ],
  };
}

/** mc alias of the server inside the Job. */
const ALIAS = "store";

/**
 * The bucket Job's POSIX shell script. Every step is idempotent, so a rerun (a replaced Job, a
 * retry after a failure) is harmless: `mb --ignore-existing`; `quota set` and `quota clear`,
 * `policy create` and `user add` overwrite; `policy attach` of an attached policy is accepted by
 * mc. It uses only shell builtins and `mc`, because the client image has little else.
 * Credentials come from the environment.
 */
export function bucketScript(plan: BucketPlan): string {
  const lines = [
    "set -eu",
    "# The alias comes from the environment, so the root credentials are never written to a file.",
    `export MC_HOST_${ALIAS}="http://\${MINIO_ROOT_USER}:\${MINIO_ROOT_PASSWORD}@\${MINIO_SERVER}"`,
    "# Waits for the server's health check; activeDeadlineSeconds bounds the wait.",
    `mc ready ${ALIAS}`,
    ...plan.buckets.map((bucket) => `mc mb --ignore-existing ${ALIAS}/${bucket}`),
    // A quota dropped from the config is cleared, so the server holds exactly the configured ones.
    ...plan.quotas.flatMap(({ bucket, size, bytes }) =>
      bytes === undefined
        ? [`mc quota clear ${ALIAS}/${bucket}`]
        : [`# ${bucket}: at most ${size}`, `mc quota set ${ALIAS}/${bucket} --size ${bytes}`],
    ),
  ];
  for (const user of plan.users) {
    const file = `"\${POLICY_DIR}/${user.policy}.json"`;
    lines.push(
      `# ${user.role}: read and write in bucket ${user.bucket}, nothing else.`,
      `printf '%s\\n' '${JSON.stringify(bucketPolicy(user.bucket))}' > ${file}`,
      `mc admin policy create ${ALIAS} ${user.policy} ${file}`,
      `mc admin user add ${ALIAS} "\${${user.accessKeyEnv}}" "\${${user.secretKeyEnv}}"`,
      `mc admin policy attach ${ALIAS} ${user.policy} --user "\${${user.accessKeyEnv}}"`,
    );
  }
  lines.push(`echo "buckets ready: ${plan.buckets.join(" ")}"`);
  return `${lines.join("\n")}\n`;
}

/**
 * The Job's name: a hash of what it does and runs with, so a changed bucket list or image makes a
 * new Job (a Job's pod template cannot change, and a completed Job never runs again).
 */
export function bucketJobName(base: string, plan: BucketPlan, image: string): string {
  return hashedName(`${base}-buckets`, { script: bucketScript(plan), image });
}

/** What {@link bucketJobArgs} builds from. */
export interface BucketJobSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  plan: BucketPlan;
  /** `host:port` of the S3 API. */
  server: pulumi.Input<string>;
  root: S3Credentials;
  users: Record<string, S3Credentials>;
  /** Pod annotations (the config hash of every Secret it reads). */
  podAnnotations: pulumi.Input<Record<string, string>>;
}

/** The bucket Job: replaced when unready, so a failed run is retried on the next `up`. */
export function bucketJobArgs(spec: BucketJobSpec): k8s.batch.v1.JobArgs {
  const userEnv = spec.plan.users.flatMap((user) => [
    spec.users[user.role].accessKey.env(user.accessKeyEnv),
    spec.users[user.role].secretKey.env(user.secretKeyEnv),
  ]);
  const mc = container({
    name: "mc",
    image: spec.image,
    command: ["/bin/sh", "-c", bucketScript(spec.plan)],
    env: [
      spec.root.accessKey.env("MINIO_ROOT_USER"),
      spec.root.secretKey.env("MINIO_ROOT_PASSWORD"),
      { name: "MINIO_SERVER", value: spec.server },
      // mc creates its config and CA directories at start; the root filesystem is read-only.
      { name: "MC_CONFIG_DIR", value: "/tmp/.mc" },
      { name: "POLICY_DIR", value: "/tmp" },
      ...userEnv,
    ],
    resources: RESOURCE_PRESETS.nano,
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  });
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity, {
      "pulumi.com/replaceUnready": "true",
    }),
    spec: {
      ...BUCKET_JOB_LIMITS,
      template: podTemplate(
        spec.identity,
        {
          containers: [mc],
          volumes: [emptyDir("tmp")],
          security: { runAsUser: IMAGES.minioClient.uid },
          restartPolicy: "Never",
        },
        spec.podAnnotations,
      ),
    },
  };
}
