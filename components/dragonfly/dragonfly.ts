import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { s3SecretKeys } from "../lib/s3";
import { passwordFor, PlatformSecret, type SecretKey } from "../lib/secrets";
import { keepData, serviceHost, statefulServices } from "../lib/stateful";
import { assertValidArgs } from "../lib/validation";
import { dragonflyRules, resolveDragonflyFlags, type DragonflyArgs } from "./args";
import {
  DRAGONFLY_PORT,
  DRAGONFLY_SECRET_KEYS,
  dragonflyStatefulSet,
  snapshotLocation,
  type SnapshotStoreAccess,
} from "./builders";

/**
 * Dragonfly, the Redis-compatible store behind BullMQ: one pod with its snapshots on a PVC or in
 * an S3-compatible bucket (loaded from there at start), a generated password, Prometheus metrics,
 * and the flags BullMQ needs. Queues should use hashtag prefixes (BullMQ's `prefix: "{jobs}"`) for
 * `--lock_on_hashtags` to pay off.
 */
export class Dragonfly extends pulumi.ComponentResource {
  /** In-cluster DNS name of the client Service. */
  public readonly host: pulumi.Output<string>;
  /** Redis port. */
  public readonly port: pulumi.Output<number>;
  /** `redis://:<password>@<host>:6379`, a secret output. */
  public readonly url: pulumi.Output<string>;
  /** Name of the client Service. */
  public readonly service: pulumi.Output<string>;
  /** The Secret with keys `password` and `url`; hash its `content` into consumers' pods. */
  public readonly passwordSecret: PlatformSecret;
  /** The password, for `secretKeyRef`. */
  public readonly password: SecretKey;
  /** The full connection URL, for `secretKeyRef` (the app's `REDIS_URL`). */
  public readonly redisUrl: SecretKey;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;

  constructor(name: string, args: DragonflyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:data:Dragonfly", name, {}, opts);
    assertValidArgs("Dragonfly", dragonflyRules(args));
    const flags = resolveDragonflyFlags(args);
    const image = args.image ?? imageRef("dragonfly");
    this.identity = {
      name: "dragonfly",
      component: "cache",
      instance: args.instance ?? name,
      version: tagOf(image),
    };
    const ports = [{ name: "redis", port: DRAGONFLY_PORT }];

    const { headless, client } = statefulServices(this, name, args.namespace, this.identity, ports);
    this.service = client.metadata.name;
    this.host = serviceHost(name, args.namespace, args.clusterDomain);
    this.port = pulumi.output(DRAGONFLY_PORT);

    const password = passwordFor(`${name}-password`, args.password, { parent: this });
    this.url = pulumi.secret(
      pulumi.interpolate`redis://:${password}@${this.host}:${DRAGONFLY_PORT}`,
    );
    this.passwordSecret = new PlatformSecret(
      `${name}-auth`,
      {
        namespace: args.namespace,
        labels: labelsFor(this.identity),
        data: { [DRAGONFLY_SECRET_KEYS.password]: password, [DRAGONFLY_SECRET_KEYS.url]: this.url },
      },
      { parent: this },
    );
    this.password = this.passwordSecret.key(DRAGONFLY_SECRET_KEYS.password);
    this.redisUrl = this.passwordSecret.key(DRAGONFLY_SECRET_KEYS.url);

    const store = this.storeAccess(name, args);
    this.statefulSet = new k8s.apps.v1.StatefulSet(
      name,
      dragonflyStatefulSet({
        name,
        namespace: args.namespace,
        identity: this.identity,
        image,
        resources: args.resources,
        flags,
        password: this.password,
        snapshots: snapshotLocation(args.snapshotStore),
        store,
        storageSize: args.storageSize,
        storageClass: args.storageClass,
        serviceName: headless.metadata.name,
        // A new password or bucket key must restart Dragonfly, which reads them only at start.
        // Both keys of the pair live in one Secret, so its content covers them.
        configHashOf: [
          this.passwordSecret.content,
          ...(store?.accessKey.content ? [store.accessKey.content] : []),
        ],
      }),
      {
        parent: this,
        ...keepData(args.protect ?? false),
        // Dragonfly exits at start when it cannot list the bucket, so the bucket comes first.
        dependsOn: args.snapshotStore?.dependsOn,
      },
    );

    this.registerOutputs({
      host: this.host,
      port: this.port,
      url: this.url,
      service: this.service,
      passwordSecret: this.passwordSecret.name,
    });
  }

  /** The snapshot bucket's endpoint, region and key pair (given, or kept in a Secret made here). */
  private storeAccess(name: string, args: DragonflyArgs): SnapshotStoreAccess | undefined {
    const store = args.snapshotStore;
    if (store === undefined) return undefined;
    const keys = s3SecretKeys(store.credentials, {
      name: `${name}-s3`,
      namespace: args.namespace,
      labels: labelsFor(this.identity),
      parent: this,
    });
    return { endpoint: store.endpoint, region: store.region ?? "us-east-1", ...keys };
  }
}
