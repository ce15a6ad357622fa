import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { cataloguePostgresMajor, IMAGES } from "../../core/images";
import { toMebibytes } from "../../core/quantity";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { configHashAnnotation } from "../lib/hash";
import { check, probesFor } from "../lib/probes";
import { memoryCeiling, type ResourceSpec } from "../lib/resources";
import { scrapeAnnotations } from "../lib/scrape";
import { PlatformSecret, type SecretKey } from "../lib/secrets";
import { RETAIN_CLAIMS, volumeClaimTemplate } from "../lib/stateful";
import { container, disruptionBudget, emptyDir, objectMeta, podTemplate } from "../lib/workload";
import { PGDATA, POSTGRES_EXPORTER_PORT } from "./builders";
import type { ResolvedPostgresArgs } from "./args";
import { POSTGRES_PORT, postgresSettings, SOCKET_DIR, type SettingValue } from "./config";
import { BACKUP_ROLE_NAME } from "./init";
import type { ResolvedHaArgs } from "./ha-args";
import {
  PATRONI_API_PORT,
  PATRONI_ENV,
  patroniYaml,
  REPLICA_ROLE,
  REPLICATION_USER,
  ROLE_LABEL,
  SCOPE_LABEL,
  type PatroniConfigArgs,
} from "./patroni";

/**
 * The objects of a Patroni cluster (`postgres.ha`): a StatefulSet of members, one per node, each
 * running the image's `patroni` with the rendered config; the API access Patroni's Kubernetes DCS
 * needs; the Services clients use; a PodDisruptionBudget. The `postgres` Service has no selector:
 * Patroni writes its Endpoints with the primary's address, together with the leader key.
 */

type Container = k8s.types.input.core.v1.Container;

/** Where the Patroni config file is mounted. */
export const PATRONI_CONFIG_DIR = "/etc/patroni";
/** The config file's name in its ConfigMap. */
export const PATRONI_CONFIG_FILE = "patroni.yml";
/**
 * Where the platform's PostgreSQL major's programs are, in the Spilo image as on Debian: the
 * image carries several majors, and the members must run the one the data directory is of.
 */
export const PG_BIN_DIR = `/usr/lib/postgresql/${cataloguePostgresMajor()}/bin`;
/** Spilo's `postgres` group, which owns the data volume. */
const SPILO_GID = 103;
const DATA_MOUNT = "/var/lib/postgresql/data";

/**
 * Exactly what Patroni 4's Kubernetes DCS calls in `use_endpoints` mode, in its own namespace:
 * it lists and watches the member pods and patches their role label and status annotation; it
 * reads, lists, watches, creates and patches its Endpoints (leader, config, sync, failover). It
 * also tries to create the `<scope>-config` Service, and takes a 403 as "exists": the component
 * creates that Service, so no Service verb is granted. ConfigMaps are the other mode's, unused.
 */
export const PATRONI_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [
  { apiGroups: [""], resources: ["endpoints"], verbs: ["get", "list", "watch", "create", "patch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "patch"] },
];

/** Patroni's config args of a member pod (the paths are the pod's). */
export function podPatroniArgs(
  scope: string,
  namespace: string,
  identity: WorkloadIdentity,
): Omit<PatroniConfigArgs, "settings" | "synchronousMode" | "synchronousStandbys"> {
  return {
    scope,
    namespace,
    labels: selectorFor(identity),
    dataDir: PGDATA,
    binDir: PG_BIN_DIR,
    pgpassFile: "/tmp/pgpass",
  };
}

/** The labels of a member pod: the workload's, and the scope Patroni finds its members by. */
export function memberLabels(identity: WorkloadIdentity, scope: string): Record<string, string> {
  return { ...labelsFor(identity), [SCOPE_LABEL]: scope };
}

/** The Patroni ServiceAccount, its Role ({@link PATRONI_RULES}) and their RoleBinding. */
export function patroniAccess(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
): k8s.core.v1.ServiceAccount {
  const metadata = objectMeta(name, namespace, identity);
  const account = new k8s.core.v1.ServiceAccount(
    name,
    { metadata, automountServiceAccountToken: false },
    { parent },
  );
  const role = new k8s.rbac.v1.Role(name, { metadata, rules: PATRONI_RULES }, { parent });
  new k8s.rbac.v1.RoleBinding(
    name,
    {
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace }],
    },
    { parent },
  );
  return account;
}

/**
 * The Services of the cluster: `name` (the primary, Endpoints by Patroni), `name-replicas`
 * (running standbys, by their role label, read-only), `name-headless` (every member, the
 * StatefulSet's), `name-config` (holds Patroni's config Endpoints; no selector, no clients).
 */
export function haServices(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
): { headless: k8s.core.v1.Service } {
  const ports = [{ name: "postgres", port: POSTGRES_PORT, targetPort: POSTGRES_PORT }];
  const service = (
    serviceName: string,
    spec: Omit<k8s.types.input.core.v1.ServiceSpec, "ports">,
    servicePorts: k8s.types.input.core.v1.ServicePort[] = ports,
  ) =>
    new k8s.core.v1.Service(
      serviceName,
      {
        metadata: { name: serviceName, namespace, labels: labelsFor(identity) },
        spec: { ...spec, ports: servicePorts.map((p) => ({ protocol: "TCP", ...p })) },
      },
      { parent },
    );
  const headless = service(`${name}-headless`, {
    clusterIP: "None",
    publishNotReadyAddresses: true,
    selector: selectorFor(identity),
  });
  service(name, { type: "ClusterIP" });
  service(`${name}-replicas`, {
    type: "ClusterIP",
    selector: { ...selectorFor(identity), [ROLE_LABEL]: REPLICA_ROLE },
  });
  service(`${name}-config`, { clusterIP: "None" }, []);
  return { headless };
}

/** The PodDisruptionBudget: a drain takes one member at a time. */
export function haDisruptionBudget(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
): void {
  new k8s.policy.v1.PodDisruptionBudget(name, disruptionBudget(name, namespace, identity), {
    parent,
  });
}

/** The member container: Patroni on the rendered config, its pod's name and address from env. */
export function patroniContainer(
  image: pulumi.Input<string>,
  resources: ResourceSpec,
  passwords: { superuser: SecretKey; replication: SecretKey },
): Container {
  const fromPod = (name: string, fieldPath: string) => ({
    name,
    valueFrom: { fieldRef: { fieldPath } },
  });
  return container({
    name: "postgres",
    image,
    command: ["patroni", `${PATRONI_CONFIG_DIR}/${PATRONI_CONFIG_FILE}`],
    ports: [
      { name: "postgres", containerPort: POSTGRES_PORT },
      { name: "patroni", containerPort: PATRONI_API_PORT },
    ],
    env: [
      fromPod(PATRONI_ENV.name, "metadata.name"),
      fromPod(PATRONI_ENV.podIp, "status.podIP"),
      {
        name: PATRONI_ENV.postgresAddress,
        value: `$(${PATRONI_ENV.podIp}):${POSTGRES_PORT}`,
      },
      { name: PATRONI_ENV.apiAddress, value: `$(${PATRONI_ENV.podIp}):${PATRONI_API_PORT}` },
      passwords.superuser.env(PATRONI_ENV.superuserPassword),
      passwords.replication.env(PATRONI_ENV.replicationPassword),
    ],
    resources,
    probes: probesFor(check.http("/health", "patroni"), {
      liveness: check.http("/liveness", "patroni"),
      // initdb on the first member, a base backup of the primary on the others.
      startupSeconds: 1800,
    }),
    volumeMounts: [
      { name: "data", mountPath: DATA_MOUNT },
      { name: "patroni", mountPath: PATRONI_CONFIG_DIR, readOnly: true },
      { name: "run", mountPath: SOCKET_DIR },
      { name: "tmp", mountPath: "/tmp" },
      { name: "shm", mountPath: "/dev/shm" },
    ],
  });
}

/** What {@link haStatefulSet} builds from. */
export interface HaWorkloadSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  /** Cluster name (the primary Service's), labelled on every member. */
  scope: string;
  ha: ResolvedHaArgs;
  serviceName: pulumi.Input<string>;
  serviceAccountName: pulumi.Input<string>;
  storageSize: string;
  storageClass?: pulumi.Input<string>;
  /** The member container, then the exporter sidecar (and the WAL uploader, when archiving). */
  containers: Container[];
  /** Volumes besides the standard ones (a backup target's CA bundle). @default none */
  extraVolumes?: k8s.types.input.core.v1.Volume[];
  /** The ConfigMap holding {@link PATRONI_CONFIG_FILE}. */
  configMap: pulumi.Input<string>;
  /** Memory limit of the member container; `/dev/shm` is sized from it. */
  resources: ResourceSpec;
  /** What the members read only at start (the config, the passwords). */
  configHashOf: pulumi.Input<unknown>[];
}

/** The members' StatefulSet: one pod per node, all started at once (Patroni orders them). */
export function haStatefulSet(spec: HaWorkloadSpec): k8s.apps.v1.StatefulSetArgs {
  const annotations = configHashAnnotation(...spec.configHashOf).apply((hash) => ({
    ...scrapeAnnotations(POSTGRES_EXPORTER_PORT),
    ...hash,
  }));
  const memoryMiB = toMebibytes(memoryCeiling(spec.resources));
  const template = podTemplate(
    spec.identity,
    {
      containers: spec.containers,
      volumes: [
        { name: "patroni", configMap: { name: spec.configMap } },
        emptyDir("run", "16Mi"),
        emptyDir("tmp", "256Mi"),
        emptyDir("shm", `${Math.max(64, Math.floor(memoryMiB / 4))}Mi`, "Memory"),
        ...(spec.extraVolumes ?? []),
      ],
      security: { runAsUser: IMAGES.spilo.uid, runAsGroup: SPILO_GID },
      serviceAccountName: spec.serviceAccountName,
      // Patroni calls the API server: it is the DCS.
      automountServiceAccountToken: true,
      terminationGracePeriodSeconds: 60,
      affinity: onePerNode(spec.identity),
    },
    annotations,
  );
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      serviceName: spec.serviceName,
      replicas: spec.ha.members,
      selector: { matchLabels: selectorFor(spec.identity) },
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "RollingUpdate" },
      persistentVolumeClaimRetentionPolicy: RETAIN_CLAIMS,
      template: {
        metadata: { ...template.metadata, labels: memberLabels(spec.identity, spec.scope) },
        spec: template.spec,
      },
      volumeClaimTemplates: [
        volumeClaimTemplate("data", spec.identity, spec.storageSize, spec.storageClass),
      ],
    },
  };
}

/** Never two members on one node: a lost node then costs one member, never the quorum. */
function onePerNode(identity: WorkloadIdentity): k8s.types.input.core.v1.Affinity {
  return {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        {
          topologyKey: "kubernetes.io/hostname",
          labelSelector: { matchLabels: selectorFor(identity) },
        },
      ],
    },
  };
}

/** What {@link haMembers} builds from. */
export interface HaMembersSpec {
  name: string;
  args: ResolvedPostgresArgs & { ha: ResolvedHaArgs };
  identity: WorkloadIdentity;
  /** The headless Service that governs the StatefulSet. */
  serviceName: pulumi.Input<string>;
  superuser: PlatformSecret;
  /** The exporter sidecar, logging in as the exporter role. */
  exporter: Container;
  /**
   * WAL archiving on the members: its settings (the primary archives into the spool on its
   * volume), the uploader sidecar, and its volumes. @default none
   */
  walArchive?: {
    settings: Record<string, SettingValue>;
    sidecars: Container[];
    volumes: k8s.types.input.core.v1.Volume[];
  };
  /** The replication role's password (kept like every other generated password). */
  replicationPassword: pulumi.Output<string>;
  dataOpts: pulumi.CustomResourceOptions;
}

/**
 * Every object of the Patroni cluster but its Services: the replication login's Secret, the
 * Patroni config, the API access, the members' StatefulSet and its disruption budget.
 */
export function haMembers(parent: pulumi.Resource, spec: HaMembersSpec): k8s.apps.v1.StatefulSet {
  const { name, args, identity } = spec;
  const ns = args.namespace;
  const replication = new PlatformSecret(
    `${name}-replication`,
    {
      namespace: ns,
      labels: labelsFor(identity),
      data: { username: REPLICATION_USER, password: spec.replicationPassword },
    },
    spec.dataOpts,
  );
  const configData = pulumi.output(ns).apply((namespace) => ({
    [PATRONI_CONFIG_FILE]: patroniYaml({
      ...podPatroniArgs(name, namespace, identity),
      settings: postgresSettings({
        maxConnections: args.maxConnections,
        superuserReservedConnections: args.superuserReservedConnections,
        memoryLimit: memoryCeiling(args.resources),
        hbaFile: `${PGDATA}/pg_hba.conf`,
        settings: { ...spec.walArchive?.settings, ...args.settings },
      }),
      replicationRoles: spec.walArchive ? [BACKUP_ROLE_NAME] : [],
      synchronousMode: args.ha.synchronousMode,
      synchronousStandbys: args.ha.synchronousStandbys,
    }),
  }));
  const config = new k8s.core.v1.ConfigMap(
    `${name}-patroni`,
    { metadata: objectMeta(`${name}-patroni`, ns, identity), data: configData },
    { parent },
  );
  const account = patroniAccess(parent, `${name}-patroni`, ns, identity);
  haDisruptionBudget(parent, name, ns, identity);
  const passwords = {
    superuser: spec.superuser.key("password"),
    replication: replication.key("password"),
  };
  const workload = haStatefulSet({
    name: `${name}-ha`,
    namespace: ns,
    identity,
    scope: name,
    ha: args.ha,
    serviceName: spec.serviceName,
    serviceAccountName: account.metadata.name,
    storageSize: args.storageSize,
    storageClass: args.storageClass,
    containers: [
      patroniContainer(args.ha.image, args.resources, passwords),
      spec.exporter,
      ...(spec.walArchive?.sidecars ?? []),
    ],
    extraVolumes: spec.walArchive?.volumes,
    configMap: config.metadata.name,
    resources: args.resources,
    configHashOf: [configData, spec.superuser.content, replication.content],
  });
  return new k8s.apps.v1.StatefulSet(`${name}-ha`, workload, spec.dataOpts);
}

/** The topology a stack's Postgres was created with: one server, or a Patroni cluster. */
export type PostgresTopology = "single" | "ha";

/** The guard's ConfigMap name and key. */
export const TOPOLOGY_KEY = "topology";

/**
 * An immutable ConfigMap holding the topology, which every other child of the component waits
 * for ({@link waitForTopology}). Flipping `postgres.ha` changes its data, which replaces it; in
 * prod it is protected, so the engine refuses that replacement when it plans it, in preview as in
 * `up`, before any Service, StatefulSet or Job of the database has changed. (The two topologies
 * keep their data in different StatefulSets and claims; the platform moves no data between them.)
 */
export function topologyGuard(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  identity: WorkloadIdentity,
  topology: PostgresTopology,
  dataOpts: pulumi.CustomResourceOptions,
): k8s.core.v1.ConfigMap {
  return new k8s.core.v1.ConfigMap(
    topologyGuardName(name),
    {
      metadata: objectMeta(topologyGuardName(name), namespace, identity),
      immutable: true,
      data: { [TOPOLOGY_KEY]: topology },
    },
    { ...dataOpts, parent, replaceOnChanges: ["data"] },
  );
}

/** Name of the guard ConfigMap of the component `name`. */
export function topologyGuardName(name: string): string {
  return `${name}-topology`;
}

/**
 * A transformation that makes every child but the guard depend on it: none of them is even
 * registered before the guard's step has succeeded. `guard` is read when a child registers.
 */
export function waitForTopology(
  guardName: string,
  guard: () => pulumi.Resource | undefined,
): pulumi.ResourceTransformation {
  return ({ name, props, opts }) => {
    const found = guard();
    if (found === undefined || name === guardName) return undefined;
    return { props, opts: pulumi.mergeOptions(opts, { dependsOn: [found] }) };
  };
}
