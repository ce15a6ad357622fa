import type * as k8s from "@pulumi/kubernetes";
import { IMAGES } from "../../core/images";
import { check, probesFor } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import { statefulWorkload, type StatefulWorkloadBase } from "../lib/stateful";
import type { DragonflyFlags } from "./args";

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

/**
 * Dragonfly's command-line flags. Flags only: the image's entrypoint prepends `dragonfly
 * --logtostderr` when the first argument is a flag. The password is not among them: it arrives as
 * `DFLY_requirepass` from the Secret, so it never shows in the pod spec or the process list.
 */
export function dragonflyCommandLine(flags: DragonflyFlags): string[] {
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
      args: dragonflyCommandLine(flags),
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
