import type { PlatformArgs } from "../stack-config/types";
import { APP_DEFAULTS, type App } from "../components/app";
import type { DeployTarget } from "../components/deploy-target";
import type { Dragonfly } from "../components/dragonfly";
import { DRAGONFLY_PORT } from "../components/dragonfly";
import type { WorkloadIdentity } from "../policy/model/labels";
import { edge, peer, port, type Edge, type Peer } from "../policy/model/network";
import { nodeLogsNamespace } from "../policy/model/security-exceptions";
import { apiServerCidrs } from "./args/deploy-target";
import { externalBackupTarget } from "./args/postgres";
import { externalSnapshotTarget } from "./args/dragonfly";
import type { Migrations } from "../components/migrations";
import { OBJECT_STORE_API_PORT, type ObjectStore } from "../components/object-store";
import { PORTS as OBS, receiverPorts, type Observability } from "../components/observability";
import { argsForObservability } from "./args/observability";
import { OLLAMA_PORT, type Ollama } from "../components/ollama";
import { PGBOUNCER_EXPORTER_PORT, PGBOUNCER_PORT, type PgBouncer } from "../components/pgbouncer";
import {
  PATRONI_API_PORT,
  POSTGRES_EXPORTER_PORT,
  POSTGRES_PORT,
  type Postgres,
} from "../components/postgres";
import { FRONTEND_HTTP_PORT } from "../components/temporal/config";
import {
  TEMPORAL_METRICS_PORT,
  TEMPORAL_PORTS,
  TEMPORAL_UI_PORT,
  type Temporal,
} from "../components/temporal";

/** The components whose pods the wiring table connects. */
export interface WiredComponents {
  postgres: Postgres;
  pgbouncer: PgBouncer;
  dragonfly: Dragonfly;
  objectStore: ObjectStore;
  observability: Observability;
  temporal: Temporal;
  ollama: Ollama;
  migrations: Migrations;
  /** None when the stack runs no app (neither `app.image` nor `app.build`). */
  app?: App;
  deployTarget: DeployTarget;
}

/** What every group of edges is built from: the components' pods as peers of the namespace. */
interface WiringContext {
  args: PlatformArgs;
  c: WiredComponents;
  at: (identity: WorkloadIdentity) => Peer;
  /** One edge from each of `froms` to `to`. */
  each: (froms: Peer[], to: Peer, ports: number[], why: string) => Edge[];
  /** Web and worker, when the app is on. */
  appPods: Peer[];
  temporalServers: Peer[];
  frontend: Peer;
  postgres: Peer;
  objectStore: Peer;
}

/**
 * The wiring table (docs/architecture.md) as declared edges: exactly the connections the
 * platform needs, from which the NetworkPolicies are derived and against which the reachability
 * check compares the rendered policies. Ports are container ports (K3s judges traffic after the
 * Service's address translation).
 */
export function platformEdges(args: PlatformArgs, c: WiredComponents): Edge[] {
  const at = (identity: WorkloadIdentity): Peer => peer.workload(identity, args.namespace);
  const context: WiringContext = {
    args,
    c,
    at,
    each: (froms, to, ports, why) => froms.map((from) => edge(from, to, ports.map(port.tcp), why)),
    appPods: c.app ? [at(c.app.webIdentity), at(c.app.workerIdentity)] : [],
    temporalServers: c.temporal.identities.server.map(at),
    frontend: at(c.temporal.identities.frontend),
    postgres: at(c.postgres.identity),
    objectStore: at(c.objectStore.identity),
  };
  return [
    ...servedEdges(context),
    ...appEdges(context),
    ...postgresEdges(context),
    ...snapshotEdges(context),
    ...temporalEdges(context),
    ...ollamaEdges(context),
    ...telemetryEdges(context),
    ...alertingEdges(context),
  ];
}

/** Ingress controller → what the platform serves. */
function servedEdges({ args, c, at }: WiringContext): Edge[] {
  return [
    ...(c.app
      ? [
          edge(
            peer.ingressController(),
            at(c.app.webIdentity),
            [port.tcp(args.app.web.port)],
            "Traefik serves the app (/api, /trpc)",
          ),
        ]
      : []),
    edge(
      peer.ingressController(),
      at(c.observability.identities.grafana),
      [port.tcp(OBS.grafanaHttp)],
      "Traefik serves Grafana",
    ),
    // Only while the UI has its Ingress (temporal.ui.ingress): without one, operators
    // port-forward, and Traefik has nothing of it to serve.
    ...(args.temporal.ui.ingress
      ? [
          edge(
            peer.ingressController(),
            at(c.temporal.identities.ui),
            [port.tcp(TEMPORAL_UI_PORT)],
            "Traefik serves the Temporal UI",
          ),
        ]
      : []),
  ];
}

/** The app and its data, its telemetry, its deploy targets and the internet it calls. */
function appEdges({
  args,
  c,
  at,
  each,
  appPods,
  frontend,
  postgres,
  objectStore,
}: WiringContext): Edge[] {
  if (c.app === undefined) return [];
  return [
    ...each(appPods, at(c.pgbouncer.identity), [PGBOUNCER_PORT], "queries through the pooler"),
    ...(args.app.directDatabaseAccess
      ? each(appPods, postgres, [POSTGRES_PORT], "session features (DATABASE_DIRECT_URL)")
      : []),
    ...each(appPods, at(c.dragonfly.identity), [DRAGONFLY_PORT], "cache and BullMQ queues"),
    ...each(appPods, frontend, [TEMPORAL_PORTS.frontend.grpc], "Temporal clients and workers"),
    ...each(appPods, objectStore, [OBJECT_STORE_API_PORT], "the app's bucket"),
    ...each(appPods, at(c.ollama.identities.server), [OLLAMA_PORT], "local LLM"),
    ...each(
      appPods,
      at(c.observability.identities.collector),
      [OBS.otlpGrpc, OBS.otlpHttp],
      "traces, metrics, logs (OTLP)",
    ),
    ...c.deployTarget.workerEdges(c.app.workerIdentity),
    ...notifyEdges(args, at(c.app.workerIdentity)),
    ...(args.app.egress.arcjet && args.secrets.arcjetKey
      ? [edge(at(c.app.webIdentity), internet(args), [port.tcp(443)], "Arcjet's API")]
      : []),
  ];
}

/**
 * The worker's `notifyUsers` webhook, when `deployTargets.notify` names where it is: those
 * addresses on those ports, nothing else outside the cluster.
 */
function notifyEdges(args: PlatformArgs, worker: Peer): Edge[] {
  const { notify } = args.deployTargets;
  if (notify === undefined) return [];
  // The core's one address peer that can be narrowed to given CIDRs is the API server's: its
  // policy is exactly an ipBlock per CIDR (the cluster's ranges excepted), which is what the
  // webhook needs. An internet peer would open those ports to every outside address.
  const webhook = peer.kubernetesApi({ cidrs: notify.cidrs });
  return [edge(worker, webhook, notify.ports.map(port.tcp), "notifies users (webhook)")];
}

/** Postgres and who reaches it directly, and the object store's own clients. */
function postgresEdges({
  args,
  c,
  at,
  each,
  temporalServers,
  postgres,
  objectStore,
}: WiringContext): Edge[] {
  return [
    edge(
      at(c.pgbouncer.identity),
      postgres,
      [port.tcp(POSTGRES_PORT)],
      "the pool's server connections",
    ),
    edge(
      at(c.migrations.identity),
      postgres,
      [port.tcp(POSTGRES_PORT)],
      "Atlas migrations (session advisory lock)",
    ),
    edge(
      at(c.postgres.rolesIdentity),
      postgres,
      [port.tcp(POSTGRES_PORT)],
      "re-applies roles, verifiers and grants as the superuser",
    ),
    ...each(
      [...temporalServers, at(c.temporal.identities.schemaJob)],
      postgres,
      [POSTGRES_PORT],
      "Temporal persistence, directly",
    ),
    ...(args.postgres.backup.enabled
      ? [
          edge(at(c.postgres.backupIdentity), postgres, [port.tcp(POSTGRES_PORT)], "pg_dump"),
          backupTargetEdge(args, at(c.postgres.backupIdentity), objectStore, "uploads the dump"),
        ]
      : []),
    ...(args.postgres.backup.enabled && args.postgres.backup.wal.enabled
      ? [
          edge(
            at(c.postgres.baseBackupIdentity),
            postgres,
            [port.tcp(POSTGRES_PORT)],
            "pg_basebackup (replication)",
          ),
          backupTargetEdge(
            args,
            at(c.postgres.baseBackupIdentity),
            objectStore,
            "uploads the base backup",
          ),
        ]
      : []),
    ...(args.postgres.backup.enabled &&
    (args.postgres.backup.wal.enabled || args.postgres.restoreFrom !== undefined)
      ? [backupTargetEdge(args, postgres, objectStore, "archives WAL, restores from the archive")]
      : []),
    ...patroniEdges(args, postgres),
    edge(
      at(c.objectStore.bucketJobIdentity),
      objectStore,
      [port.tcp(OBJECT_STORE_API_PORT)],
      "creates buckets and users",
    ),
  ];
}

/**
 * Where Dragonfly's snapshots go, when not on its volume: the object store's API, or an external
 * target's port on the internet (a NetworkPolicy names addresses, not host names; the
 * internet-egress rule allows it only with an external `DFLY_s3_endpoint` on that port).
 */
function snapshotEdges({ args, c, at, objectStore }: WiringContext): Edge[] {
  const dragonfly = at(c.dragonfly.identity);
  const external = externalSnapshotTarget(args);
  if (external !== undefined) {
    return [
      edge(
        dragonfly,
        internet(args),
        [port.tcp(external.port)],
        `snapshots to and from the snapshot target ${external.host}`,
      ),
    ];
  }
  return args.dragonfly.snapshotTarget.type === "in-cluster"
    ? [
        edge(
          dragonfly,
          objectStore,
          [port.tcp(OBJECT_STORE_API_PORT)],
          "writes its snapshot, loads it at start",
        ),
      ]
    : [];
}

/**
 * The Patroni members of `postgres.ha`, between themselves: WAL streaming and pg_rewind (5432),
 * and each other's REST API (8008), which a member asks before it takes the leader key; and the
 * API server, their DCS. None without HA.
 */
function patroniEdges(args: PlatformArgs, postgres: Peer): Edge[] {
  if (!args.postgres.ha.enabled) return [];
  const cidrs = apiServerCidrs(args);
  return [
    edge(
      postgres,
      postgres,
      [port.tcp(POSTGRES_PORT), port.tcp(PATRONI_API_PORT)],
      "Patroni members: replication, pg_rewind and the leader race",
    ),
    edge(
      postgres,
      peer.kubernetesApi(cidrs ? { cidrs } : {}),
      [port.tcp(args.deployTargets.apiServer.port)],
      "Patroni's DCS: the leader key and the primary's Endpoints",
    ),
  ];
}

/** Temporal's own cluster: every service reaches every other's gRPC and membership ports. */
function temporalEdges({ c, at, temporalServers, frontend }: WiringContext): Edge[] {
  return [
    ...temporalServers.flatMap((from) =>
      temporalServers.map((to) =>
        edge(from, to, temporalServerPorts(), "Temporal membership and RPC"),
      ),
    ),
    edge(
      at(c.temporal.identities.ui),
      frontend,
      [port.tcp(TEMPORAL_PORTS.frontend.grpc)],
      "the UI's API calls",
    ),
    edge(
      at(c.temporal.identities.namespaceJob),
      frontend,
      [port.tcp(TEMPORAL_PORTS.frontend.grpc)],
      "registers the app's namespace",
    ),
  ];
}

/** Ollama's model pull. */
function ollamaEdges({ args, c, at }: WiringContext): Edge[] {
  return [
    edge(
      at(c.ollama.identities.pullJob),
      at(c.ollama.identities.server),
      [port.tcp(OLLAMA_PORT)],
      "asks Ollama to pull the models",
    ),
    ...(args.app.egress.modelRegistry
      ? [
          edge(
            at(c.ollama.identities.server),
            internet(args),
            [port.tcp(443)],
            "downloads models from the Ollama registry",
          ),
        ]
      : []),
  ];
}

/** Telemetry: collectors to the stores, Grafana to its datasources, Prometheus to its targets. */
function telemetryEdges({
  args,
  c,
  at,
  each,
  appPods,
  temporalServers,
  objectStore,
}: WiringContext): Edge[] {
  const obs = c.observability.identities;
  const collector = at(obs.collector);
  const prometheus = at(obs.prometheus);
  const loki = at(obs.loki);
  const tempo = at(obs.tempo);
  const grafana = at(obs.grafana);
  return [
    ...(args.observability.nodeLogs
      ? [
          edge(
            peer.workload(obs.nodeLogCollector, nodeLogsNamespace(args.namespace)),
            collector,
            [port.tcp(OBS.otlpGrpc)],
            "container logs from every node",
          ),
        ]
      : []),
    edge(collector, tempo, [port.tcp(OBS.otlpGrpc)], "traces"),
    // k8sattributes watches pods and namespaces (its ClusterRole): without this edge the default
    // deny leaves every span, metric and file log without its workload's name. The same API
    // server addresses and port as Prometheus's pod discovery.
    edge(
      collector,
      peer.kubernetesApi(apiServerCidrs(args) ? { cidrs: apiServerCidrs(args) } : {}),
      [port.tcp(args.deployTargets.apiServer.port)],
      "k8sattributes reads pods and namespaces",
    ),
    // kube-state-metrics lists and watches the platform's Jobs and CronJobs (its Role), at the
    // same API server addresses and port.
    edge(
      at(obs.kubeStateMetrics),
      peer.kubernetesApi(apiServerCidrs(args) ? { cidrs: apiServerCidrs(args) } : {}),
      [port.tcp(args.deployTargets.apiServer.port)],
      "kube-state-metrics watches Jobs and CronJobs",
    ),
    edge(collector, loki, [port.tcp(OBS.lokiHttp)], "logs (OTLP)"),
    edge(collector, prometheus, [port.tcp(OBS.prometheusHttp)], "metrics (OTLP receiver)"),
    edge(
      tempo,
      prometheus,
      [port.tcp(OBS.prometheusHttp)],
      "span metrics and service graphs (remote write)",
    ),
    edge(grafana, prometheus, [port.tcp(OBS.prometheusHttp)], "datasource"),
    edge(grafana, loki, [port.tcp(OBS.lokiHttp)], "datasource"),
    edge(grafana, tempo, [port.tcp(OBS.tempoHttp)], "datasource"),
    ...prometheusClusterEdges(args, prometheus),
    ...scrapeEdges(prometheus, at, c, { temporalServers, appPods }),
    ...telemetryStorageEdges(args, [loki, tempo], objectStore, each),
  ];
}

/**
 * Prometheus → the API server (pod discovery) and the kubelets (volume stats), each only at its
 * own addresses: the server nodes ({@link apiServerCidrs}) and the node network
 * (`cluster.nodeCidrs`). The core's one narrowable address peer is the API server's, so the
 * kubelet edge is declared with it too (see notifyEdges).
 */
function prometheusClusterEdges(args: PlatformArgs, prometheus: Peer): Edge[] {
  const cidrsOf = (cidrs: string[] | undefined) => peer.kubernetesApi(cidrs ? { cidrs } : {});
  return [
    edge(
      prometheus,
      cidrsOf(apiServerCidrs(args)),
      [port.tcp(args.deployTargets.apiServer.port)],
      "pod discovery",
    ),
    edge(
      prometheus,
      cidrsOf(args.cluster.nodeCidrs),
      [port.tcp(OBS.kubelet)],
      "kubelet volume stats",
    ),
  ];
}

/**
 * Alerts: Prometheus sends them to Alertmanager (and scrapes it on the same port), Grafana reads
 * and silences them, and Alertmanager reaches the internet only on the ports of the receivers the
 * stack configures: none with the default (no receivers, the blackhole).
 */
function alertingEdges({ args, c, at }: WiringContext): Edge[] {
  const obs = c.observability.identities;
  const alertmanager = at(obs.alertmanager);
  const ports = receiverPorts(argsForObservability(args).alertmanager.receivers);
  return [
    edge(
      at(obs.prometheus),
      alertmanager,
      [port.tcp(OBS.alertmanagerHttp)],
      "sends firing alerts; scrapes its metrics",
    ),
    edge(at(obs.grafana), alertmanager, [port.tcp(OBS.alertmanagerHttp)], "datasource"),
    ...(ports.length > 0
      ? [
          edge(
            alertmanager,
            internet(args),
            ports.map(port.tcp),
            "notifies the configured receivers (webhook, Slack, SMTP)",
          ),
        ]
      : []),
  ];
}

/** Prometheus → every pod it scrapes, on the port of its scrape annotation. */
function scrapeEdges(
  prometheus: Peer,
  at: (identity: WorkloadIdentity) => Peer,
  c: WiredComponents,
  { temporalServers, appPods }: Pick<WiringContext, "temporalServers" | "appPods">,
): Edge[] {
  const obs = c.observability.identities;
  const targets: [Peer, number][] = [
    [at(c.postgres.identity), POSTGRES_EXPORTER_PORT],
    [at(c.pgbouncer.identity), PGBOUNCER_EXPORTER_PORT],
    [at(c.dragonfly.identity), DRAGONFLY_PORT],
    ...appPods.map((pod): [Peer, number] => [pod, APP_DEFAULTS.metrics.port]),
    [at(obs.collector), OBS.collectorMetrics],
    [at(obs.loki), OBS.lokiHttp],
    [at(obs.tempo), OBS.tempoHttp],
    [at(obs.grafana), OBS.grafanaHttp],
    // Its own job (honor_labels), not the annotation: the port is the same either way.
    [at(obs.kubeStateMetrics), OBS.kubeStateMetricsHttp],
    ...temporalServers.map((server): [Peer, number] => [server, TEMPORAL_METRICS_PORT]),
  ];
  return targets.map(([target, metricsPort]) =>
    edge(prometheus, target, [port.tcp(metricsPort)], "scrapes metrics"),
  );
}

function temporalServerPorts() {
  return [
    ...Object.values(TEMPORAL_PORTS).flatMap(({ grpc, membership }) => [
      port.tcp(grpc),
      port.tcp(membership),
    ]),
    // The system worker calls the frontend's HTTP API (Nexus callbacks).
    port.tcp(FRONTEND_HTTP_PORT),
  ];
}

/**
 * Where backups go: the object store's API, or an external target's host on its port. A
 * NetworkPolicy names addresses, not host names, so the external edge is the internet on that
 * one port; the internet-egress rule allows it only with an external S3_ENDPOINT on that port.
 */
function backupTargetEdge(args: PlatformArgs, from: Peer, objectStore: Peer, what: string): Edge {
  const external = externalBackupTarget(args);
  return external === undefined
    ? edge(from, objectStore, [port.tcp(OBJECT_STORE_API_PORT)], what)
    : edge(
        from,
        internet(args),
        [port.tcp(external.port)],
        `${what} at the backup target ${external.host}`,
      );
}

/** Loki and Tempo → where their chunks and blocks go: the object store, or the backup target. */
function telemetryStorageEdges(
  args: PlatformArgs,
  stores: Peer[],
  objectStore: Peer,
  each: WiringContext["each"],
): Edge[] {
  const { objectStorage, objectStorageTarget } = args.observability;
  if (!objectStorage) return [];
  const external = objectStorageTarget === "backup-target" ? externalBackupTarget(args) : undefined;
  return external === undefined
    ? each(stores, objectStore, [OBJECT_STORE_API_PORT], "chunks and blocks in the object store")
    : stores.map((store) =>
        edge(
          store,
          internet(args),
          [port.tcp(external.port)],
          `chunks and blocks at the backup target ${external.host}`,
        ),
      );
}

/** Anything outside the cluster, never the cluster's own pod and service ranges. */
function internet(args: PlatformArgs): Peer {
  return peer.internet({ except: [args.cluster.podCidr, args.cluster.serviceCidr] });
}
