import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { hashedName } from "../lib/hash";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";
import { container, emptyDir, podTemplate, retriedJobAnnotations } from "../lib/workload";
import { INIT_SQL_FILE, roleMounts } from "./builders";

/**
 * The role-reconcile Job: the init SQL, run again by psql as the superuser over the Postgres
 * Service, with every role's Secret mounted where the SQL reads its verifier. The image runs that
 * SQL only on the first start of an empty data directory; this Job is what brings an existing
 * database to the current roles, passwords and grants. Its name carries a hash of what it applies
 * (the SQL and each verifier), so a rotated password or a new role is a new Job on the next `up`,
 * and an unchanged one is no change at all.
 */

/** Where the Job mounts the init ConfigMap. */
export const ROLES_JOB_INIT_DIR = "/etc/postgresql-init";
/** Environment variable holding the path of the SQL file the Job runs. */
export const ROLES_JOB_SQL_ENV = "ROLES_SQL_FILE";
/** How many times the Job asks `pg_isready` (two seconds apart) before it gives up. */
export const ROLES_JOB_READY_TRIES = 90;
/** How long one run may take, waiting included, before Kubernetes stops it as failed. */
export const ROLES_JOB_DEADLINE_SECONDS = 600;
/** Retries of a failed run (a server restarting under it), each a fresh pod. */
export const ROLES_JOB_BACKOFF_LIMIT = 2;
/** How long a finished Job stays for `kubectl logs`. */
export const ROLES_JOB_TTL_SECONDS = 86400;
/** Requests and limits of the Job's one container: psql and a few statements. */
export const ROLES_JOB_RESOURCES: ResourceSpec = RESOURCE_PRESETS.nano;

/**
 * The Job's script: waits (a bounded number of tries) until the server accepts connections, then
 * runs the SQL file with `ON_ERROR_STOP`, so a failed statement fails the Job. Every connection
 * setting comes from libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
 */
export function rolesJobScript(readyTries: number = ROLES_JOB_READY_TRIES): string {
  return `set -euo pipefail
started="$(date +%s)"
tries=0
until pg_isready --quiet --timeout=5; do
  tries=$((tries + 1))
  if [ "$tries" -ge ${readyTries} ]; then
    echo "Postgres at $PGHOST:$PGPORT is not ready after $tries tries" >&2
    exit 1
  fi
  sleep 2
done
psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --file="\${${ROLES_JOB_SQL_ENV}}"
echo "roles reconciled in $(( $(date +%s) - started ))s"
`;
}

/** The Job's environment besides the server's address and the superuser's login. */
const STATIC_ENV: { name: string; value: string }[] = [
  { name: "PGDATABASE", value: "postgres" },
  { name: "PGAPPNAME", value: "role-reconcile" },
  { name: "PGCONNECT_TIMEOUT", value: "10" },
  // A rerun re-grants what is granted; PostgreSQL's notice about each is noise in the Job's log.
  { name: "PGOPTIONS", value: "-c client_min_messages=warning" },
  { name: ROLES_JOB_SQL_ENV, value: `${ROLES_JOB_INIT_DIR}/${INIT_SQL_FILE}` },
];

/** Everything that shapes what the Job applies and how, for its name. */
export interface RolesJobInputs {
  /** The init SQL text. */
  sql: string;
  /** Each role's SCRAM verifier, by role name (hashed, never written anywhere). */
  verifiers: Record<string, string>;
  /** The Postgres image (psql, pg_isready). */
  image: string;
}

/**
 * `<base>-<hash>` over the SQL, the verifiers and everything else in the pod: any change is a new
 * Job (a Job's pod template is immutable), equal inputs the same name and so no change. Only an
 * 8-hex-digit SHA-256 of the verifiers shows, which gives nothing of them away.
 */
export function rolesJobName(base: string, inputs: RolesJobInputs): string {
  return hashedName(base, {
    ...inputs,
    script: rolesJobScript(),
    env: STATIC_ENV,
    mounts: roleMounts(),
    resources: ROLES_JOB_RESOURCES,
    deadline: ROLES_JOB_DEADLINE_SECONDS,
    backoffLimit: ROLES_JOB_BACKOFF_LIMIT,
    ttl: ROLES_JOB_TTL_SECONDS,
  });
}

/** What {@link rolesJob} builds from. */
export interface RolesJobSpec {
  /** The Job's (hashed) name and namespace. */
  name: pulumi.Input<string>;
  namespace: pulumi.Input<string>;
  /** Identity of the Job's pods (labels, network policies). */
  identity: WorkloadIdentity;
  image: pulumi.Input<string>;
  /** UID of the Postgres image's user. */
  uid: number;
  /** Postgres client Service host and port. */
  host: pulumi.Input<string>;
  port: number;
  /** The superuser's login, from its Secret. */
  username: SecretKey;
  password: SecretKey;
  /** Name of the init ConfigMap (the SQL). */
  initConfigMap: pulumi.Input<string>;
  /** One Secret volume per role, exactly those the database pod mounts. */
  roleVolumes: k8s.types.input.core.v1.Volume[];
}

/** The role-reconcile Job. */
export function rolesJob(spec: RolesJobSpec): k8s.batch.v1.JobArgs {
  const psql = container({
    name: "reconcile",
    image: spec.image,
    command: ["bash", "-c", rolesJobScript()],
    env: [
      { name: "PGHOST", value: spec.host },
      { name: "PGPORT", value: String(spec.port) },
      spec.username.env("PGUSER"),
      spec.password.env("PGPASSWORD"),
      ...STATIC_ENV,
    ],
    resources: ROLES_JOB_RESOURCES,
    volumeMounts: [
      { name: "init", mountPath: ROLES_JOB_INIT_DIR, readOnly: true },
      ...roleMounts(),
      { name: "tmp", mountPath: "/tmp" },
    ],
  });
  return {
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: labelsFor(spec.identity),
      annotations: retriedJobAnnotations(ROLES_JOB_DEADLINE_SECONDS),
    },
    spec: {
      backoffLimit: ROLES_JOB_BACKOFF_LIMIT,
      activeDeadlineSeconds: ROLES_JOB_DEADLINE_SECONDS,
      // A finished Job may go: a later `up --refresh` that re-creates it only re-applies the
      // same idempotent SQL.
      ttlSecondsAfterFinished: ROLES_JOB_TTL_SECONDS,
      template: podTemplate(spec.identity, {
        containers: [psql],
        volumes: [
          { name: "init", configMap: { name: spec.initConfigMap, defaultMode: 0o444 } },
          ...spec.roleVolumes,
          emptyDir("tmp"),
        ],
        security: { runAsUser: spec.uid },
        // Never: each retry is a fresh pod whose logs survive for `kubectl logs`.
        restartPolicy: "Never",
      }),
    },
  };
}
