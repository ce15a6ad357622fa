export {
  DRAGONFLY_MAXMEMORY_FRACTION,
  DRAGONFLY_MIB_PER_THREAD,
  dragonflyMaxMemoryMiB,
  dragonflyRules,
  dragonflyThreads,
  resolveDragonflyFlags,
  type DragonflyArgs,
  type DragonflyFlags,
  type DragonflySettings,
  type DragonflySnapshotSettings,
  type DragonflySnapshotStore,
} from "./args";
export {
  DRAGONFLY_DATA_DIR,
  DRAGONFLY_DBFILENAME,
  DRAGONFLY_PORT,
  DRAGONFLY_S3_DBFILENAME,
  DRAGONFLY_SECRET_KEYS,
  dragonflyCommandLine,
  dragonflyStatefulSet,
  snapshotLocation,
  snapshotStoreEnv,
  type DragonflyWorkloadSpec,
  type SnapshotLocation,
  type SnapshotStoreAccess,
} from "./builders";
export { Dragonfly } from "./dragonfly";
