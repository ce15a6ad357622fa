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
  type DragonflySnapshotStore,
} from "./args";
export {
  DRAGONFLY_DATA_DIR,
  DRAGONFLY_DBFILENAME,
  DRAGONFLY_PORT,
  DRAGONFLY_SECRET_KEYS,
  dragonflyCommandLine,
  dragonflyStatefulSet,
  snapshotLocation,
  type DragonflyWorkloadSpec,
} from "./builders";
export { Dragonfly } from "./dragonfly";
