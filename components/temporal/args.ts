import type * as pulumi from "@pulumi/pulumi";
import { ingressRules, type IngressSettings } from "../lib/ingress";
import { imageRef, tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { fieldErrorIf, nestedErrors, type FieldError, type Settings } from "../../core/validation";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import {
  DEFAULT_SQL_CONNECTIONS,
  type TemporalServiceName,
  type TemporalSqlConnections,
} from "./config";
import { historyShardRules } from "./shards";

// The Temporal component's arguments, their defaults and their rules.

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
  /** History shards, from 1 to 16384. Fixed when the cluster is first created. */
  numHistoryShards: number;
  /**
   * The shard count the cluster was created with, as the stack records it. When set,
   * `numHistoryShards` must equal it: the server would silently keep the stored count.
   * @default none: nothing recorded yet, so any valid count is accepted
   */
  recordedNumHistoryShards?: number;
  /** One Deployment per service (prod) instead of one running all four (dev). @default false */
  separateServices?: boolean;
  /**
   * Pods per service Deployment, read only when `separateServices`. Without it the one
   * all-in-one Deployment always runs {@link ALL_IN_ONE_REPLICAS} pod, whatever this says.
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
  /** The Web UI, and its Ingress when it has one. */
  ui: {
    /**
     * Where users reach it, e.g. host `temporal.platform.example.com`. Without it there is no
     * Ingress: operators reach the UI with `kubectl port-forward` on {@link TEMPORAL_UI_LOCAL_URL}.
     * @default none: no Ingress
     */
    ingress?: IngressSettings;
    /** UI pods, at least 1. @default 1 */
    replicas?: number;
    /**
     * The UI's own OIDC login; needs `ingress`, whose host serves the callback
     * (`<ingress URL>/auth/sso/callback`). @default none: no login
     */
    oidc?: TemporalUiOidc;
    /**
     * Let the UI terminate, cancel, reset and signal workflows and run batch actions. Off, it
     * only shows them. @default false
     */
    writeActions?: boolean;
  };
  /**
   * The app's Temporal namespace, registered by a Job once the frontend is up, and how many days
   * closed workflows are kept (at least 1).
   */
  appNamespace: {
    /** Namespace name, e.g. `app`. */
    name: string;
    /** Days closed workflows are kept, at least 1. */
    retentionDays: number;
  };
  /**
   * Image overrides. Server and admin-tools must be the same release: the tools install the
   * schema the server expects.
   * @default the catalogue's `temporalServer`, `temporalAdminTools` and `temporalUi`
   */
  images?: {
    /** The server. @default the catalogue's `temporalServer` */
    server?: string;
    /** The schema and namespace Jobs' tools. @default the catalogue's `temporalAdminTools` */
    adminTools?: string;
    /** The Web UI. @default the catalogue's `temporalUi` */
    ui?: string;
  };
  /**
   * What the schema Job waits for before it connects, e.g. the Postgres StatefulSet.
   * @default none
   */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The Web UI's OIDC login (the UI server's `auth` provider). */
export interface TemporalUiOidc {
  /** The provider's issuer URL, where `/.well-known/openid-configuration` is served. */
  issuerUrl: string;
  /** The client the UI logs in as, registered with the provider. */
  clientId: string;
  /**
   * The client's secret. Required: optional in the type only so the stack's settings can be
   * checked before secrets are read; the component refuses OIDC without it. It reaches the pod
   * through a Secret of its own. @default none: refused
   */
  clientSecret?: pulumi.Input<string>;
  /** Scopes asked for; must include `openid`. @default ["openid", "profile", "email"] */
  scopes?: string[];
}

/** Labels of every workload Temporal runs, for network policies. */
export interface TemporalIdentities {
  /** Every server pod template: one (all services) in dev, one per service in prod. */
  server: WorkloadIdentity[];
  /** The pods behind the frontend Service (clients' target). */
  frontend: WorkloadIdentity;
  /** The Web UI's pods. */
  ui: WorkloadIdentity;
  /** The schema Job's pods (they reach Postgres). */
  schemaJob: WorkloadIdentity;
  /** The namespace Job's pods (they reach the frontend). */
  namespaceJob: WorkloadIdentity;
}

/**
 * Pods of the all-in-one Deployment (`separateServices: false`): always one, whatever `replicas`
 * says, which sizes only the per-service Deployments. To run more, separate the services.
 */
export const ALL_IN_ONE_REPLICAS = 1;

/** How a server Deployment replaces its pods: never by starting one beyond `replicas`. */
export type ServerUpdateStrategy =
  | { type: "Recreate" }
  | { type: "RollingUpdate"; rollingUpdate: { maxSurge: 0; maxUnavailable: 1 } };

/**
 * The rollout of a server Deployment of `replicas` pods. Every server pod opens its own pools
 * straight to Postgres, so a rollout may not add one: Kubernetes' default would surge a pod with
 * pools of its own. The connection budget counts what each strategy below really leaves open.
 *
 * One pod: Recreate, the only strategy under which the controller waits for the old pod to have
 * exited before it starts the new one (a single pod has no availability to keep; the server is
 * down while it restarts). Two or more: RollingUpdate with `maxSurge: 0, maxUnavailable: 1`,
 * which keeps the others serving and never creates a pod beyond `replicas`. The pod it replaces
 * may still be shutting down, pools open, for up to its termination grace period when the new
 * one starts: the controller counts the pods it wants, not the terminating ones.
 */
export function serverUpdateStrategy(replicas: number): ServerUpdateStrategy {
  return replicas >= 2
    ? { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } }
    : { type: "Recreate" };
}

/**
 * Where the UI is without an Ingress: `kubectl -n <namespace> port-forward svc/<name>-ui 8080`
 * serves it on this URL, the one origin it then accepts requests from.
 */
export const TEMPORAL_UI_LOCAL_URL = "http://localhost:8080";

/** The documented defaults of {@link TemporalArgs}, in one place. */
export const TEMPORAL_DEFAULTS = {
  separateServices: false,
  /** Pods of each per-service Deployment. */
  replicas: 1,
  uiReplicas: 1,
  uiWriteActions: false,
  oidcScopes: ["openid", "profile", "email"],
  uiResources: RESOURCE_PRESETS.nano,
  jobResources: RESOURCE_PRESETS.nano,
  sqlConnections: DEFAULT_SQL_CONNECTIONS,
} as const;

/** The three images, overrides applied over the catalogue. */
export interface TemporalImages {
  server: string;
  adminTools: string;
  ui: string;
}

/** The images Temporal runs: each override, else the catalogue's. */
export function temporalImages(images: TemporalArgs["images"]): TemporalImages {
  return {
    server: images?.server ?? imageRef("temporalServer"),
    adminTools: images?.adminTools ?? imageRef("temporalAdminTools"),
    ui: images?.ui ?? imageRef("temporalUi"),
  };
}

/**
 * What a stack config decides: every argument but the databases' wiring and the images, which
 * the Platform takes from the Postgres component and the catalogue.
 */
export type TemporalSettings = Omit<Settings<TemporalArgs>, "postgres" | "images" | "dependsOn">;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const NAMESPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function positiveInt(propertyPath: string, value: number): FieldError[] {
  return fieldErrorIf(
    !Number.isInteger(value) || value < 1,
    propertyPath,
    () => `must be a whole number of at least 1 (got ${value})`,
  );
}

/** Every problem with a Temporal's args. */
export function temporalRules(args: Settings<TemporalArgs>): FieldError[] {
  return [
    ...temporalSettingsRules(args),
    ...nestedErrors("postgres", temporalPostgresRules(args.postgres)),
    ...temporalImageRules(args.images),
    ...fieldErrorIf(
      args.ui.oidc !== undefined && args.ui.oidc.clientSecret === undefined,
      "ui.oidc.clientSecret",
      () => "is required with ui.oidc: the UI logs in to the provider as its client",
    ),
  ];
}

/** The problems in what a stack config decides ({@link TemporalSettings}). */
export function temporalSettingsRules(args: TemporalSettings): FieldError[] {
  const { name, retentionDays } = args.appNamespace;
  return [
    ...historyShardRules(args.numHistoryShards, args.recordedNumHistoryShards),
    ...Object.entries(args.replicas ?? {}).flatMap(([service, count]) =>
      positiveInt(`replicas.${service}`, count),
    ),
    // The all-in-one Deployment runs one pod; asking for more would be ignored without a word.
    ...Object.entries(args.separateServices ? {} : (args.replicas ?? {})).flatMap(
      ([service, count]) =>
        fieldErrorIf(
          count > ALL_IN_ONE_REPLICAS,
          `replicas.${service}`,
          () =>
            `must be ${ALL_IN_ONE_REPLICAS} without separate services: the all-in-one server ` +
            `runs one pod (got ${count}); set separateServices to scale each service`,
        ),
    ),
    ...positiveInt("ui.replicas", args.ui.replicas ?? TEMPORAL_DEFAULTS.uiReplicas),
    ...(args.ui.ingress ? nestedErrors("ui.ingress", ingressRules(args.ui.ingress)) : []),
    ...(args.ui.oidc ? nestedErrors("ui.oidc", oidcRules(args.ui.oidc)) : []),
    // Without an Ingress nothing serves the callback the provider redirects the browser to.
    ...fieldErrorIf(
      args.ui.oidc !== undefined && args.ui.ingress === undefined,
      "ui.oidc",
      () =>
        "needs the UI's Ingress: the provider sends the browser back to " +
        "<host>/auth/sso/callback, which only the Ingress serves",
    ),
    ...fieldErrorIf(
      !NAMESPACE_NAME.test(name),
      "appNamespace.name",
      () => `must match ${NAMESPACE_NAME} (got "${name}")`,
    ),
    ...positiveInt("appNamespace.retentionDays", retentionDays),
  ];
}

/**
 * The problems with the UI's login (paths relative to `ui.oidc`). The secret's presence is the
 * component's to check ({@link temporalRules}): a stack's settings are checked without it.
 */
function oidcRules(oidc: TemporalUiOidc): FieldError[] {
  const scopes = oidc.scopes ?? TEMPORAL_DEFAULTS.oidcScopes;
  return [
    ...fieldErrorIf(
      !isHttpUrl(oidc.issuerUrl),
      "issuerUrl",
      () =>
        `must be an http or https URL such as https://login.example.com (got "${oidc.issuerUrl}")`,
    ),
    ...fieldErrorIf(oidc.clientId.trim() === "", "clientId", () => "must not be empty"),
    ...fieldErrorIf(
      !scopes.includes("openid"),
      "scopes",
      () =>
        `must include "openid": without it the provider gives no ID token (got ${scopes.join(", ")})`,
    ),
  ];
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== "";
  } catch {
    return false;
  }
}

/** The problems with where the databases are (paths relative to `postgres`). */
function temporalPostgresRules(postgres: TemporalPostgres): FieldError[] {
  const { port, database, visibilityDatabase } = postgres;
  return [
    ...fieldErrorIf(
      !Number.isInteger(port) || port < 1 || port > 65535,
      "port",
      () => `must be a TCP port (got ${port})`,
    ),
    ...Object.entries({ database, visibilityDatabase }).flatMap(([key, db]) =>
      fieldErrorIf(!IDENTIFIER.test(db), key, () => `must match ${IDENTIFIER} (got "${db}")`),
    ),
    ...fieldErrorIf(
      database === visibilityDatabase,
      "visibilityDatabase",
      () => `must differ from postgres.database ("${database}")`,
    ),
  ];
}

/** Server and admin-tools must be one release: the schema Job installs the server's schema. */
function temporalImageRules(images: TemporalArgs["images"]): FieldError[] {
  const resolved = temporalImages(images);
  const server = tagOf(resolved.server);
  const tools = tagOf(resolved.adminTools);
  return fieldErrorIf(
    server !== tools,
    "images.adminTools",
    () =>
      `must be the server's release (server ${server}, admin-tools ${tools}): the schema Job ` +
      `installs the schema its own release ships, which is the one the server expects`,
  );
}
