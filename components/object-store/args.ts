import type * as pulumi from "@pulumi/pulumi";
import { parseQuantity, QUANTITY_PATTERN } from "../../core/quantity";
import {
  fieldError,
  fieldErrorIf,
  type FieldError,
  storageSizeErrors,
} from "../../core/validation";
import type { ResourceSpec } from "../lib/resources";
import { BucketRole, bucketRoles } from "./buckets";

/**
 * Arguments of an {@link ObjectStore}.
 *
 * The default image is MinIO's last community release; MinIO stopped publishing community images
 * in late 2025. To move on, set `image` to another build that runs `minio server` with MinIO's
 * environment and health endpoints (a self-built or third-party MinIO image, pinned by digest;
 * `runAsUser` if its user differs), or skip this component and hand consumers an external S3
 * endpoint, bucket names and a credentials Secret per consumer (shaped as `S3Credentials`).
 */
export interface ObjectStoreArgs {
  /** Namespace of every object it creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its labels. @default the component's name */
  instance?: string;
  /** Server image. @default the catalogue's `minio` */
  image?: string;
  /** UID the server image runs as. @default the catalogue's `minio` UID (1000) */
  runAsUser?: number;
  /** Image of the bucket Job, with `mc` and `/bin/sh`. @default the catalogue's `minioClient` */
  clientImage?: string;
  /** Requests and limits of the server. */
  resources: ResourceSpec;
  /** Size of the data volume, e.g. `10Gi`. */
  storageSize: string;
  /** StorageClass of the data volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /**
   * Bucket per consumer; only the roles given get a bucket and a user (at least one). Names follow
   * S3's rules: 3-63 lowercase letters, digits, '.' and '-', not shaped like an IP address.
   */
  buckets: Partial<Record<BucketRole, string>>;
  /**
   * Most each consumer's bucket may hold (a MinIO hard bucket quota, set by the bucket Job), by
   * role, e.g. `{backups: "40Gi"}`; only roles with a bucket. Together at most `storageSize`, so no
   * one consumer can fill the volume the others write to. @default no quota (a bucket may fill the
   * volume)
   */
  quotas?: Partial<Record<BucketRole, string>>;
  /**
   * Secret keys given instead of generated: `root`'s and each consumer's, by role.
   * @default each generated with `@pulumi/random`
   */
  secretKeys?: Partial<Record<"root" | BucketRole, pulumi.Input<string>>>;
  /** Protect the StatefulSet and retain it on delete (prod). @default false */
  protect?: boolean;
  /** Kubernetes cluster domain, for the Service host name. @default "cluster.local" */
  clusterDomain?: string;
}

/** S3's bucket naming rules, which also keep a name safe inside the bucket Job's shell script. */
const BUCKET_NAME = /^(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Every problem with the bucket names, by their paths (`buckets.app`). */
function bucketRules(buckets: Partial<Record<BucketRole, string>>): FieldError[] {
  const roles = bucketRoles(buckets);
  if (roles.length === 0) {
    return [
      fieldError(
        "buckets",
        `names no bucket; give at least one of ${Object.values(BucketRole).join(", ")}`,
      ),
    ];
  }
  return roles.flatMap((role, index) => {
    const name = buckets[role] as string;
    const sharer = roles.slice(0, index).find((other) => buckets[other] === name);
    return [
      ...fieldErrorIf(
        !BUCKET_NAME.test(name),
        `buckets.${role}`,
        () => `"${name}" is not an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'`,
      ),
      ...fieldErrorIf(
        sharer !== undefined,
        `buckets.${role}`,
        () =>
          `"${name}" is also buckets.${sharer}: each consumer's user is scoped to its own ` +
          `bucket, and two sharing one would read and delete each other's objects (the backup ` +
          `job prunes old dumps); give each its own name`,
      ),
    ];
  });
}

/**
 * Every problem with the bucket quotas, by their paths (`quotas.app`): each a positive size of a
 * bucket that exists, and all of them together no more than the volume.
 */
function quotaRules(
  args: Pick<ObjectStoreArgs, "storageSize" | "buckets" | "quotas">,
): FieldError[] {
  const quotas = Object.entries(args.quotas ?? {}).filter(
    (entry): entry is [BucketRole, string] => entry[1] !== undefined,
  );
  const problems = quotas.flatMap(([role, size]) => [
    ...storageSizeErrors(`quotas.${role}`, size, "10Gi"),
    ...fieldErrorIf(
      args.buckets[role] === undefined,
      `quotas.${role}`,
      () => `limits a bucket that does not exist: no buckets.${role} is created`,
    ),
  ]);
  const sized = (size: string) => QUANTITY_PATTERN.test(size) && parseQuantity(size) > 0;
  if (problems.length > 0 || !sized(args.storageSize) || quotas.length === 0) return problems;
  const total = quotas.reduce((sum, [, size]) => sum + parseQuantity(size), 0);
  return fieldErrorIf(
    total > parseQuantity(args.storageSize),
    "quotas",
    () =>
      `add up to more than storageSize (${args.storageSize}): ` +
      `${quotas.map(([role, size]) => `quotas.${role} ${size}`).join(" + ")} = ` +
      `${formatBytes(total)}; the buckets share one volume, so lower a quota or raise storageSize`,
  );
}

/** Bytes in the largest binary unit that writes them whole, e.g. `12Gi`. */
export function formatBytes(bytes: number): string {
  const units: [string, number][] = [
    ["Ti", 2 ** 40],
    ["Gi", 2 ** 30],
    ["Mi", 2 ** 20],
    ["Ki", 2 ** 10],
  ];
  const unit = units.find(([, factor]) => bytes % factor === 0);
  return unit ? `${bytes / unit[1]}${unit[0]}` : String(bytes);
}

/** Every problem with an ObjectStore's args. */
export function objectStoreRules(
  args: Pick<ObjectStoreArgs, "storageSize" | "buckets" | "quotas">,
): FieldError[] {
  return [
    ...storageSizeErrors("storageSize", args.storageSize, "10Gi"),
    ...bucketRules(args.buckets),
    ...quotaRules(args),
  ];
}
