import type { z } from "zod";
import { DEPLOY_TARGET_PRESETS } from "../components/deploy-target/sizing";
import { APP_DEFAULTS } from "../components/app/args";
import { OLLAMA_DEFAULTS } from "../components/ollama/args";
import { GROUPING_DEFAULTS } from "../components/observability/alertmanager-config";
import { PGBOUNCER_DRAIN_SECONDS } from "../components/pgbouncer/args";
import type { ResourcePreset } from "../components/lib/resources";
import type { Profile } from "../policy/model/profile";
import { APP_DIRECT_CONNECTIONS_PER_POD } from "./connection-budget";
import type { schema } from "./schema";

/**
 * Defaults of every key, per profile: dev is one small node with nothing protected; prod is HA
 * where a component supports it, protected and retained, backed up, with no anonymous access.
 * The README's config reference is generated from these and the schema (`npm run docs`).
 */

/** Input shape of a profile's defaults: everything but the profile itself, all optional. */
type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
export type Defaults = DeepPartial<Omit<z.input<typeof schema>, "profile">>;

/** The private IPv4 ranges (RFC 1918): dev's default node network. */
export const PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] as const;

export const COMMON_DEFAULTS: Defaults = {
  namespace: "platform",
  kubernetes: {},
  deployTargets: { apiServer: { port: 6443 } },
  cluster: {
    domain: "platform.localhost",
    podCidr: "10.42.0.0/16",
    serviceCidr: "10.43.0.0/16",
    storageClass: "local-path",
    ingressClass: "traefik",
    // One node unless the stack says more: a hard spread on one node cannot place two replicas.
    nodes: 1,
  },
  postgres: {
    superuserReservedConnections: 3,
    ha: { members: 3, synchronousMode: true, synchronousStandbys: 1 },
    backup: {
      schedule: "0 3 * * *",
      retain: 7,
      // Prod refuses this target unless postgres.backup.acceptBackupsOnNode says otherwise.
      target: { type: "in-cluster", prefix: "postgres" },
      // 60 s + 30 s: a commit is in the target within a minute and a half plus one upload.
      wal: {
        enabled: false,
        archiveTimeoutSeconds: 60,
        uploadIntervalSeconds: 30,
        baseBackupSchedule: "30 1 * * *",
        keepBaseBackups: 2,
        keepDays: 7,
      },
    },
  },
  pgbouncer: {
    maxClientConn: 1000,
    defaultPoolSize: 25,
    minPoolSize: 0,
    reservePoolSize: 5,
    reservePoolTimeoutSeconds: 3,
    serverIdleTimeoutSeconds: 600,
    serverLifetimeSeconds: 3600,
    queryWaitTimeoutSeconds: 120,
    maxPreparedStatements: 200,
    drainSeconds: PGBOUNCER_DRAIN_SECONDS,
    resources: "nano",
  },
  dragonfly: {
    snapshotCron: "*/30 * * * *",
    snapshotTarget: { type: "volume", prefix: "dragonfly" },
  },
  images: {},
  objectStore: {
    buckets: {
      app: "app",
      backups: "backups",
      loki: "loki",
      tempo: "tempo",
      dragonfly: "dragonfly",
    },
  },
  observability: {
    nodeLogs: true,
    objectStorageTarget: "in-cluster",
    grafana: {},
    // No receivers: every alert goes to the blackhole receiver, and no credential is needed.
    alerting: {
      receivers: {},
      groupBy: [...GROUPING_DEFAULTS.groupBy],
      groupInterval: GROUPING_DEFAULTS.groupInterval,
    },
  },
  temporal: {
    // Fixed forever at creation: 512 leaves room to grow without the overhead of thousands.
    numHistoryShards: 512,
    // Write actions (terminate, reset, signal) only where a stack turns them on.
    ui: { writeActions: false },
    namespace: { name: "app" },
  },
  ollama: { keepAlive: OLLAMA_DEFAULTS.keepAlive },
  app: {
    uid: APP_DEFAULTS.uid,
    web: { port: APP_DEFAULTS.web.port, probes: APP_DEFAULTS.web.probes },
    worker: {
      healthPort: APP_DEFAULTS.worker.healthPort,
      probes: APP_DEFAULTS.worker.probes,
    },
    directDatabaseAccess: false,
    directConnectionsPerPod: APP_DIRECT_CONNECTIONS_PER_POD,
    egress: { arcjet: true, modelRegistry: true },
  },
};

export const PROFILE_DEFAULTS: Record<Profile, Defaults> = {
  dev: {
    protectStateful: false,
    // A dev node's address is the laptop's or VM's, unknown here but private: a home or office
    // LAN (192.168/16), a VM or Multipass network (10/8), k3d's Docker networks (172.16/12).
    // Prometheus's kubelet edge and the API server edges reach these, never public addresses.
    cluster: { nodeCidrs: [...PRIVATE_NETWORKS] },
    deployTargets: DEPLOY_TARGET_PRESETS.dev,
    postgres: {
      storageSize: "5Gi",
      resources: { cpu: "250m", memory: "512Mi", memoryLimit: "1Gi" },
      maxConnections: 100,
      directConnections: 31,
      // One small node: today's single StatefulSet.
      ha: { enabled: false },
      backup: { enabled: false },
    },
    pgbouncer: { replicas: 1 },
    dragonfly: {
      storageSize: "1Gi",
      resources: { cpu: "100m", memory: "512Mi", cpuLimit: "1", memoryLimit: "512Mi" },
    },
    objectStore: {
      storageSize: "10Gi",
      resources: "small",
      // Loki and Tempo keep dev's data on their own volumes; their buckets' shares are unused.
      // Dragonfly's bucket exists only with dragonfly.snapshotTarget.type in-cluster.
      quotas: { app: "4Gi", backups: "2Gi", loki: "2Gi", tempo: "2Gi", dragonfly: "2Gi" },
    },
    observability: {
      collectorReplicas: 1,
      kubeStateMetricsReplicas: 1,
      objectStorage: false,
      retention: { metrics: "7d", logs: "72h", traces: "72h" },
      storage: { prometheus: "10Gi", loki: "5Gi", tempo: "5Gi", grafana: "1Gi" },
      grafana: { anonymousViewer: true },
    },
    temporal: {
      separateServices: false,
      replicas: 1,
      resources: "small",
      namespace: { retentionDays: 3 },
      ui: { ingress: true },
    },
    ollama: {
      models: ["qwen2.5:0.5b"],
      storageSize: "10Gi",
      resources: { cpu: "500m", memory: "2Gi", cpuLimit: "2", memoryLimit: "4Gi" },
      numParallel: OLLAMA_DEFAULTS.numParallel,
    },
    app: appDefaults("dev", "small"),
  },
  prod: {
    protectStateful: true,
    deployTargets: DEPLOY_TARGET_PRESETS.prod,
    postgres: {
      storageSize: "50Gi",
      resources: { cpu: "1", memory: "4Gi", cpuLimit: "4", memoryLimit: "4Gi" },
      maxConnections: 200,
      directConnections: 88,
      // postgres.ha.enabled is the stack's to write (stack-rules.ts): true for a new stack, false
      // for one created with the single server before HA existed, which keeps it.
      backup: { enabled: true, wal: { enabled: true } },
    },
    pgbouncer: { replicas: 2 },
    dragonfly: {
      storageSize: "10Gi",
      resources: { cpu: "500m", memory: "2Gi", cpuLimit: "2", memoryLimit: "2Gi" },
      // A crash loses at most the BullMQ writes since the last snapshot: 15 minutes of them.
      snapshotCron: "*/15 * * * *",
    },
    objectStore: {
      storageSize: "100Gi",
      resources: "medium",
      quotas: { app: "30Gi", backups: "40Gi", loki: "15Gi", tempo: "15Gi", dragonfly: "10Gi" },
    },
    observability: {
      collectorReplicas: 2,
      kubeStateMetricsReplicas: 2,
      objectStorage: true,
      retention: { metrics: "30d", logs: "720h", traces: "336h" },
      storage: { prometheus: "100Gi", loki: "20Gi", tempo: "20Gi", grafana: "5Gi" },
      grafana: { anonymousViewer: false },
    },
    temporal: {
      separateServices: true,
      replicas: 2,
      resources: "medium",
      namespace: { retentionDays: 30 },
      // The UI shows workflow payloads and has no login of its own: prod serves it only with
      // temporal.ui.oidc; without, operators port-forward.
      ui: { ingress: false },
    },
    ollama: {
      models: ["llama3.2:3b"],
      storageSize: "50Gi",
      resources: { cpu: "2", memory: "8Gi", cpuLimit: "8", memoryLimit: "12Gi" },
      numParallel: 4,
    },
    app: appDefaults("prod", "medium"),
  },
};

/** The app's replica counts are the App's own defaults ({@link APP_DEFAULTS}); its size is the stack's. */
function appDefaults(profile: Profile, size: ResourcePreset): Defaults["app"] {
  const { web, worker } = APP_DEFAULTS;
  return {
    web: {
      minReplicas: web.minReplicas[profile],
      maxReplicas: web.maxReplicas[profile],
      resources: size,
    },
    worker: { replicas: worker.replicas[profile], resources: size },
  };
}
