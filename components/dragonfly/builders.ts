import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../../core/images";
import { check, probesFor } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import { s3EndpointParts } from "../../core/s3";
import type { SecretKey } from "../lib/secrets";
import { statefulWorkload, type StatefulWorkloadBase } from "../lib/stateful";
import type { DragonflyFlags } from "./args";

/** The Redis port; Dragonfly also answers HTTP on it (`/metrics`, unauthenticated by design). */
export const DRAGONFLY_PORT = 6379;
/** Where snapshots are written and loaded from without a snapshot store: the PVC. */
export const DRAGONFLY_DATA_DIR = "/data";
/**
 * Snapshot name, without Dragonfly's default `{timestamp}`: each snapshot replaces the previous one
 * instead of piling up, and a restarted pod loads exactly that one. In a bucket it must be so at
 * v1.36.0: its start-up search (`FindMatchingFile`) escapes the braces of `{timestamp}` before
 * substituting it, so no timestamped snapshot in a bucket is ever found and Dragonfly starts empty
 * (fixed in v1.37.0, dragonflydb/dragonfly#6400).
 */
export const DRAGONFLY_DBFILENAME = "dump";
/** Keys of the credentials Secret. */
export const DRAGONFLY_SECRET_KEYS = { password: "password", url: "url" } as const;
/** Time to write the snapshot Dragonfly saves on SIGTERM before the kubelet kills it. */
const SHUTDOWN_GRACE_SECONDS = 120;
/** How long loading a large snapshot at start may keep the port closed before liveness counts. */
const STARTUP_SECONDS = 300;

/**
 * Dragonfly's command-line flags. Flags only: the image's entrypoint prepends `dragonfly
 * --logtostderr` when the first argument is a flag. The password is not among them: it arrives as
 * `DFLY_requirepass` from the Secret, so it never shows in the pod spec or the process list.
 */
export function dragonflyCommandLine(flags: DragonflyFlags, snapshots = volumeSnapshots): string[] {
  return [
    `--port=${DRAGONFLY_PORT}`,
    `--dir=${snapshots.dir}`,
    `--dbfilename=${snapshots.dbfilename}`,
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

/** Where Dragonfly saves snapshots and, at start, looks for the one to load. */
export interface SnapshotLocation {
  /** `--dir`: a folder, or `s3://bucket/prefix/`. */
  dir: string;
  /** `--dbfilename`: the name each snapshot's files start with. */
  dbfilename: string;
}

const volumeSnapshots: SnapshotLocation = {
  dir: DRAGONFLY_DATA_DIR,
  dbfilename: DRAGONFLY_DBFILENAME,
};

/**
 * The snapshots' location: the volume, or a bucket's folder. The trailing `/` matters at v1.36:
 * at start Dragonfly lists the objects under the text after the bucket with `/` as delimiter, so
 * without it the listing holds only the folder itself, no snapshot is found and it starts empty.
 */
export function snapshotLocation(store?: { bucket: string; prefix: string }): SnapshotLocation {
  return store === undefined
    ? volumeSnapshots
    : { dir: `s3://${store.bucket}/${store.prefix}/`, dbfilename: DRAGONFLY_DBFILENAME };
}

/** How Dragonfly reaches a snapshot bucket, as {@link snapshotStoreEnv} passes it. */
export interface SnapshotStoreAccess {
  /** `http(s)://host[:port]`. */
  endpoint: pulumi.Input<string>;
  region: string;
  accessKey: SecretKey;
  secretKey: SecretKey;
}

/**
 * The bucket's endpoint and credentials as environment variables. The key pair reaches the AWS SDK
 * inside Dragonfly through its environment provider, only from the Secret. The endpoint goes in as
 * `DFLY_s3_endpoint` and `DFLY_s3_use_https`, which Dragonfly reads as its `--s3_endpoint` and
 * `--s3_use_https` flags: as a value in the pod spec the policy pack can see which port an
 * external endpoint opens to the internet, as it does for the backup's `S3_ENDPOINT`.
 */
export function snapshotStoreEnv(access: SnapshotStoreAccess): k8s.types.input.core.v1.EnvVar[] {
  const parts = pulumi.output(access.endpoint).apply((endpoint) => {
    const found = s3EndpointParts(endpoint);
    if (found === undefined) throw new Error(`not an http(s)://host[:port] endpoint: ${endpoint}`);
    return found;
  });
  return [
    { name: "DFLY_s3_endpoint", value: parts.hostPort },
    { name: "DFLY_s3_use_https", value: parts.apply(({ https }) => String(https)) },
    { name: "AWS_REGION", value: access.region },
    access.accessKey.env("AWS_ACCESS_KEY_ID"),
    access.secretKey.env("AWS_SECRET_ACCESS_KEY"),
  ];
}

/** What {@link dragonflyStatefulSet} builds from. */
export interface DragonflyWorkloadSpec extends StatefulWorkloadBase {
  image: string;
  resources: ResourceSpec;
  flags: DragonflyFlags;
  /** The password key, read into `DFLY_requirepass`. */
  password: SecretKey;
  /** Where snapshots go. @default the volume */
  snapshots?: SnapshotLocation;
  /** How to reach the snapshot bucket, when there is one. */
  store?: SnapshotStoreAccess;
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
  const { image, resources, flags, password, snapshots, store, ...stateful } = spec;
  return statefulWorkload({
    ...stateful,
    container: {
      image,
      args: dragonflyCommandLine(flags, snapshots),
      ports: [{ name: "redis", containerPort: DRAGONFLY_PORT }],
      // Dragonfly exits on any DFLY_* variable that is not one of its flags; the pod template turns
      // Service links off, so a Service named `dfly` cannot inject DFLY_PORT and the like.
      env: [password.env("DFLY_requirepass"), ...(store ? snapshotStoreEnv(store) : [])],
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
