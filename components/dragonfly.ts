import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DRAGONFLY_MIB_PER_THREAD, dragonflyMaxMemoryMiB } from "../config";
import { IMAGES, imageRef, tagOf } from "./lib/images";
import { labelsFor, type WorkloadIdentity } from "./lib/labels";
import { check, probesFor } from "./lib/probes";
import { QUANTITY_PATTERN, toMebibytes } from "./lib/quantity";
import { memoryCeiling, type ResourceSpec } from "./lib/resources";
import { generatedPassword, PlatformSecret, type SecretKey } from "./lib/secrets";
import {
  keepData,
  serviceHost,
  statefulServices,
  statefulWorkload,
  type StatefulWorkloadBase,
} from "./lib/stateful";

/** The Redis port; Dragonfly also answers HTTP on it (`/metrics`, unauthenticated by design). */
export const DRAGONFLY_PORT = 6379;
/** Where snapshots are written and loaded from: the PVC. */
export const DRAGONFLY_DATA_DIR = "/data";
/**
 * Snapshot name without Dragonfly's default `{timestamp}`: each snapshot replaces the previous one
 * instead of filling the volume, and a restarted pod loads exactly that file.
 */
export const DRAGONFLY_DBFILENAME = "dump";
/** Keys of the credentials Secret. */
export const DRAGONFLY_SECRET_KEYS = { password: "password", url: "url" } as const;
/** Time to write the snapshot Dragonfly saves on SIGTERM before the kubelet kills it. */
const SHUTDOWN_GRACE_SECONDS = 120;
/** How long loading a large snapshot at start may keep the port closed before liveness counts. */
const STARTUP_SECONDS = 300;

/** Arguments of a {@link Dragonfly}. */
export interface DragonflyArgs {
  /** Namespace of every object it creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its labels. @default the component's name */
  instance?: string;
  /**
   * Image reference; its process must run as the catalogue image's UID (999).
   * @default the catalogue's `dragonfly`
   */
  image?: string;
  /** Requests and limits of the container; `maxMemoryMiB` defaults from the memory limit. */
  resources: ResourceSpec;
  /** `--proactor_threads`; `Platform` passes `dragonflyThreads(config)`. */
  threads: number;
  /**
   * `--maxmemory` in MiB: at least 256 per thread, at most the memory limit.
   * @default `dragonflyMaxMemoryMiB(resources)`, 80% of the memory limit
   */
  maxMemoryMiB?: number;
  /** Size of the snapshot volume, e.g. `1Gi`. */
  storageSize: string;
  /** StorageClass of the snapshot volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /** Five-field cron schedule of snapshots (`--snapshot_cron`), e.g. `0 * * * *` (hourly). */
  snapshotCron: string;
  /** Protect the StatefulSet and retain it on delete (prod). @default false */
  protect?: boolean;
  /** Kubernetes cluster domain, for the Service host name. @default "cluster.local" */
  clusterDomain?: string;
}

/** The settings Dragonfly's command line is built from. */
export interface DragonflyFlags {
  threads: number;
  maxMemoryMiB: number;
  snapshotCron: string;
}

function invalid(propertyPath: string, reason: string): never {
  throw new pulumi.InputPropertyError({ propertyPath, reason });
}

/**
 * Validates the args and resolves the flag settings. Dragonfly itself exits at start when
 * maxmemory is below 256 MiB per thread (`RunEngine` in dfly_main.cc); this says so at preview.
 */
export function dragonflyFlags(args: DragonflyArgs): DragonflyFlags {
  if (!Number.isInteger(args.threads) || args.threads < 1) {
    invalid("threads", `must be a whole number of at least 1 (got ${args.threads})`);
  }
  const maxMemoryMiB = args.maxMemoryMiB ?? dragonflyMaxMemoryMiB(args.resources);
  const needed = args.threads * DRAGONFLY_MIB_PER_THREAD;
  if (!Number.isInteger(maxMemoryMiB) || maxMemoryMiB < needed) {
    invalid(
      "maxMemoryMiB",
      `Dragonfly needs ${DRAGONFLY_MIB_PER_THREAD} MiB per thread: ${args.threads} thread(s) need ` +
        `${needed} MiB, got ${maxMemoryMiB}; raise resources.memoryLimit or lower threads`,
    );
  }
  const ceilingMiB = toMebibytes(memoryCeiling(args.resources));
  if (maxMemoryMiB > ceilingMiB) {
    invalid(
      "maxMemoryMiB",
      `${maxMemoryMiB} MiB exceeds the container's memory limit (${ceilingMiB} MiB): the kernel ` +
        `would kill Dragonfly before it starts evicting; leave maxMemoryMiB unset to derive it`,
    );
  }
  if (!QUANTITY_PATTERN.test(args.storageSize)) {
    invalid("storageSize", `must be a quantity such as 1Gi (got "${args.storageSize}")`);
  }
  if (!/^(\S+\s+){4}\S+$/.test(args.snapshotCron)) {
    invalid("snapshotCron", `must be a five-field cron schedule (got "${args.snapshotCron}")`);
  }
  return { threads: args.threads, maxMemoryMiB, snapshotCron: args.snapshotCron };
}

/**
 * Dragonfly's command-line flags. Flags only: the image's entrypoint prepends `dragonfly
 * --logtostderr` when the first argument is a flag. The password is not among them: it arrives as
 * `DFLY_requirepass` from the Secret, so it never shows in the pod spec or the process list.
 */
export function dragonflyArgs(flags: DragonflyFlags): string[] {
  return [
    `--port=${DRAGONFLY_PORT}`,
    `--dir=${DRAGONFLY_DATA_DIR}`,
    `--dbfilename=${DRAGONFLY_DBFILENAME}`,
    `--snapshot_cron=${flags.snapshotCron}`,
    // Dragonfly reads "mb" as MiB (helio's ParseHumanReadableBytes scales by 1024).
    `--maxmemory=${flags.maxMemoryMiB}mb`,
    `--proactor_threads=${flags.threads}`,
    // BullMQ's Lua scripts touch keys they do not declare. With `{queue}` hashtag prefixes, these
    // two flags make Dragonfly lock a queue's whole hashtag, which covers those keys (Dragonfly's
    // BullMQ guide); the alternative, allow-undeclared-keys, is much slower.
    "--cluster_mode=emulated",
    "--lock_on_hashtags",
    // The daily release check calls dragonflydb.io, an egress the network policies do not allow.
    "--version_check=false",
  ];
}

/** What {@link dragonflyStatefulSet} builds from. */
export interface DragonflyWorkloadSpec extends StatefulWorkloadBase {
  image: string;
  resources: ResourceSpec;
  flags: DragonflyFlags;
  /** The password key, read into `DFLY_requirepass`. */
  password: SecretKey;
}

/**
 * The StatefulSet. About `memlock`: Dragonfly's docs ask for it unlimited because io_uring rings
 * were charged to RLIMIT_MEMLOCK before Linux 5.12. A pod cannot raise an rlimit, and CAP_IPC_LOCK
 * is outside Pod Security `restricted`, so we run without it. That is safe: at start Dragonfly
 * (v1.36 `ShouldUseEpollAPI`) creates a test ring and switches to epoll, with a warning, if that
 * fails: ENOMEM on an old kernel with a small memlock limit, or EPERM where RuntimeDefault seccomp
 * blocks io_uring (containerd 2.0 and later). Newer kernels charge the ring to the memory cgroup.
 * The entrypoint's own `ulimit -l` fails silently. Cost: epoll is somewhat slower than io_uring.
 */
export function dragonflyStatefulSet(spec: DragonflyWorkloadSpec): k8s.apps.v1.StatefulSetArgs {
  const { image, resources, flags, password, ...stateful } = spec;
  return statefulWorkload({
    ...stateful,
    container: {
      image,
      args: dragonflyArgs(flags),
      ports: [{ name: "redis", containerPort: DRAGONFLY_PORT }],
      // Dragonfly exits on any DFLY_* variable that is not one of its flags; the pod template turns
      // Service links off, so a Service named `dfly` cannot inject DFLY_PORT and the like.
      env: [password.env("DFLY_requirepass")],
      resources,
      // Readiness asks the HTTP server on the Redis port, which answers /metrics without a password;
      // liveness only needs the port open, so a slow metrics scrape never restarts the pod.
      probes: probesFor(check.http("/metrics", "redis"), {
        liveness: check.tcp("redis"),
        startupSeconds: STARTUP_SECONDS,
      }),
    },
    dataDir: DRAGONFLY_DATA_DIR,
    pod: {
      security: { runAsUser: IMAGES.dragonfly.uid },
      terminationGracePeriodSeconds: SHUTDOWN_GRACE_SECONDS,
    },
    scrape: { port: DRAGONFLY_PORT, path: "/metrics" },
  });
}

/**
 * Dragonfly, the Redis-compatible store behind BullMQ: one pod with its snapshots on a PVC, a
 * generated password, Prometheus metrics, and the flags BullMQ needs. Queues should use hashtag
 * prefixes (BullMQ's `prefix: "{jobs}"`) for `--lock_on_hashtags` to pay off.
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
    const flags = dragonflyFlags(args);
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

    const password = generatedPassword(`${name}-password`, { parent: this });
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
        storageSize: args.storageSize,
        storageClass: args.storageClass,
        serviceName: headless.metadata.name,
        // A new password must restart Dragonfly, which reads it only at start.
        configHashOf: [this.passwordSecret.content],
      }),
      { parent: this, ...keepData(args.protect ?? false) },
    );

    this.registerOutputs({
      host: this.host,
      port: this.port,
      url: this.url,
      service: this.service,
      passwordSecret: this.passwordSecret.name,
    });
  }
}
