import { rawStackConfig, type StackValues } from "./stack-config";
import { APP_CONTRACT_ROWS } from "./config-corpus-app";

/**
 * A corpus of invalid stack configs: each the values a stack sets (over what its profile
 * requires, see `rawStackConfig`), the one key its problem must be reported at, and a fragment of
 * the reason. Covers every rule of the stack config, the components' rules as the stack reaches
 * them, and the messages. `tools: true` marks the ones also run through the real `render` and
 * `check` commands (config-corpus-tools.test.ts).
 */
export interface InvalidStack {
  name: string;
  values: StackValues;
  key: string;
  reason: RegExp;
  /** Raw entries beside the project's own (other config namespaces, keys without one). */
  raw?: Record<string, string>;
  /** Keys the engine marks secret. */
  secretKeys?: string[];
  tools?: boolean;
}

export type Row = [
  name: string,
  values: StackValues,
  key: string,
  reason: RegExp,
  extra?: Partial<InvalidStack>,
];

const dev = (values: StackValues): StackValues => ({ profile: "dev", ...values });
const prod = (values: StackValues): StackValues => ({ profile: "prod", ...values });
const long = (length: number) => "a".repeat(length);

/** An external backup target, and its two secret keys as the engine passes them. */
const S3_TARGET = {
  type: "s3",
  endpoint: "https://s3.eu-central-1.amazonaws.com",
  region: "eu-central-1",
  bucket: "pg-backups",
  prefix: "postgres",
};
const S3_SECRETS = {
  "k3s-platform:backupS3AccessKeyId": "AKIAEXAMPLE",
  "k3s-platform:backupS3SecretAccessKey": "secret-access-key-example",
};
const S3_SECRET_KEYS = Object.keys(S3_SECRETS);
/** Loki's and Tempo's own key pair at the backup target. */
const TELEMETRY_SECRETS = {
  "k3s-platform:telemetryS3AccessKeyId": "AKIATELEMETRY",
  "k3s-platform:telemetryS3SecretAccessKey": "telemetry-secret-example",
};
const TELEMETRY_SECRET_KEYS = Object.keys(TELEMETRY_SECRETS);

/** An external snapshot target for Dragonfly, and its two secret keys as the engine passes them. */
const SNAPSHOT_TARGET = {
  type: "s3",
  endpoint: "https://s3.eu-central-1.amazonaws.com",
  region: "eu-central-1",
  bucket: "acme-dragonfly",
  prefix: "dragonfly",
};
const SNAPSHOT_SECRETS = {
  "k3s-platform:dragonflyS3AccessKeyId": "AKIAEXAMPLE",
  "k3s-platform:dragonflyS3SecretAccessKey": "secret-access-key-example",
};
const SNAPSHOT_SECRET_KEYS = Object.keys(SNAPSHOT_SECRETS);

const KEYS_AND_NAMESPACES: Row[] = [
  [
    "a misspelled top-level key",
    dev({ postgress: {} }),
    "postgress",
    /not a known key; did you mean "postgres"/,
    { tools: true },
  ],
  [
    "a misspelled nested key",
    dev({ postgres: { storageSiz: "1Gi" } }),
    "postgres.storageSiz",
    /did you mean "storageSize"/,
  ],
  [
    "a misspelled deep key",
    dev({ postgres: { backup: { retian: 3 } } }),
    "postgres.backup.retian",
    /did you mean "retain"/,
  ],
  [
    "an unknown key far from any known one",
    dev({ cluster: { flavour: "x" } }),
    "cluster.flavour",
    /known keys here: domain/,
  ],
  [
    "a misspelled resources field",
    dev({ dragonfly: { resources: { cpu: "1", memory: "1Gi", memoryLimt: "1Gi" } } }),
    "dragonfly.resources.memoryLimt",
    /did you mean "memoryLimit"/,
  ],
  [
    "an unknown credential name",
    dev({ credentials: { postgres: { admin: "x".repeat(20) } } }),
    "credentials.postgres.admin",
    /not a known key/,
    { secretKeys: ["k3s-platform:credentials"] },
  ],
  [
    "the project namespace with an underscore",
    dev({}),
    "k3s_platform:pgbouncer",
    /did you mean "k3s-platform:pgbouncer"\?/,
    { raw: { "k3s_platform:pgbouncer": '{"replicas":2}' }, tools: true },
  ],
  [
    "the project namespace misspelled",
    dev({}),
    "k3s-platfrom:app",
    /did you mean "k3s-platform:app"\?/,
    { raw: { "k3s-platfrom:app": "{}" } },
  ],
  [
    "a provider namespace misspelled",
    dev({}),
    "kubernets:context",
    /did you mean "kubernetes:context"\?/,
    { raw: { "kubernets:context": "k3s" } },
  ],
  [
    "a namespace nothing here reads",
    dev({}),
    "aws:region",
    /namespaces read here are k3s-platform, kubernetes, pulumi, random, docker/,
    { raw: { "aws:region": "us-east-1" } },
  ],
  [
    "a key without a namespace",
    dev({}),
    "pgbouncer",
    /has no namespace.*did you mean "k3s-platform:pgbouncer"\?/,
    { raw: { pgbouncer: "{}" } },
  ],
  ["no profile", { profile: undefined }, "profile", /is required/],
  [
    "an unknown profile",
    { profile: "staging" },
    "profile",
    /must be "dev" or "prod" \(got "staging"\)/,
  ],
];

const TYPES_AND_RANGES: Row[] = [
  [
    "a word where a number is expected",
    dev({ pgbouncer: { replicas: "two" } }),
    "pgbouncer.replicas",
    /must be a number \(got the string "two"\)/,
  ],
  [
    "a quoted number",
    dev({ pgbouncer: { replicas: "2" } }),
    "pgbouncer.replicas",
    /got the string "2": remove the quotes/,
  ],
  [
    "a fractional replica count",
    dev({ pgbouncer: { replicas: 1.5 } }),
    "pgbouncer.replicas",
    /must be a whole number \(got the number 1.5\)/,
  ],
  [
    "zero PgBouncer replicas",
    dev({ pgbouncer: { replicas: 0 } }),
    "pgbouncer.replicas",
    /^must be at least 1 \(got 0\)$/,
    { tools: true },
  ],
  [
    "too many PgBouncer replicas",
    dev({ pgbouncer: { replicas: 21 } }),
    "pgbouncer.replicas",
    /^must be at most 20 \(got 21\)$/,
  ],
  [
    "a PgBouncer drain of no time",
    dev({ pgbouncer: { drainSeconds: 0 } }),
    "pgbouncer.drainSeconds",
    /^must be at least 1 \(got 0\): the longest transaction a rollout waits for$/,
  ],
  [
    "a cluster of zero nodes",
    prod({ cluster: { nodes: 0 } }),
    "cluster.nodes",
    /^must be at least 1 \(got 0\)$/,
  ],
  [
    "a fractional node count",
    dev({ cluster: { nodes: 2.5 } }),
    "cluster.nodes",
    /whole number|integer/i,
  ],
  [
    "API server port 0",
    dev({ deployTargets: { apiServer: { port: 0 } } }),
    "deployTargets.apiServer.port",
    /^must be at least 1 \(got 0\)$/,
  ],
  [
    "API server port past 65535",
    dev({ deployTargets: { apiServer: { port: 70000 } } }),
    "deployTargets.apiServer.port",
    /at most 65535 \(got 70000\)/,
  ],
  [
    "a notify CIDR that is not one",
    dev({ deployTargets: { notify: { cidrs: ["hooks.example.com"], ports: [443] } } }),
    "deployTargets.notify.cidrs.0",
    /must be an IPv4 CIDR/,
  ],
  [
    "notify egress without ports",
    dev({ deployTargets: { notify: { cidrs: ["203.0.113.0/24"], ports: [] } } }),
    "deployTargets.notify.ports",
    /must list at least one port/,
  ],
  [
    "a notify port past 65535",
    dev({ deployTargets: { notify: { cidrs: ["203.0.113.0/24"], ports: [70000] } } }),
    "deployTargets.notify.ports.0",
    /at most 65535 \(got 70000\)/,
  ],
  [
    "numParallel 0",
    dev({ ollama: { numParallel: 0 } }),
    "ollama.numParallel",
    /^must be at least 1 \(got 0\)$/,
  ],
  [
    "numParallel 65",
    dev({ ollama: { numParallel: 65 } }),
    "ollama.numParallel",
    /at most 64 \(got 65\)/,
  ],
  [
    "zero collector replicas",
    dev({ observability: { collectorReplicas: 0 } }),
    "observability.collectorReplicas",
    /at least 1 \(got 0\)/,
  ],
  [
    "zero web replicas",
    dev({ app: { web: { minReplicas: 0 } } }),
    "app.web.minReplicas",
    /at least 1 \(got 0\)/,
  ],
  [
    "zero worker replicas",
    dev({ app: { worker: { replicas: 0 } } }),
    "app.worker.replicas",
    /at least 1 \(got 0\)/,
  ],
  [
    "zero Temporal replicas",
    dev({ temporal: { replicas: 0 } }),
    "temporal.replicas",
    /at least 1 \(got 0\)/,
  ],
  [
    "Temporal replicas the all-in-one server would ignore",
    dev({ temporal: { replicas: 3, separateServices: false } }),
    "temporal.replicas",
    /must be 1 without separate services: the all-in-one server runs one pod \(got 3\)/,
  ],
  [
    "zero history shards",
    dev({ temporal: { numHistoryShards: 0, recordedNumHistoryShards: undefined } }),
    "temporal.numHistoryShards",
    /at least 1 \(got 0\)/,
  ],
  [
    "too many history shards",
    dev({ temporal: { numHistoryShards: 20000 } }),
    "temporal.numHistoryShards",
    /at most 16384 \(got 20000\)/,
  ],
  [
    "a retention of zero days",
    dev({ temporal: { namespace: { retentionDays: 0 } } }),
    "temporal.namespace.retentionDays",
    /at least 1 \(got 0\): keep history/,
  ],
  [
    "max_connections too small to run anything",
    dev({ postgres: { maxConnections: 5 } }),
    "postgres.maxConnections",
    /at least 20 \(got 5\)/,
  ],
  [
    "no superuser reserve",
    dev({ postgres: { superuserReservedConnections: 0 } }),
    "postgres.superuserReservedConnections",
    /at least 1 \(got 0\)/,
  ],
  [
    "negative direct connections",
    dev({ postgres: { directConnections: -1 } }),
    "postgres.directConnections",
    /at least 0 \(got -1\)/,
  ],
  [
    "an app login that is not one of the two",
    dev({ postgres: { appLogin: "app_b" } }),
    "postgres.appLogin",
    /must be one of app, app2 \(got the string "app_b"\)/,
  ],
  [
    "a backup retention of zero",
    prod({ postgres: { backup: { retain: 0 } } }),
    "postgres.backup.retain",
    /at least 1 \(got 0\): keep at least one backup/,
  ],
  [
    "prod that does not say whether its Postgres is HA",
    prod({ postgres: { ha: { enabled: undefined } } }),
    "postgres.ha.enabled",
    /^is required in prod: true for a new stack .*false for a stack created with the single Postgres server, which keeps it/,
  ],
  [
    "an HA cluster of one member",
    prod({ postgres: { ha: { members: 1 } } }),
    "postgres.ha.members",
    /^must be at least 2 \(got 1\): a failover needs a standby/,
  ],
  [
    "more HA members than nodes",
    prod({ cluster: { nodes: 2 } }),
    "cluster.nodes",
    /^is 2, fewer than the 3 HA members: each member needs a node of its own .*raise cluster\.nodes or lower postgres\.ha\.members$/,
  ],
  [
    "HA turned on in dev on its one node",
    dev({ postgres: { ha: { enabled: true } } }),
    "postgres.ha.enabled",
    /^with this value, cluster\.nodes \(left to its default\) is 1, fewer than the 3 HA members/,
  ],
  [
    "as many synchronous standbys as members",
    prod({ postgres: { ha: { synchronousStandbys: 3 } } }),
    "postgres.ha.synchronousStandbys",
    /^must be below postgres\.ha\.members \(3 ≥ 3\): the primary is one of the members, so at most 2 standbys/,
  ],
  [
    "a synchronous standby count of zero",
    prod({ postgres: { ha: { synchronousStandbys: 0 } } }),
    "postgres.ha.synchronousStandbys",
    /^must be at least 1 \(got 0\)$/,
  ],
  [
    "HA as a string",
    prod({ postgres: { ha: { enabled: "yes" } } }),
    "postgres.ha.enabled",
    /^must be true or false \(got the string "yes"/,
  ],
  [
    "a backup retention past a year",
    prod({ postgres: { backup: { retain: 400 } } }),
    "postgres.backup.retain",
    /at most 365 \(got 400\)/,
  ],
  [
    "zero clients",
    dev({ pgbouncer: { maxClientConn: 0 } }),
    "pgbouncer.maxClientConn",
    /at least 1 \(got 0\)/,
  ],
  [
    "an empty pool",
    dev({ pgbouncer: { defaultPoolSize: 0 } }),
    "pgbouncer.defaultPoolSize",
    /at least 1 \(got 0\)/,
  ],
  [
    "a negative minimum pool",
    dev({ pgbouncer: { minPoolSize: -1 } }),
    "pgbouncer.minPoolSize",
    /at least 0 \(got -1\)/,
  ],
  [
    "a minimum pool above the pool",
    dev({ pgbouncer: { minPoolSize: 30 } }),
    "pgbouncer.minPoolSize",
    /must not exceed defaultPoolSize \(30 > 25\)/,
  ],
  [
    "zero Dragonfly threads",
    dev({ dragonfly: { proactorThreads: 0 } }),
    "dragonfly.proactorThreads",
    /at least 1 \(got 0\)/,
  ],
  [
    "a GPU count of zero",
    dev({ ollama: { gpu: { count: 0, runtimeClassName: "nvidia" } } }),
    "ollama.gpu.count",
    /at least 1 \(got 0\)/,
  ],
  [
    "a quota of zero pods",
    dev({ deployTargets: { quota: { pods: 0 } } }),
    "deployTargets.quota.pods",
    /at least 1 \(got 0\)/,
  ],
  [
    "zero direct connections per app pod",
    dev({ app: { directConnectionsPerPod: 0 } }),
    "app.directConnectionsPerPod",
    /at least 1 \(got 0\)/,
  ],
  [
    "yes for a boolean",
    dev({ protectStateful: "yes" }),
    "protectStateful",
    /must be true or false \(got the string "yes"/,
  ],
  [
    "a quoted boolean",
    dev({ observability: { nodeLogs: "true" } }),
    "observability.nodeLogs",
    /write true or false without quotes/,
  ],
  [
    "a number where a name is expected",
    dev({ temporal: { namespace: { name: 123 } } }),
    "temporal.namespace.name",
    /must be a string \(got the number 123: quote it\)/,
    { tools: true },
  ],
  [
    "a number as the domain",
    dev({ cluster: { domain: 123 } }),
    "cluster.domain",
    /must be a string such as platform.example.com \(got the number 123: quote it\)/,
  ],
  [
    "a number as a bucket name",
    dev({ objectStore: { buckets: { app: 2024 } } }),
    "objectStore.buckets.app",
    /got the number 2024: quote it/,
  ],
  [
    "an unknown resource preset",
    dev({ postgres: { resources: "huge" } }),
    "postgres.resources",
    /preset \(nano, small, medium, large\).*got the string "huge"/,
  ],
  [
    "a number as resources",
    dev({ postgres: { resources: 5 } }),
    "postgres.resources",
    /preset.*got the number 5/,
  ],
  [
    "a section given as a word",
    dev({ postgres: "big" }),
    "postgres",
    /must be a mapping of keys to values \(got the string "big"\)/,
  ],
  [
    "a model list given as one word",
    dev({ ollama: { models: "qwen2.5:0.5b" } }),
    "ollama.models",
    /must be a list/,
  ],
  [
    "an empty target list",
    dev({ deployTargets: { namespaces: [] } }),
    "deployTargets.namespaces",
    /at least one namespace/,
  ],
  [
    "an empty kube context",
    dev({ kubernetes: { context: "" } }),
    "kubernetes.context",
    /must not be empty/,
  ],
  [
    "a namespace that is not a DNS label",
    dev({ namespace: "My_Platform" }),
    "namespace",
    /DNS label.*got the string "My_Platform"/,
  ],
  [
    "a namespace of 64 characters",
    dev({ namespace: long(64) }),
    "namespace",
    /at most 63 characters \(got 64\)/,
  ],
  [
    "a domain with uppercase letters",
    dev({ cluster: { domain: "Platform.Example.com" } }),
    "cluster.domain",
    /lowercase DNS name/,
  ],
  [
    "a pod CIDR that is not a CIDR",
    dev({ cluster: { podCidr: "10.42.0.0" } }),
    "cluster.podCidr",
    /IPv4 CIDR.*got the string "10.42.0.0"/,
  ],
  [
    "a CIDR with no such octet",
    dev({ cluster: { serviceCidr: "10.300.0.0/16" } }),
    "cluster.serviceCidr",
    /IPv4 CIDR/,
  ],
  [
    "a retention that is not a duration",
    dev({ observability: { retention: { logs: "a week" } } }),
    "observability.retention.logs",
    /duration/,
  ],
  [
    "a retention the stores cannot read",
    dev({ observability: { retention: { metrics: "30m" } } }),
    "observability.retention.metrics",
    /hours, days or weeks/,
  ],
  [
    "a keep-alive in words",
    dev({ ollama: { keepAlive: "5 minutes" } }),
    "ollama.keepAlive",
    /duration such as "5m"/,
  ],
  [
    "a model name Ollama cannot pull",
    dev({ ollama: { models: ["Not A Model!"] } }),
    "ollama.models.0",
    /Ollama model name/,
  ],
  [
    "a Temporal namespace name Temporal refuses",
    dev({ temporal: { namespace: { name: "-app" } } }),
    "temporal.namespace.name",
    /DNS label/,
  ],
];

const QUANTITIES: Row[] = [
  [
    "memory in millibytes",
    dev({ postgres: { resources: { cpu: "1", memory: "512m" } } }),
    "postgres.resources.memory",
    /m, which means milli.*0\.512 bytes/,
    { tools: true },
  ],
  [
    "a memory limit in millibytes",
    dev({ ollama: { resources: { cpu: "1", memory: "1Gi", memoryLimit: "2048m" } } }),
    "ollama.resources.memoryLimit",
    /milli/,
  ],
  [
    "more memory than one container can have",
    dev({ postgres: { resources: { cpu: "1", memory: "2Ti" } } }),
    "postgres.resources.memory",
    /at most 1Ti of memory: one container runs on one node/,
  ],
  [
    "memory without its unit",
    dev({ dragonfly: { resources: { cpu: "1", memory: "512" } } }),
    "dragonfly.resources.memory",
    /at least 4Mi of memory.*512 bytes: did you mean 512Mi/,
  ],
  [
    "a thousand cores",
    dev({ postgres: { resources: { cpu: "1000", memory: "1Gi" } } }),
    "postgres.resources.cpu",
    /at most 256 cores.*did you mean 1000m\?/,
    { tools: true },
  ],
  [
    "cpu as a YAML number",
    dev({ postgres: { resources: { cpu: 1000, memory: "1Gi" } } }),
    "postgres.resources.cpu",
    /quantity string such as "2" or "500m" \(got the number 1000: quote it\)/,
  ],
  [
    "cpu in a memory unit",
    dev({ temporal: { resources: { cpu: "2Gi", memory: "1Gi" } } }),
    "temporal.resources.cpu",
    /Gi is not a CPU unit/,
  ],
  [
    "cpu finer than a millicore",
    dev({ app: { web: { resources: { cpu: "0.0001", memory: "256Mi" } } } }),
    "app.web.resources.cpu",
    /at least 1m of CPU/,
  ],
  [
    "a cpu limit beyond any node",
    dev({ app: { worker: { resources: { cpu: "1", memory: "256Mi", cpuLimit: "300" } } } }),
    "app.worker.resources.cpuLimit",
    /at most 256 cores/,
  ],
  [
    "half a byte of storage",
    dev({ postgres: { storageSize: "0.5" } }),
    "postgres.storageSize",
    /at least 1Mi of storage.*0\.5 bytes/,
    { tools: true },
  ],
  [
    "a volume beyond any disk",
    dev({ ollama: { storageSize: "500Ti" } }),
    "ollama.storageSize",
    /at most 64Ti of storage: one volume/,
  ],
  [
    "storage in millibytes",
    dev({ observability: { storage: { prometheus: "10m" } } }),
    "observability.storage.prometheus",
    /milli/,
  ],
  [
    "a kilobyte volume",
    dev({ objectStore: { storageSize: "1k" } }),
    "objectStore.storageSize",
    /at least 1Mi/,
  ],
  [
    "a negative size",
    dev({ postgres: { storageSize: "-5Gi" } }),
    "postgres.storageSize",
    /non-negative/,
  ],
  [
    "a zero size",
    dev({ dragonfly: { storageSize: "0Gi" } }),
    "dragonfly.storageSize",
    /greater than zero/,
  ],
  [
    "a size that is a word",
    dev({ objectStore: { storageSize: "big" } }),
    "objectStore.storageSize",
    /quantity/,
  ],
  [
    "a size as a YAML number",
    dev({ postgres: { storageSize: 5 } }),
    "postgres.storageSize",
    /quantity string such as "20Gi" \(got the number 5: did you mean "5Gi"\?\)/,
  ],
  [
    "gigabytes written GB",
    dev({ postgres: { storageSize: "20GB" } }),
    "postgres.storageSize",
    /Gi \(binary\) or G \(decimal\), without a B/,
  ],
  [
    "kilo written K",
    dev({ observability: { storage: { grafana: "512K" } } }),
    "observability.storage.grafana",
    /lowercase k/,
  ],
  [
    "quota memory in millibytes",
    dev({ deployTargets: { quota: { requestsMemory: "4m" } } }),
    "deployTargets.quota.requestsMemory",
    /milli/,
  ],
  [
    "quota cpu in a memory unit",
    dev({ deployTargets: { quota: { limitsCpu: "4Gi" } } }),
    "deployTargets.quota.limitsCpu",
    /Gi is not a CPU unit/,
  ],
  [
    "a container maximum beyond any node",
    dev({ deployTargets: { containerLimits: { max: { cpu: "2", memory: "2Ti" } } } }),
    "deployTargets.containerLimits.max.memory",
    /at most 1Ti/,
  ],
  [
    "a container cpu maximum beyond any node",
    dev({ deployTargets: { containerLimits: { max: { cpu: "400", memory: "2Gi" } } } }),
    "deployTargets.containerLimits.max.cpu",
    /at most 256 cores/,
  ],
  [
    "a memory limit below the request",
    dev({ postgres: { resources: { cpu: "1", memory: "2Gi", memoryLimit: "1Gi" } } }),
    "postgres.resources.memoryLimit",
    /at least the memory request/,
  ],
  [
    "a cpu limit below the request",
    dev({ pgbouncer: { resources: { cpu: "2", memory: "64Mi", cpuLimit: "1" } } }),
    "pgbouncer.resources.cpuLimit",
    /at least the cpu request/,
  ],
];

const CRON: Row[] = [
  [
    "five words that are no schedule",
    dev({ dragonfly: { snapshotCron: "a b c d e" } }),
    "dragonfly.snapshotCron",
    /bad minute field "a"/,
    { tools: true },
  ],
  [
    "a backup schedule in words",
    prod({ postgres: { backup: { schedule: "nightly" } } }),
    "postgres.backup.schedule",
    /five cron fields/,
  ],
  [
    "hour 25",
    prod({ postgres: { backup: { schedule: "0 25 * * *" } } }),
    "postgres.backup.schedule",
    /bad hour field "25": 25 is outside 0-23/,
  ],
  [
    "a zero step",
    dev({ dragonfly: { snapshotCron: "*/0 * * * *" } }),
    "dragonfly.snapshotCron",
    /step .* must be at least 1/,
  ],
  [
    "Sunday as 7",
    dev({ dragonfly: { snapshotCron: "0 0 * * 7" } }),
    "dragonfly.snapshotCron",
    /day of week field "7": 7 is outside 0-6/,
  ],
  [
    "a cron nickname",
    prod({ postgres: { backup: { schedule: "@daily" } } }),
    "postgres.backup.schedule",
    /not a nickname: write "0 0 \* \* \*"/,
  ],
  [
    "day 32",
    dev({ dragonfly: { snapshotCron: "0 0 32 * *" } }),
    "dragonfly.snapshotCron",
    /day of month field "32"/,
  ],
  [
    "an unknown month name",
    prod({ postgres: { backup: { schedule: "0 3 * FOO *" } } }),
    "postgres.backup.schedule",
    /"FOO" is not a number 1-12 or JAN-DEC/,
  ],
  [
    "six fields",
    dev({ dragonfly: { snapshotCron: "0 */30 * * * *" } }),
    "dragonfly.snapshotCron",
    /got 6 fields/,
  ],
];

const CONNECTIONS: Row[] = [
  [
    "a PgBouncer pool larger than Postgres can hold",
    dev({ pgbouncer: { defaultPoolSize: 200 } }),
    "pgbouncer.defaultPoolSize",
    /≤ postgres.maxConnections − reserved \(got \(1 \+ 1\) × \(200 \+ 5\) = 410 > 66\)/,
    { tools: true },
  ],
  [
    "a reserve pool past the budget",
    dev({ pgbouncer: { reservePoolSize: 20 } }),
    "pgbouncer.reservePoolSize",
    /\(1 \+ 1\) × \(25 \+ 20\) = 90 > 66/,
  ],
  [
    "prod replicas multiplying the pool past max_connections",
    prod({ pgbouncer: { replicas: 6 } }),
    "pgbouncer.replicas",
    /\(6 \+ 1\) × \(25 \+ 5\) = 210 > 109/,
  ],
  [
    "max_connections lowered under PgBouncer's pools",
    dev({ postgres: { maxConnections: 50 } }),
    "postgres.maxConnections",
    /= 60 > 16\); reserved: superuserReservedConnections 3 \+ directConnections 31 of maxConnections 50/,
  ],
  [
    "direct connections eating every slot",
    dev({ postgres: { directConnections: 97 } }),
    "postgres.directConnections",
    /leaves no connections for PgBouncer/,
  ],
  [
    "a superuser reserve leaving nothing",
    dev({ postgres: { maxConnections: 81, superuserReservedConnections: 50 } }),
    "postgres.maxConnections",
    /leaves no connections for PgBouncer: .*= 0/,
  ],
  [
    "dev backups on without the slot they need",
    dev({ postgres: { backup: { enabled: true } } }),
    "postgres.backup.enabled",
    /may open 32 connections, more than postgres.directConnections \(31\).*backup CronJob.*raise postgres.directConnections to at least 32/,
    { tools: true },
  ],
  [
    "the app's direct pools",
    dev({ app: { directDatabaseAccess: true } }),
    "app.directDatabaseAccess",
    /\(web.maxReplicas 3 \+ 1 surge \+ worker.replicas 1 \+ 1 surge\) × directConnectionsPerPod 10 = 60.*postgres.maxConnections to at least .* = 154/,
  ],
  [
    "the app's direct pools sized by the stack",
    dev({
      app: { directDatabaseAccess: true, directConnectionsPerPod: 2 },
      postgres: { directConnections: 40 },
    }),
    "app.directDatabaseAccess",
    /may open 43 connections, more than postgres.directConnections \(40\)/,
  ],
  [
    "more Temporal pods than the direct budget",
    prod({ temporal: { replicas: 3 } }),
    "temporal.replicas",
    /Temporal 4 services × \(3 pods \+ 1 shutting down\) × \(maxConns 5 \+ visibilityMaxConns 2\) = 112/,
  ],
  [
    "separate Temporal services in dev",
    dev({ temporal: { separateServices: true, replicas: 2 } }),
    "temporal.replicas",
    /may open 87 connections/,
  ],
  [
    "a direct budget below Temporal's pools",
    dev({ postgres: { directConnections: 20 } }),
    "postgres.directConnections",
    /may open 31 connections, more than postgres.directConnections \(20\)/,
  ],
  [
    "a direct budget below Temporal's pools, beside a value the schema refuses",
    dev({ postgres: { directConnections: 20 }, dragonfly: { snapshotCron: "a b c d e" } }),
    "postgres.directConnections",
    /may open 31 connections, more than postgres.directConnections \(20\)/,
    { tools: true },
  ],
];

const MEMORY: Row[] = [
  [
    "100000 clients in a nano PgBouncer",
    dev({ pgbouncer: { maxClientConn: 100000 } }),
    "pgbouncer.maxClientConn",
    /100000 clients need about 218 MiB, more than the PgBouncer container's memory limit \(128Mi\)/,
    { tools: true },
  ],
  [
    "a PgBouncer shrunk below its clients",
    dev({ pgbouncer: { resources: { cpu: "25m", memory: "16Mi" } } }),
    "pgbouncer.resources",
    /pgbouncer.maxClientConn \(left to its default\) 1000 clients need about 24 MiB/,
  ],
  [
    "too little memory for Dragonfly's threads",
    dev({ dragonfly: { proactorThreads: 4 } }),
    "dragonfly.proactorThreads",
    /dragonfly.resources.memoryLimit \(left to its default\).*256 MiB per thread/,
  ],
  [
    "threads from the CPU limit without the memory",
    dev({ dragonfly: { resources: { cpu: "1", memory: "512Mi", cpuLimit: "4" } } }),
    "dragonfly.resources.memoryLimit",
    /for 4 thread\(s\)/,
  ],
];

const NAMES: Row[] = [
  [
    "the platform in kube-system",
    dev({ namespace: "kube-system" }),
    "namespace",
    /must not be "default" or start with "kube-"/,
    { tools: true },
  ],
  ["the platform in default", dev({ namespace: "default" }), "namespace", /"default"/],
  [
    "the platform in a kube- namespace",
    dev({ namespace: "kube-apps" }),
    "namespace",
    /start with "kube-"/,
  ],
  [
    "the platform named like a node-log namespace",
    dev({ namespace: "platform-node-logs" }),
    "namespace",
    /must not end in "-node-logs"/,
  ],
  [
    "a namespace too long for its node-log namespace",
    dev({ namespace: long(60) }),
    "namespace",
    /at most 53 characters while observability.nodeLogs is on \(got 60\)/,
  ],
  [
    "a namespace too long for its default target",
    dev({ namespace: long(59), observability: { nodeLogs: false } }),
    "namespace",
    /deployTargets.namespaces.0 \(left to its default\) must be a DNS label/,
  ],
  [
    "a target in kube-system",
    dev({ deployTargets: { namespaces: ["kube-system"] } }),
    "deployTargets.namespaces.0",
    /Kubernetes system namespace/,
  ],
  [
    "a target in default",
    dev({ deployTargets: { namespaces: ["team-a", "default"] } }),
    "deployTargets.namespaces.1",
    /Kubernetes system namespace/,
  ],
  [
    "the platform namespace as a target",
    dev({ deployTargets: { namespaces: ["team-a", "platform"] } }),
    "deployTargets.namespaces.1",
    /namespace of the platform itself/,
  ],
  [
    "the node-log namespace as a target",
    dev({ deployTargets: { namespaces: ["platform-node-logs"] } }),
    "deployTargets.namespaces.0",
    /namespace of the platform itself/,
  ],
  [
    "a target shaped like a node-log namespace",
    dev({ deployTargets: { namespaces: ["team-node-logs"] } }),
    "deployTargets.namespaces.0",
    /must not end in "-node-logs"/,
  ],
  [
    "a target twice",
    dev({ deployTargets: { namespaces: ["team-a", "team-a"] } }),
    "deployTargets.namespaces.1",
    /repeats "team-a"/,
  ],
  [
    "a target that is not a DNS label",
    dev({ deployTargets: { namespaces: ["Team_A"] } }),
    "deployTargets.namespaces.0",
    /DNS label/,
  ],
  [
    "the app on Grafana's host",
    dev({ app: { host: "grafana.platform.localhost" } }),
    "app.host",
    /is also observability.grafana.host \(its default, from cluster.domain\)/,
    { tools: true },
  ],
  [
    "Grafana on the app's host",
    dev({ observability: { grafana: { host: "app.platform.localhost" } } }),
    "observability.grafana.host",
    /is also app.host/,
  ],
  [
    "the Temporal UI on the app's given host",
    dev({ app: { host: "x.example.com" }, temporal: { ui: { host: "x.example.com" } } }),
    "temporal.ui.host",
    /"x.example.com" is also app.host: two Ingresses/,
  ],
  [
    "a host that is not a DNS name",
    dev({ app: { host: "App.Example.com" } }),
    "app.host",
    /lowercase DNS name/,
  ],
  [
    "one bucket for the app and the backups",
    dev({ objectStore: { buckets: { backups: "app" } } }),
    "objectStore.buckets.backups",
    /"app" is also buckets.app/,
    { tools: true },
  ],
  [
    "one bucket for Loki and Tempo",
    prod({ objectStore: { buckets: { loki: "telemetry", tempo: "telemetry" } } }),
    "objectStore.buckets.tempo",
    /"telemetry" is also buckets.loki/,
  ],
  [
    "bucket quotas that add up to more than the volume",
    prod({ objectStore: { quotas: { backups: "60Gi" } } }),
    "objectStore.quotas",
    /add up to more than storageSize \(100Gi\): quotas.app 30Gi \+ quotas.backups 60Gi \+ quotas.loki 15Gi \+ quotas.tempo 15Gi = 120Gi/,
    { tools: true },
  ],
  [
    "a volume shrunk below the default quotas",
    dev({ objectStore: { storageSize: "5Gi" } }),
    "objectStore.storageSize",
    /objectStore.quotas \(left to its default\) add up to more than storageSize \(5Gi\): quotas.app 4Gi \+ quotas.backups 2Gi = 6Gi/,
  ],
  [
    "a bucket quota that is no size",
    dev({ objectStore: { quotas: { app: "lots" } } }),
    "objectStore.quotas.app",
    /quantity/,
  ],
  [
    "a bucket name S3 rejects",
    dev({ objectStore: { buckets: { app: "My_Bucket" } } }),
    "objectStore.buckets.app",
    /lowercase letters/,
  ],
  [
    "a bucket name that is too short",
    dev({ objectStore: { buckets: { backups: "bk" } } }),
    "objectStore.buckets.backups",
    /3 to 63/,
  ],
  [
    "a bucket name shaped like an IP",
    dev({ objectStore: { buckets: { loki: "10.0.0.1" } } }),
    "objectStore.buckets.loki",
    /IP address/,
  ],
  [
    "a bucket name with two dots",
    dev({ objectStore: { buckets: { tempo: "a..b" } } }),
    "objectStore.buckets.tempo",
    /'\.\.'/,
  ],
  [
    "an apps domain that is not a DNS name",
    dev({ deployTargets: { appsDomain: "Apps_Domain" } }),
    "deployTargets.appsDomain",
    /must be a lowercase DNS name/,
  ],
  [
    "an apps domain that is a platform host",
    dev({ deployTargets: { appsDomain: "grafana.platform.localhost" } }),
    "deployTargets.appsDomain",
    /must not be the platform host "grafana\.platform\.localhost"/,
    { tools: true },
  ],
  [
    "an apps domain that contains the platform's hosts",
    dev({ deployTargets: { appsDomain: "platform.localhost" } }),
    "deployTargets.appsDomain",
    /must not contain the platform host "app\.platform\.localhost"/,
  ],
  [
    "an app host under the default apps domain",
    dev({ app: { host: "shop.apps.platform.localhost" } }),
    "app.host",
    /deployTargets\.appsDomain \(left to its default\) must not contain the platform host "shop\.apps\.platform\.localhost"/,
  ],
];

const PRODUCTION: Row[] = [
  [
    "prod without backups",
    prod({ postgres: { backup: { enabled: false } } }),
    "postgres.backup.enabled",
    /must be true in prod.*acceptNoBackups/,
    { tools: true },
  ],
  [
    "prod without alert receivers",
    prod({ observability: { alerting: { receivers: {}, acceptNoReceivers: undefined } } }),
    "observability.alerting.receivers",
    /must name at least one receiver in prod.*observability\.alerting\.acceptNoReceivers: true/,
    { tools: true },
  ],
  [
    "prod that turns the receivers' opt-out off",
    prod({ observability: { alerting: { acceptNoReceivers: false } } }),
    "observability.alerting.receivers",
    /every alert \(a failed backup, a down node\) goes to the blackhole and nobody is told/,
  ],
  [
    "an opt-out of alert receivers that is not a boolean",
    prod({ observability: { alerting: { acceptNoReceivers: "yes" } } }),
    "observability.alerting.acceptNoReceivers",
    /must be true or false \(got the string "yes": write true or false without quotes\)/,
  ],
  [
    "a backup schedule that never runs",
    dev({ postgres: { backup: { schedule: "0 3 30 2 *" } } }),
    "postgres.backup.schedule",
    /never runs: no date has that day of month in those months \(in "0 3 30 2 \*"\)/,
  ],
  [
    "kube-state-metrics at no replicas",
    dev({ observability: { kubeStateMetricsReplicas: 0 } }),
    "observability.kubeStateMetricsReplicas",
    /must be at least 1 \(got 0\)/,
  ],
  [
    "prod keeping its backups on the node without saying so",
    prod({ postgres: { backup: { acceptBackupsOnNode: undefined } } }),
    "postgres.backup.target.type",
    /must be s3 in prod: .*a lost node loses both.*postgres.backup.acceptBackupsOnNode: true/,
    { tools: true },
  ],
  [
    "prod archiving WAL so slowly that a lost node loses more than 5 minutes",
    prod({ postgres: { backup: { wal: { archiveTimeoutSeconds: 300 } } } }),
    "postgres.backup.wal.archiveTimeoutSeconds",
    /archiveTimeoutSeconds \+ uploadIntervalSeconds is 330 s; prod allows at most 240 s/,
    { tools: true },
  ],
  [
    "a WAL upload interval below 5 seconds",
    dev({ postgres: { backup: { wal: { uploadIntervalSeconds: 1 } } } }),
    "postgres.backup.wal.uploadIntervalSeconds",
    /5/,
  ],
  [
    "a base backup schedule that is no cron",
    dev({ postgres: { backup: { wal: { baseBackupSchedule: "nightly" } } } }),
    "postgres.backup.wal.baseBackupSchedule",
    /five fields|5 fields|cron/i,
  ],
  [
    "keeping no base backup",
    dev({ postgres: { backup: { wal: { keepBaseBackups: 0 } } } }),
    "postgres.backup.wal.keepBaseBackups",
    /keep at least one base backup/,
  ],
  [
    "a restore on a stack without backups, whose target it would read",
    dev({ postgres: { restoreFrom: "latest" } }),
    "postgres.restoreFrom",
    /needs backups: the restore reads base backups and WAL from the backup target/,
    { tools: true },
  ],
  [
    "a restore to a point in the future",
    prod({ postgres: { restoreFrom: "2999-12-31T23:59:59Z" } }),
    "postgres.restoreFrom",
    /is in the future \(2999-12-31T23:59:59Z, now .*\): nothing is archived after now/,
  ],
  [
    "a restore into a Patroni cluster",
    prod({ postgres: { restoreFrom: "latest" } }),
    "postgres.restoreFrom",
    /restores into the single server only: the Patroni members of postgres.ha bootstrap/,
  ],
  [
    "a restore point that is neither latest, a backup nor a time",
    prod({ postgres: { restoreFrom: "2026-12-05 10:00" } }),
    "postgres.restoreFrom",
    /must be "latest", a base backup's name such as 20261205T013000Z, or a point in time/,
  ],
  [
    "a restore point without a zone",
    prod({ postgres: { restoreFrom: "2026-12-01T10:00:00" } }),
    "postgres.restoreFrom",
    /ISO 8601 with whole seconds and a zone/,
  ],
  [
    "a restore prefix with a trailing slash",
    prod({ postgres: { restoreFrom: "latest", restorePrefix: "old-stack/" } }),
    "postgres.restorePrefix",
    /without a leading, trailing or doubled '\/'/,
  ],
  [
    "Loki and Tempo at the backup target while backups stay in the cluster",
    prod({
      observability: {
        objectStorageTarget: "backup-target",
        externalBuckets: { loki: "logs", tempo: "traces" },
      },
    }),
    "observability.objectStorageTarget",
    /is backup-target, which needs postgres.backup.target.type s3 \(its endpoint\)/,
    { secretKeys: TELEMETRY_SECRET_KEYS, raw: TELEMETRY_SECRETS },
  ],
  [
    "Loki and Tempo at the backup target without their buckets",
    dev({
      postgres: { backup: { target: S3_TARGET } },
      observability: { objectStorage: true, objectStorageTarget: "backup-target" },
    }),
    "observability.externalBuckets",
    /is required with observability.objectStorageTarget backup-target/,
    {
      secretKeys: [...S3_SECRET_KEYS, ...TELEMETRY_SECRET_KEYS],
      raw: { ...S3_SECRETS, ...TELEMETRY_SECRETS },
    },
  ],
  [
    "Loki's external bucket the same as the backups'",
    dev({
      postgres: { backup: { target: S3_TARGET } },
      observability: {
        objectStorage: true,
        objectStorageTarget: "backup-target",
        externalBuckets: { loki: "pg-backups", tempo: "traces" },
      },
    }),
    "observability.externalBuckets",
    /must name two buckets of their own, apart from each other and from the backups'/,
    {
      secretKeys: [...S3_SECRET_KEYS, ...TELEMETRY_SECRET_KEYS],
      raw: { ...S3_SECRETS, ...TELEMETRY_SECRETS },
    },
  ],
  [
    "Loki and Tempo at the backup target without their own key pair",
    dev({
      postgres: { backup: { target: S3_TARGET } },
      observability: {
        objectStorage: true,
        objectStorageTarget: "backup-target",
        externalBuckets: { loki: "logs", tempo: "traces" },
      },
    }),
    "telemetryS3SecretAccessKey",
    /is required with observability.objectStorageTarget backup-target: `pulumi config set --secret/,
    { secretKeys: S3_SECRET_KEYS, raw: S3_SECRETS },
  ],
  [
    "telemetry keys while Loki and Tempo use the object store",
    dev({}),
    "telemetryS3AccessKeyId",
    /is set, but nothing uses it: observability.objectStorageTarget is in-cluster/,
    { secretKeys: TELEMETRY_SECRET_KEYS, raw: TELEMETRY_SECRETS },
  ],
  [
    "an s3 backup target without its endpoint",
    dev({ postgres: { backup: { target: { type: "s3", bucket: "pg-backups" } } } }),
    "postgres.backup.target.endpoint",
    /is required with postgres.backup.target.type s3/,
    { secretKeys: S3_SECRET_KEYS, raw: S3_SECRETS },
  ],
  [
    "an s3 backup target without its keys",
    dev({ postgres: { backup: { target: S3_TARGET } } }),
    "backupS3SecretAccessKey",
    /is required with postgres.backup.target.type s3: `pulumi config set --secret/,
    {
      secretKeys: ["k3s-platform:backupS3AccessKeyId"],
      raw: { "k3s-platform:backupS3AccessKeyId": "AKIAEXAMPLE" },
    },
  ],
  [
    "an s3 backup secret key in plain text",
    dev({ postgres: { backup: { target: S3_TARGET } } }),
    "backupS3SecretAccessKey",
    /must be stored as a secret/,
    { secretKeys: ["k3s-platform:backupS3AccessKeyId"], raw: S3_SECRETS },
  ],
  [
    "a backup endpoint that is no URL",
    dev({ postgres: { backup: { target: { ...S3_TARGET, endpoint: "s3.example.com" } } } }),
    "postgres.backup.target.endpoint",
    /must be an http\(s\) URL/,
    { secretKeys: S3_SECRET_KEYS, raw: S3_SECRETS },
  ],
  [
    "a backup prefix with a leading slash",
    dev({ postgres: { backup: { target: { type: "in-cluster", prefix: "/postgres" } } } }),
    "postgres.backup.target.prefix",
    /without a leading, trailing or doubled '\/'/,
  ],
  [
    "an external endpoint for an in-cluster target",
    dev({
      postgres: {
        backup: { target: { type: "in-cluster", endpoint: "https://s3.example.com" } },
      },
    }),
    "postgres.backup.target.endpoint",
    /is for an s3 target, but postgres.backup.target.type is in-cluster/,
  ],
  [
    "backup keys with an in-cluster target",
    dev({}),
    "backupS3AccessKeyId",
    /is set, but nothing uses it/,
    { secretKeys: S3_SECRET_KEYS, raw: S3_SECRETS },
  ],
  [
    "a backup CA bundle that is not PEM",
    dev({
      postgres: {
        backup: { enabled: true, target: { ...S3_TARGET, caBundle: "not a certificate" } },
      },
    }),
    "postgres.backup.target.caBundle",
    /must be PEM/,
    { secretKeys: S3_SECRET_KEYS, raw: S3_SECRETS },
  ],
  [
    "prod on the default .localhost domain",
    prod({ cluster: { domain: "platform.localhost" } }),
    "cluster.domain",
    /must not be under .localhost in prod.*RFC 6761/,
    { tools: true },
  ],
  [
    "a prod app host under .localhost",
    prod({ app: { host: "app.localhost" } }),
    "app.host",
    /must not be under .localhost in prod \(got "app.localhost"\)/,
  ],
  [
    "prod without a TLS Secret",
    prod({ cluster: { domain: "platform.example.com", tlsSecretName: undefined } }),
    "cluster.tlsSecretName",
    /required in prod/,
  ],
  [
    "prod with a tag-only app image",
    prod({ app: { image: "registry.example.com/app:1.0.0" } }),
    "app.image",
    /sha256/,
  ],
  [
    "prod with a single PgBouncer",
    prod({ pgbouncer: { replicas: 1 } }),
    "pgbouncer.replicas",
    /≥ 2/,
  ],
  [
    "prod with a single Temporal per service",
    prod({ temporal: { replicas: 1 } }),
    "temporal.replicas",
    /≥ 2/,
  ],
  [
    "prod with one web replica",
    prod({ app: { web: { minReplicas: 1 } } }),
    "app.web.minReplicas",
    /≥ 2 in prod/,
  ],
  [
    "prod without the nodes' network",
    prod({ cluster: { nodeCidrs: undefined } }),
    "cluster.nodeCidrs",
    /required in prod: the K3s nodes' network.*kubelets \(10250\)/,
  ],
  [
    "prod without the API server's addresses",
    prod({ deployTargets: { apiServer: { port: 6443, cidrs: undefined } } }),
    "deployTargets.apiServer.cidrs",
    /required in prod: the K3s server nodes' addresses.*allow port 6443 on every address/,
  ],
  [
    "a node network that is not a CIDR",
    dev({ cluster: { nodeCidrs: ["10.0.0.1"] } }),
    "cluster.nodeCidrs.0",
    /must be an IPv4 CIDR/,
  ],
  [
    "an empty node network",
    dev({ cluster: { nodeCidrs: [] } }),
    "cluster.nodeCidrs",
    /must list at least one CIDR/,
  ],
  [
    "an empty list of API server addresses",
    dev({ deployTargets: { apiServer: { cidrs: [] } } }),
    "deployTargets.apiServer.cidrs",
    /must list at least one CIDR/,
  ],
  [
    "a prod receiver without its credential",
    prod({ observability: { alerting: { receivers: { oncall: { kind: "webhook" } } } } }),
    "credentials.alerting.oncall",
    /is required: observability.alerting.receivers.oncall is a webhook receiver and sends with its URL; set it with `pulumi config set --secret/,
  ],
  [
    "an unknown receiver kind",
    dev({ observability: { alerting: { receivers: { oncall: { kind: "pagerduty" } } } } }),
    "observability.alerting.receivers.oncall.kind",
    /must be one of "webhook", "slack", "email"/,
  ],
  [
    "a prod webhook URL that is not https",
    prod({
      observability: { alerting: { receivers: { oncall: { kind: "webhook" } } } },
      credentials: { alerting: { oncall: "http://hooks.example.com/t0ken" } },
    }),
    "credentials.alerting.oncall",
    /must be an https:\/\/ URL in prod/,
    { secretKeys: ["k3s-platform:credentials"] },
  ],
  [
    "a receiver's credential for no receiver",
    dev({ credentials: { alerting: { stray: "https://hooks.example.com/t0ken" } } }),
    "credentials.alerting.stray",
    /is set, but observability.alerting.receivers has no receiver "stray"/,
    { secretKeys: ["k3s-platform:credentials"] },
  ],
  [
    "an email receiver's SMTP server without its port",
    dev({
      observability: {
        alerting: {
          receivers: {
            mail: {
              kind: "email",
              to: "ops@example.com",
              from: "am@example.com",
              smarthost: "smtp.example.com",
            },
          },
        },
      },
    }),
    "observability.alerting.receivers.mail.smarthost",
    /must be host:port/,
  ],
];

const COMPONENTS_AND_SECRETS: Row[] = [
  ...APP_CONTRACT_ROWS,
  [
    "an HPA whose maximum is below its minimum",
    dev({ app: { web: { minReplicas: 3, maxReplicas: 2 } } }),
    "app.web.maxReplicas",
    /at least minReplicas \(2 < 3\)/,
  ],
  [
    "an HPA floor above the default ceiling",
    dev({ app: { web: { minReplicas: 5 } } }),
    "app.web.minReplicas",
    /app.web.maxReplicas \(left to its default\) must be at least minReplicas \(3 < 5\)/,
  ],
  [
    "a GPU without a runtime class",
    dev({ ollama: { gpu: { count: 1 } } }),
    "ollama.gpu",
    /runtimeClassName/,
  ],
  [
    "a changed Temporal shard count",
    dev({ temporal: { numHistoryShards: 1024, recordedNumHistoryShards: 512 } }),
    "temporal.numHistoryShards",
    /cannot change from 512 to 1024/,
  ],
  [
    "a quota smaller than the LimitRange default",
    dev({ deployTargets: { quota: { limitsMemory: "256Mi" } } }),
    "deployTargets.quota.limitsMemory",
    /must be at least containerLimits.default.memory/,
  ],
  [
    "a LimitRange default above the defaults around it",
    dev({ deployTargets: { containerLimits: { default: { cpu: "8", memory: "512Mi" } } } }),
    "deployTargets.containerLimits.default.cpu",
    /deployTargets.quota.limitsCpu \(left to its default\)/,
  ],
  [
    "a secret stored in plain text",
    dev({ arcjetKey: "ajkey_live_123" }),
    "arcjetKey",
    /pulumi config set --secret/,
  ],
  [
    "a credential stored in plain text",
    dev({ credentials: { grafana: { admin: "x".repeat(20) } } }),
    "credentials",
    /must be stored as a secret/,
  ],
  [
    "a credential too short",
    dev({ credentials: { postgres: { app: "short" } } }),
    "credentials.postgres.app",
    /at least 16 characters/,
    { secretKeys: ["k3s-platform:credentials"] },
  ],
  [
    "a credential with characters URLs need escaped",
    dev({ credentials: { dragonfly: { password: "p@ss/word:with#chars" } } }),
    "credentials.dragonfly.password",
    /letters, digits and \. _ ~ -/,
    { secretKeys: ["k3s-platform:credentials"] },
  ],
  [
    "a credential that is not a string",
    dev({ credentials: { objectStore: { root: 1234567890123456 } } }),
    "credentials.objectStore.root",
    /must be a string, set with/,
    { secretKeys: ["k3s-platform:credentials"] },
  ],
  [
    "prod serving the Temporal UI without a login",
    prod({ temporal: { ui: { ingress: true } } }),
    "temporal.ui.ingress",
    /must be false in prod unless the UI has its login .*terminate, reset and signal/,
  ],
  [
    "a Temporal UI login without its client id",
    dev({ temporal: { ui: { oidc: { issuerUrl: "https://login.example.com" } } } }),
    "temporal.ui.oidc.clientId",
    /is required with temporal.ui.oidc.issuerUrl: the UI's login needs/,
  ],
  [
    "a Temporal UI login without its client secret",
    dev({ temporal: { ui: { oidc: { issuerUrl: "https://login.example.com", clientId: "ui" } } } }),
    "temporalUiClientSecret",
    /is required with temporal.ui.oidc.issuerUrl: .*pulumi config set --secret/,
  ],
  [
    "a Temporal UI client secret without a login",
    dev({ temporalUiClientSecret: "s3cret-value" }),
    "temporal.ui.oidc.issuerUrl",
    /is required with temporalUiClientSecret/,
    { secretKeys: ["k3s-platform:temporalUiClientSecret"] },
  ],
  [
    "a Temporal UI client secret in plain text",
    dev({
      temporal: { ui: { oidc: { issuerUrl: "https://login.example.com", clientId: "ui" } } },
      temporalUiClientSecret: "s3cret-value",
    }),
    "temporalUiClientSecret",
    /must be stored as a secret/,
  ],
  [
    "a Temporal UI issuer that is no URL",
    dev({
      temporal: { ui: { oidc: { issuerUrl: "login.example.com", clientId: "ui" } } },
      temporalUiClientSecret: "s3cret-value",
    }),
    "temporal.ui.oidc.issuerUrl",
    /must be an http or https URL/,
    { secretKeys: ["k3s-platform:temporalUiClientSecret"] },
  ],
  [
    "a Temporal UI login without the UI's Ingress",
    dev({
      temporal: {
        ui: { ingress: false, oidc: { issuerUrl: "https://login.example.com", clientId: "ui" } },
      },
      temporalUiClientSecret: "s3cret-value",
    }),
    "temporal.ui.oidc",
    /needs the UI's Ingress/,
    { secretKeys: ["k3s-platform:temporalUiClientSecret"] },
  ],
  [
    "prod with a Temporal UI issuer over plain http",
    prod({
      temporal: {
        ui: { ingress: true, oidc: { issuerUrl: "http://login.example.com", clientId: "ui" } },
      },
      temporalUiClientSecret: "s3cret-value",
    }),
    "temporal.ui.oidc.issuerUrl",
    /must be an https URL in prod \(got "http:\/\/login.example.com"\)/,
    { secretKeys: ["k3s-platform:temporalUiClientSecret"] },
  ],
  [
    "prod serving the Temporal UI's login without TLS",
    prod({
      cluster: { tlsSecretName: undefined },
      temporal: {
        ui: { ingress: true, oidc: { issuerUrl: "https://login.example.com", clientId: "ui" } },
      },
      temporalUiClientSecret: "s3cret-value",
    }),
    "cluster.tlsSecretName",
    /required in prod while temporal.ui.ingress is on/,
    { secretKeys: ["k3s-platform:temporalUiClientSecret"] },
  ],
];

/** Every invalid stack of the corpus. */
const DRAGONFLY_SNAPSHOTS: Row[] = [
  [
    "a Dragonfly snapshot cron with four fields",
    prod({ dragonfly: { snapshotCron: "*/15 * * *" } }),
    "dragonfly.snapshotCron",
    /must be five cron fields .* \(got 4 fields in "\*\/15 \* \* \*"\)/,
  ],
  [
    "a Dragonfly snapshot cron with a minute past 59",
    dev({ dragonfly: { snapshotCron: "75 * * * *" } }),
    "dragonfly.snapshotCron",
    /has a bad minute field "75": 75 is outside 0-59/,
  ],
  [
    "a snapshot target type Dragonfly does not know",
    dev({ dragonfly: { snapshotTarget: { type: "gcs" } } }),
    "dragonfly.snapshotTarget.type",
    /must be "volume", "in-cluster" or "s3" \(got the string "gcs"\)/,
  ],
  [
    "an s3 snapshot target without its keys",
    dev({ dragonfly: { snapshotTarget: SNAPSHOT_TARGET } }),
    "dragonflyS3AccessKeyId",
    /is required with dragonfly.snapshotTarget.type s3: `pulumi config set --secret/,
    { tools: true },
  ],
  [
    "an s3 snapshot target with only its access key id",
    dev({ dragonfly: { snapshotTarget: SNAPSHOT_TARGET } }),
    "dragonflyS3SecretAccessKey",
    /is required with dragonfly.snapshotTarget.type s3/,
    {
      secretKeys: ["k3s-platform:dragonflyS3AccessKeyId"],
      raw: { "k3s-platform:dragonflyS3AccessKeyId": "AKIAEXAMPLE" },
    },
  ],
  [
    "an s3 snapshot secret key in plain text",
    dev({ dragonfly: { snapshotTarget: SNAPSHOT_TARGET } }),
    "dragonflyS3SecretAccessKey",
    /must be stored as a secret/,
    { secretKeys: ["k3s-platform:dragonflyS3AccessKeyId"], raw: SNAPSHOT_SECRETS },
  ],
  [
    "an s3 snapshot target without its bucket",
    dev({ dragonfly: { snapshotTarget: { ...SNAPSHOT_TARGET, bucket: undefined } } }),
    "dragonfly.snapshotTarget.bucket",
    /is required with dragonfly.snapshotTarget.type s3/,
    { secretKeys: SNAPSHOT_SECRET_KEYS, raw: SNAPSHOT_SECRETS },
  ],
  [
    "a snapshot endpoint with a path",
    dev({
      dragonfly: { snapshotTarget: { ...SNAPSHOT_TARGET, endpoint: "https://s3.example.com/x" } },
    }),
    "dragonfly.snapshotTarget.endpoint",
    /must be http\(s\):\/\/host\[:port\] with nothing after it/,
    { secretKeys: SNAPSHOT_SECRET_KEYS, raw: SNAPSHOT_SECRETS },
  ],
  [
    "a private CA for Dragonfly's snapshot target",
    dev({
      dragonfly: {
        snapshotTarget: {
          ...SNAPSHOT_TARGET,
          caBundle: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        },
      },
    }),
    "dragonfly.snapshotTarget.caBundle",
    /Dragonfly has no setting for a private CA/,
    { secretKeys: SNAPSHOT_SECRET_KEYS, raw: SNAPSHOT_SECRETS },
  ],
  [
    "virtual-hosted addressing for Dragonfly's snapshot target",
    dev({ dragonfly: { snapshotTarget: { ...SNAPSHOT_TARGET, pathStyle: false } } }),
    "dragonfly.snapshotTarget.pathStyle",
    /path-style only/,
    { secretKeys: SNAPSHOT_SECRET_KEYS, raw: SNAPSHOT_SECRETS },
  ],
  [
    "an endpoint for a snapshot target on the volume",
    dev({ dragonfly: { snapshotTarget: { type: "volume", endpoint: "https://s3.example.com" } } }),
    "dragonfly.snapshotTarget.endpoint",
    /is for an s3 target, but dragonfly.snapshotTarget.type is volume/,
  ],
  [
    "snapshot keys with an in-cluster snapshot target",
    dev({ dragonfly: { snapshotTarget: { type: "in-cluster" } } }),
    "dragonflyS3AccessKeyId",
    /is set, but nothing uses it: dragonfly.snapshotTarget.type is in-cluster/,
    { secretKeys: SNAPSHOT_SECRET_KEYS, raw: SNAPSHOT_SECRETS },
  ],
  [
    "a snapshot folder with a trailing slash",
    dev({ dragonfly: { snapshotTarget: { type: "in-cluster", prefix: "dragonfly/" } } }),
    "dragonfly.snapshotTarget.prefix",
    /without a leading, trailing or doubled '\/'/,
  ],
  [
    "Dragonfly's bucket named like the app's",
    dev({
      dragonfly: { snapshotTarget: { type: "in-cluster" } },
      objectStore: { buckets: { dragonfly: "app" } },
    }),
    "objectStore.buckets.dragonfly",
    /"app" is also buckets.app: each consumer's user is scoped to its own bucket/,
  ],
  [
    "Dragonfly's bucket quota past the volume's room",
    dev({
      dragonfly: { snapshotTarget: { type: "in-cluster" } },
      objectStore: { quotas: { dragonfly: "6Gi" } },
    }),
    "objectStore.quotas",
    /add up to more than storageSize \(10Gi\): .*quotas.dragonfly 6Gi/,
  ],
];

export const INVALID_STACKS: InvalidStack[] = [
  ...KEYS_AND_NAMESPACES,
  ...TYPES_AND_RANGES,
  ...QUANTITIES,
  ...CRON,
  ...CONNECTIONS,
  ...MEMORY,
  ...NAMES,
  ...PRODUCTION,
  ...COMPONENTS_AND_SECRETS,
  ...DRAGONFLY_SNAPSHOTS,
].map(([name, values, key, reason, extra]) => ({ name, values, key, reason, ...extra }));

/** The config as the engine passes it: the stack's values, then any raw extra entries. */
export function rawConfigOf(stack: InvalidStack): Record<string, string> {
  return { ...rawStackConfig(stack.values), ...stack.raw };
}

/** The full key an issue must carry: project keys get the prefix, raw ones are as written. */
export function fullKey(stack: InvalidStack): string {
  return stack.raw && stack.key in stack.raw ? stack.key : `k3s-platform:${stack.key}`;
}
