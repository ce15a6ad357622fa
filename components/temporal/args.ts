import type * as pulumi from "@pulumi/pulumi";
import { imageRef, tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../core/labels";
import type { ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import {
  invalid,
  shardCountProblem,
  type TemporalServiceName,
  type TemporalSqlConnections,
} from "./config";

// The Temporal component's arguments and their validation.

/** How Temporal reaches its databases: the Postgres Service directly, as the Temporal role. */
export interface TemporalPostgres {
  /** Host of the Postgres Service (never PgBouncer: Temporal holds sessions and locks). */
  host: pulumi.Input<string>;
  /** Postgres port. */
  port: number;
  /** The Temporal role's user name. */
  user: SecretKey;
  /** The Temporal role's password. */
  password: SecretKey;
  /** Database of the default store. */
  database: string;
  /** Database of the visibility store. */
  visibilityDatabase: string;
}

/** Arguments of a {@link Temporal}. */
export interface TemporalArgs {
  /** Namespace of every object it creates. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its labels. @default the component's name */
  instance?: string;
  /** The databases, created (and owned by the Temporal role) by the data tier. */
  postgres: TemporalPostgres;
  /**
   * History shards. Fixed when the cluster is first created: the config layer refuses a change
   * against the recorded value with `assertShardsUnchanged` (config.ts).
   */
  numHistoryShards: number;
  /** One Deployment per service (prod) instead of one running all four (dev). @default false */
  separateServices?: boolean;
  /**
   * Pods per service Deployment when `separateServices`; the all-in-one Deployment runs one.
   * @default 1 each
   */
  replicas?: Partial<Record<TemporalServiceName, number>>;
  /** Requests and limits of each server pod. */
  resources: ResourceSpec;
  /** Per-service overrides of `resources` when `separateServices`. @default `resources` */
  serviceResources?: Partial<Record<TemporalServiceName, ResourceSpec>>;
  /** Requests and limits of the UI. @default the `nano` preset */
  uiResources?: ResourceSpec;
  /** Requests and limits of the schema and namespace Jobs. @default the `nano` preset */
  jobResources?: ResourceSpec;
  /** Pool sizes per service and process. @default `{ maxConns: 5, visibilityMaxConns: 2 }` */
  sqlConnections?: TemporalSqlConnections;
  /** The Web UI and its Ingress. */
  ui: {
    /** Host name the Ingress serves, e.g. `temporal.platform.example.com`. */
    host: string;
    /** IngressClass, e.g. `traefik`. */
    ingressClass: string;
    /**
     * Secret with the host's certificate; without it the UI is served over plain http.
     * @default none
     */
    tlsSecretName?: pulumi.Input<string>;
    /** UI pods. @default 1 */
    replicas?: number;
  };
  /** The app's Temporal namespace, registered by a Job once the frontend is up. */
  appNamespace: { name: string; retentionDays: number };
  /**
   * Image overrides. Server and admin-tools must be the same release: the tools install the
   * schema the server expects.
   * @default the catalogue's `temporalServer`, `temporalAdminTools` and `temporalUi`
   */
  images?: { server?: string; adminTools?: string; ui?: string };
  /**
   * What the schema Job waits for besides the Service, e.g. the Postgres StatefulSet.
   * @default none
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Labels of every workload Temporal runs, for network policies. */
export interface TemporalIdentities {
  /** Every server pod template: one (all services) in dev, one per service in prod. */
  server: WorkloadIdentity[];
  /** The pods behind the frontend Service (clients' target). */
  frontend: WorkloadIdentity;
  ui: WorkloadIdentity;
  /** The schema Job's pods (they reach Postgres). */
  schemaJob: WorkloadIdentity;
  /** The namespace Job's pods (they reach the frontend). */
  namespaceJob: WorkloadIdentity;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const NAMESPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function positiveInt(propertyPath: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    invalid(propertyPath, `must be a whole number of at least 1 (got ${value})`);
  }
  return value;
}

/** Checks the args that the builders cannot; every message names the field. */
export function validateTemporalArgs(args: TemporalArgs): void {
  const shards = shardCountProblem(args.numHistoryShards);
  if (shards) invalid("numHistoryShards", shards);
  const { port, database, visibilityDatabase } = args.postgres;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    invalid("postgres.port", `must be a TCP port (got ${port})`);
  }
  for (const [key, db] of Object.entries({ database, visibilityDatabase })) {
    if (!IDENTIFIER.test(db)) invalid(`postgres.${key}`, `"${db}" must match ${IDENTIFIER}`);
  }
  if (database === visibilityDatabase) {
    invalid("postgres.visibilityDatabase", `must differ from postgres.database ("${database}")`);
  }
  for (const [service, count] of Object.entries(args.replicas ?? {})) {
    positiveInt(`replicas.${service}`, count);
  }
  positiveInt("ui.replicas", args.ui.replicas ?? 1);
  if (!NAMESPACE_NAME.test(args.appNamespace.name)) {
    invalid("appNamespace.name", `"${args.appNamespace.name}" must match ${NAMESPACE_NAME}`);
  }
  positiveInt("appNamespace.retentionDays", args.appNamespace.retentionDays);
  const server = tagOf(args.images?.server ?? imageRef("temporalServer"));
  const tools = tagOf(args.images?.adminTools ?? imageRef("temporalAdminTools"));
  if (server !== tools) {
    invalid(
      "images.adminTools",
      `must be the server's release (server ${server}, admin-tools ${tools}): the schema Job ` +
        `installs the schema its own release ships, which is the one the server expects`,
    );
  }
}
