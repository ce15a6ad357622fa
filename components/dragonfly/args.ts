import type * as pulumi from "@pulumi/pulumi";
import { cronProblem } from "../../core/cron";
import { parseQuantity, toMebibytes } from "../../core/quantity";
import {
  fieldErrorIf,
  type FieldError,
  type Settings,
  storageSizeErrors,
} from "../../core/validation";
import { memoryCeiling, type ResourceSpec } from "../lib/resources";
import { S3_KEY_PREFIX, s3EndpointParts } from "../../core/s3";
import type { S3KeyPair } from "../lib/s3";

/**
 * Smallest memory Dragonfly accepts per proactor thread: below it, Dragonfly exits at start
 * (`RunEngine` in dfly_main.cc). Its rules say so at preview instead.
 */
export const DRAGONFLY_MIB_PER_THREAD = 256;
/** Share of the container's memory ceiling given to `--maxmemory`; the rest is overhead. */
export const DRAGONFLY_MAXMEMORY_FRACTION = 0.8;

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
  /**
   * `--proactor_threads`. @default one per whole CPU of the CPU limit (else of the request), at
   * least 1: {@link dragonflyThreads}
   */
  threads?: number;
  /**
   * `--maxmemory` in MiB: at least 256 per thread, at most the memory limit.
   * @default 80% of the memory limit: {@link dragonflyMaxMemoryMiB}
   */
  maxMemoryMiB?: number;
  /** Size of the snapshot volume, e.g. `1Gi`. */
  storageSize: string;
  /** StorageClass of the snapshot volume. @default the cluster's default StorageClass */
  storageClass?: pulumi.Input<string>;
  /** Five-field cron schedule of snapshots (`--snapshot_cron`), e.g. `0 * * * *` (hourly). */
  snapshotCron: string;
  /**
   * Send the snapshots to an S3-compatible bucket instead of the volume; at start Dragonfly loads
   * the snapshot from there. @default none: snapshots on the volume
   */
  snapshotStore?: DragonflySnapshotStore;
  /** The password clients use, given instead of generated. @default generated with `@pulumi/random` */
  password?: pulumi.Input<string>;
  /** Protect the StatefulSet and retain it on delete (prod). @default false */
  protect?: boolean;
  /** Kubernetes cluster domain, for the Service host name. @default "cluster.local" */
  clusterDomain?: string;
}

/** An S3-compatible bucket that holds Dragonfly's snapshots. */
export interface DragonflySnapshotStore {
  /**
   * S3 endpoint URL, `http(s)://host[:port]` without a path, e.g.
   * `http://object-store.platform.svc.cluster.local:9000`; Dragonfly addresses it path-style.
   */
  endpoint: pulumi.Input<string>;
  /** Bucket; it must exist before Dragonfly starts, or Dragonfly exits at start. */
  bucket: string;
  /** Folder in the bucket: letters, digits and `. _ - /`, no leading or trailing `/`. */
  prefix: string;
  /** S3 region of the bucket (`AWS_REGION`). @default "us-east-1" */
  region?: string;
  /** Key pair of a user that may list, read and write under the prefix. */
  credentials: S3KeyPair;
  /**
   * What must exist before Dragonfly starts: the bucket and its user (the bucket Job).
   * @default nothing (the bucket exists already)
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * The part of the snapshot store a stack config gives before any resource exists: the endpoint
 * only when it is a value (an external target's), which the rules then check.
 */
export type DragonflySnapshotSettings = Pick<DragonflySnapshotStore, "prefix" | "region"> &
  Partial<Pick<DragonflySnapshotStore, "endpoint">>;

/** What {@link dragonflyRules} read: the settings, with only the plain part of the store. */
export type DragonflySettings = Omit<Settings<DragonflyArgs>, "snapshotStore"> & {
  snapshotStore?: DragonflySnapshotSettings;
};

/** Threads Dragonfly runs by default: one per whole CPU of its limit (else request), at least 1. */
export function dragonflyThreads(resources: ResourceSpec): number {
  return Math.max(1, Math.floor(parseQuantity(resources.cpuLimit ?? resources.cpu)));
}

/** Default `--maxmemory` in MiB: {@link DRAGONFLY_MAXMEMORY_FRACTION} of the memory ceiling. */
export function dragonflyMaxMemoryMiB(resources: ResourceSpec): number {
  return Math.floor(
    (parseQuantity(memoryCeiling(resources)) / 2 ** 20) * DRAGONFLY_MAXMEMORY_FRACTION,
  );
}

/** The settings Dragonfly's command line is built from, defaults applied. */
export interface DragonflyFlags {
  threads: number;
  maxMemoryMiB: number;
  snapshotCron: string;
}

/** The flag settings of valid args, with their documented defaults filled in. */
export function resolveDragonflyFlags(args: DragonflySettings): DragonflyFlags {
  return {
    threads: args.threads ?? dragonflyThreads(args.resources),
    maxMemoryMiB: args.maxMemoryMiB ?? dragonflyMaxMemoryMiB(args.resources),
    snapshotCron: args.snapshotCron,
  };
}

/** Every problem with the snapshot store's plain settings, by their paths (`snapshotStore.prefix`). */
function snapshotStoreRules(store: DragonflySnapshotSettings | undefined): FieldError[] {
  if (store === undefined) return [];
  const { prefix, endpoint } = store;
  return [
    ...fieldErrorIf(
      !S3_KEY_PREFIX.test(prefix),
      "snapshotStore.prefix",
      () =>
        `"${prefix}" must be letters, digits and . _ - / without a leading, trailing or doubled '/'`,
    ),
    ...fieldErrorIf(
      typeof endpoint === "string" && s3EndpointParts(endpoint) === undefined,
      "snapshotStore.endpoint",
      () =>
        `"${String(endpoint)}" must be http(s)://host[:port] with nothing after it: Dragonfly takes a ` +
        `host and a scheme (--s3_endpoint, --s3_use_https) and puts the bucket right after the host`,
    ),
  ];
}

/** Every problem with a Dragonfly's args. */
export function dragonflyRules(args: DragonflySettings): FieldError[] {
  const { threads, maxMemoryMiB } = resolveDragonflyFlags(args);
  const needed = threads * DRAGONFLY_MIB_PER_THREAD;
  const ceilingMiB = toMebibytes(memoryCeiling(args.resources));
  return [
    ...fieldErrorIf(
      !Number.isInteger(threads) || threads < 1,
      "threads",
      () => `must be a whole number of at least 1 (got ${threads})`,
    ),
    ...fieldErrorIf(
      !Number.isInteger(maxMemoryMiB) || maxMemoryMiB < needed,
      "maxMemoryMiB",
      () =>
        `gives Dragonfly ${maxMemoryMiB} MiB of maxmemory for ${threads} thread(s), but it needs ` +
        `${DRAGONFLY_MIB_PER_THREAD} MiB per thread (${needed} MiB); raise the memory limit or ` +
        `lower the thread count`,
    ),
    ...fieldErrorIf(
      maxMemoryMiB > ceilingMiB,
      "maxMemoryMiB",
      () =>
        `${maxMemoryMiB} MiB exceeds the container's memory limit (${ceilingMiB} MiB): the ` +
        `kernel would kill Dragonfly before it starts evicting; leave maxMemoryMiB unset to derive it`,
    ),
    ...storageSizeErrors("storageSize", args.storageSize, "1Gi"),
    ...fieldErrorIf(
      cronProblem(args.snapshotCron) !== undefined,
      "snapshotCron",
      () => cronProblem(args.snapshotCron) as string,
    ),
    ...snapshotStoreRules(args.snapshotStore),
  ];
}
