import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation } from "../lib/hash";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../core/labels";
import { check, probesFor } from "../lib/probes";
import { QUANTITY_PATTERN } from "../../core/quantity";
import type { ResourceSpec } from "../lib/resources";
import { generatedPassword, PlatformSecret } from "../lib/secrets";
import {
  keepData,
  serviceHost,
  statefulServices,
  statefulWorkload,
  type StatefulWorkloadBase,
} from "../lib/stateful";
import {
  bucketJobArgs,
  bucketJobName,
  bucketPlan,
  type BucketRole,
  S3_SECRET_KEYS,
  type S3Credentials,
} from "./buckets";

export {
  BUCKET_JOB_LIMITS,
  bucketJobArgs,
  bucketJobName,
  bucketPlan,
  bucketPolicy,
  BucketRole,
  bucketScript,
  S3_SECRET_KEYS,
  type BucketPlan,
  type BucketUser,
  type S3Credentials,
} from "./buckets";

/** S3 API port. */
export const OBJECT_STORE_API_PORT = 9000;
/** Web console port. */
export const OBJECT_STORE_CONSOLE_PORT = 9001;
/** Root user name; only its password is generated (a user name guards nothing). */
export const OBJECT_STORE_ROOT_USER = "root";

/**
 * Arguments of an {@link ObjectStore}.
 *
 * The default image is MinIO's last community release; MinIO stopped publishing community images
 * in late 2025. To move on, set `image` to another build that runs `minio server` with MinIO's
 * environment and health endpoints (a self-built or third-party MinIO image, pinned by digest;
 * `runAsUser` if its user differs), or skip this component and hand consumers an external S3
 * endpoint, bucket names and a credentials Secret per consumer (shaped as {@link S3Credentials}).
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
  /** Bucket per consumer; only the roles given get a bucket and a user (at least one). */
  buckets: Partial<Record<BucketRole, string>>;
  /** Protect the StatefulSet and retain it on delete (prod). @default false */
  protect?: boolean;
  /** Kubernetes cluster domain, for the Service host name. @default "cluster.local" */
  clusterDomain?: string;
}

/** What {@link objectStoreStatefulSet} builds from. */
export interface ObjectStoreWorkloadSpec extends StatefulWorkloadBase {
  image: string;
  runAsUser: number;
  resources: ResourceSpec;
  root: S3Credentials;
}

/** The server: one drive on a PVC, S3 API and console, root credentials from the Secret. */
export function objectStoreStatefulSet(spec: ObjectStoreWorkloadSpec): k8s.apps.v1.StatefulSetArgs {
  const { image, runAsUser, resources, root, ...stateful } = spec;
  return statefulWorkload({
    ...stateful,
    container: {
      image,
      // The binary, not the image's entrypoint script: a replacement image need only ship `minio`.
      command: ["minio"],
      args: [
        "server",
        "/data",
        `--address=:${OBJECT_STORE_API_PORT}`,
        `--console-address=:${OBJECT_STORE_CONSOLE_PORT}`,
        // Default is ~/.minio/certs, on the read-only root filesystem.
        "--certs-dir=/tmp/certs",
      ],
      ports: [
        { name: "api", containerPort: OBJECT_STORE_API_PORT },
        { name: "console", containerPort: OBJECT_STORE_CONSOLE_PORT },
      ],
      env: [
        root.accessKey.env("MINIO_ROOT_USER"),
        root.secretKey.env("MINIO_ROOT_PASSWORD"),
        // The update check calls dl.min.io, an egress the network policies do not allow.
        { name: "MINIO_UPDATE", value: "off" },
      ],
      resources,
      probes: probesFor(check.http("/minio/health/ready", "api"), {
        liveness: check.http("/minio/health/live", "api"),
        startupSeconds: 120,
      }),
    },
    dataDir: "/data",
    pod: { security: { runAsUser } },
  });
}

/**
 * An S3-compatible object store (MinIO, one drive): StatefulSet, API and console Services, a
 * generated root password, and a Job that creates one bucket and one bucket-scoped user per
 * consumer, each user's key pair in its own Secret.
 */
export class ObjectStore extends pulumi.ComponentResource {
  /** `http://<host>:9000`, the S3 endpoint consumers use (path-style addressing). */
  public readonly endpoint: pulumi.Output<string>;
  /** In-cluster DNS name of the client Service. */
  public readonly host: pulumi.Output<string>;
  /** S3 API port. */
  public readonly port: pulumi.Output<number>;
  /** Console port on the same Service. */
  public readonly consolePort: pulumi.Output<number>;
  /** Name of the client Service. */
  public readonly service: pulumi.Output<string>;
  /** Bucket name per consumer role. */
  public readonly buckets: pulumi.Output<Partial<Record<BucketRole, string>>>;
  /** The root key pair: for administration only, never for a consumer. */
  public readonly rootCredentials: S3Credentials;
  /** The server StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;
  /** The bucket Job, for `dependsOn`: when it is Complete, every bucket and user exists. */
  public readonly bucketJob: k8s.batch.v1.Job;
  /** Labels of the server pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** Labels of the bucket Job's pods, which must reach the server. */
  public readonly bucketJobIdentity: WorkloadIdentity;
  private readonly users: Record<string, S3Credentials>;
  private readonly bucketNames: Partial<Record<BucketRole, string>>;

  constructor(name: string, args: ObjectStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:storage:ObjectStore", name, {}, opts);
    const plan = bucketPlan(args.buckets);
    if (!QUANTITY_PATTERN.test(args.storageSize)) {
      throw new pulumi.InputPropertyError({
        propertyPath: "storageSize",
        reason: `must be a quantity such as 10Gi (got "${args.storageSize}")`,
      });
    }
    const image = args.image ?? imageRef("minio");
    const clientImage = args.clientImage ?? imageRef("minioClient");
    const instance = args.instance ?? name;
    this.identity = { name: "minio", component: "object-store", instance, version: tagOf(image) };
    this.bucketJobIdentity = {
      name: "minio-client",
      component: "object-store-setup",
      instance,
      version: tagOf(clientImage),
    };
    this.bucketNames = Object.fromEntries(plan.users.map((user) => [user.role, user.bucket]));
    this.buckets = pulumi.output(this.bucketNames);

    const ports = [
      { name: "api", port: OBJECT_STORE_API_PORT },
      { name: "console", port: OBJECT_STORE_CONSOLE_PORT },
    ];
    const { headless, client } = statefulServices(this, name, args.namespace, this.identity, ports);
    this.service = client.metadata.name;
    this.host = serviceHost(name, args.namespace, args.clusterDomain);
    this.port = pulumi.output(OBJECT_STORE_API_PORT);
    this.consolePort = pulumi.output(OBJECT_STORE_CONSOLE_PORT);
    this.endpoint = pulumi.interpolate`http://${this.host}:${OBJECT_STORE_API_PORT}`;

    const credentials = (suffix: string, accessKey: string): S3Credentials => {
      const secret = new PlatformSecret(
        `${name}-${suffix}-credentials`,
        {
          namespace: args.namespace,
          labels: labelsFor(this.identity),
          data: {
            [S3_SECRET_KEYS.accessKey]: accessKey,
            [S3_SECRET_KEYS.secretKey]: generatedPassword(`${name}-${suffix}-secret-key`, {
              parent: this,
            }),
          },
        },
        { parent: this },
      );
      return {
        accessKey: secret.key(S3_SECRET_KEYS.accessKey),
        secretKey: secret.key(S3_SECRET_KEYS.secretKey),
        secret,
      };
    };
    this.rootCredentials = credentials("root", OBJECT_STORE_ROOT_USER);
    // Each user is named after its role, which reads well in the console; its secret key guards it.
    this.users = Object.fromEntries(
      plan.users.map((user) => [user.role, credentials(user.role, user.role)]),
    );

    this.statefulSet = new k8s.apps.v1.StatefulSet(
      name,
      objectStoreStatefulSet({
        name,
        namespace: args.namespace,
        identity: this.identity,
        image,
        runAsUser: args.runAsUser ?? IMAGES.minio.uid,
        resources: args.resources,
        root: this.rootCredentials,
        storageSize: args.storageSize,
        storageClass: args.storageClass,
        serviceName: headless.metadata.name,
        // The server reads its root credentials only at start.
        configHashOf: [this.rootCredentials.secret.content],
      }),
      { parent: this, ...keepData(args.protect ?? false) },
    );

    const jobName = bucketJobName(name, plan, clientImage);
    this.bucketJob = new k8s.batch.v1.Job(
      jobName,
      bucketJobArgs({
        name: jobName,
        namespace: args.namespace,
        identity: this.bucketJobIdentity,
        image: clientImage,
        plan,
        server: pulumi.interpolate`${this.host}:${OBJECT_STORE_API_PORT}`,
        root: this.rootCredentials,
        users: this.users,
        // A rotated key pair replaces the Job, so the server learns the new one.
        podAnnotations: configHashAnnotation(
          this.rootCredentials.secret.content,
          ...Object.values(this.users).map((user) => user.secret.content),
        ),
      }),
      { parent: this, dependsOn: [this.statefulSet] },
    );

    this.registerOutputs({
      endpoint: this.endpoint,
      host: this.host,
      port: this.port,
      consolePort: this.consolePort,
      service: this.service,
      buckets: this.buckets,
      bucketJob: this.bucketJob.metadata.name,
    });
  }

  /** The key pair of a consumer's user, which may use only that consumer's bucket. */
  credentialsFor(role: BucketRole): S3Credentials {
    const credentials = this.users[role];
    if (!credentials) {
      throw new Error(
        `ObjectStore has no bucket for "${role}"; it serves: ${Object.keys(this.users).join(", ")}`,
      );
    }
    return credentials;
  }

  /** The bucket of a consumer role. */
  bucketFor(role: BucketRole): string {
    const bucket = this.bucketNames[role];
    if (bucket === undefined) {
      throw new Error(
        `ObjectStore has no bucket for "${role}"; it serves: ${Object.keys(this.users).join(", ")}`,
      );
    }
    return bucket;
  }
}
