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
  /** The password clients use, given instead of generated. @default generated with `@pulumi/random` */
  password?: pulumi.Input<string>;
  /** Protect the StatefulSet and retain it on delete (prod). @default false */
  protect?: boolean;
  /** Kubernetes cluster domain, for the Service host name. @default "cluster.local" */
  clusterDomain?: string;
}

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
export function resolveDragonflyFlags(args: Settings<DragonflyArgs>): DragonflyFlags {
  return {
    threads: args.threads ?? dragonflyThreads(args.resources),
    maxMemoryMiB: args.maxMemoryMiB ?? dragonflyMaxMemoryMiB(args.resources),
    snapshotCron: args.snapshotCron,
  };
}

/** Every problem with a Dragonfly's args. */
export function dragonflyRules(args: Settings<DragonflyArgs>): FieldError[] {
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
  ];
}
