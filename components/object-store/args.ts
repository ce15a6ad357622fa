import type * as pulumi from "@pulumi/pulumi";
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
          `"${name}" is also the bucket of ${sharer}: each consumer's user is scoped to its own ` +
          `bucket, and two sharing one would read and delete each other's objects (the backup ` +
          `job prunes old dumps); give each its own name`,
      ),
    ];
  });
}

/** Every problem with an ObjectStore's args. */
export function objectStoreRules(
  args: Pick<ObjectStoreArgs, "storageSize" | "buckets">,
): FieldError[] {
  return [
    ...storageSizeErrors("storageSize", args.storageSize, "10Gi"),
    ...bucketRules(args.buckets),
  ];
}
