import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { configHashAnnotation } from "../lib/hash";
import { passwordFor, PlatformSecret } from "../lib/secrets";
import { keepData, serviceHost, statefulServices } from "../lib/stateful";
import { assertValidArgs } from "../lib/validation";
import { objectStoreRules, type ObjectStoreArgs } from "./args";
import {
  bucketJobArgs,
  bucketJobName,
  bucketPlan,
  type BucketPlan,
  type BucketRole,
  S3_SECRET_KEYS,
  type S3Credentials,
} from "./buckets";
import {
  OBJECT_STORE_API_PORT,
  OBJECT_STORE_CONSOLE_PORT,
  OBJECT_STORE_ROOT_USER,
  objectStoreStatefulSet,
} from "./builders";

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
    assertValidArgs("ObjectStore", objectStoreRules(args));
    const plan = bucketPlan(args.buckets, args.quotas);
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

    this.rootCredentials = this.credentials(name, args, "root", OBJECT_STORE_ROOT_USER);
    // Each user is named after its role, which reads well in the console; its secret key guards it.
    this.users = Object.fromEntries(
      plan.users.map((user) => [user.role, this.credentials(name, args, user.role, user.role)]),
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
    this.bucketJob = this.createBucketJob(name, args, plan, clientImage);

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
    if (!credentials) throw this.noBucketFor(role);
    return credentials;
  }

  /** The bucket of a consumer role. */
  bucketFor(role: BucketRole): string {
    const bucket = this.bucketNames[role];
    if (bucket === undefined) throw this.noBucketFor(role);
    return bucket;
  }

  /** Asking for a role the args gave no bucket is a bug in the program, not in its args. */
  private noBucketFor(role: BucketRole): Error {
    return new Error(
      `ObjectStore has no bucket for "${role}"; it serves: ${Object.keys(this.users).join(", ")}`,
    );
  }

  /** A key pair in its own Secret: the access key and a secret key, given or generated. */
  private credentials(
    name: string,
    args: ObjectStoreArgs,
    suffix: string,
    accessKey: string,
  ): S3Credentials {
    const secret = new PlatformSecret(
      `${name}-${suffix}-credentials`,
      {
        namespace: args.namespace,
        labels: labelsFor(this.identity),
        data: {
          [S3_SECRET_KEYS.accessKey]: accessKey,
          [S3_SECRET_KEYS.secretKey]: passwordFor(
            `${name}-${suffix}-secret-key`,
            args.secretKeys?.[suffix as "root" | BucketRole],
            { parent: this },
          ),
        },
      },
      { parent: this },
    );
    return {
      accessKey: secret.key(S3_SECRET_KEYS.accessKey),
      secretKey: secret.key(S3_SECRET_KEYS.secretKey),
      secret,
    };
  }

  /** The Job that creates every bucket and user, named after what it does so a change reruns it. */
  private createBucketJob(
    name: string,
    args: ObjectStoreArgs,
    plan: BucketPlan,
    clientImage: string,
  ): k8s.batch.v1.Job {
    const jobName = bucketJobName(name, plan, clientImage);
    return new k8s.batch.v1.Job(
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
  }
}
