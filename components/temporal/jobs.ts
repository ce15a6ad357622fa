import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { WorkloadIdentity } from "../../policy/model/labels";
import type { ResourceSpec } from "../lib/resources";
import {
  container,
  emptyDir,
  objectMeta,
  podTemplate,
  retriedJobAnnotations,
} from "../lib/workload";

/**
 * The two Jobs of the Temporal component, as pure builders: the schema Job (`temporal-sql-tool`)
 * and the namespace registration (`temporal` CLI), both in the admin-tools image. Their scripts
 * are exported so the integration tests run exactly the command lines the Job runs.
 */

/** Embedded schema directories of `temporal-sql-tool` (the same files admin-tools ships in
 * `/etc/temporal/schema/postgresql/v12/{temporal,visibility}/versioned`). */
export const SCHEMA_NAMES = {
  default: "postgresql/v12/temporal",
  visibility: "postgresql/v12/visibility",
} as const;

/** Variables `temporal-sql-tool` reads its credentials from (its `--user`/`--password` envs). */
export const SQL_TOOL_ENV = { user: "SQL_USER", password: "SQL_PASSWORD" } as const;

/** Where the schema Job connects: the Postgres Service directly. */
export interface SchemaTarget {
  host: string;
  port: number;
  database: string;
  visibilityDatabase: string;
}

/** Single-quotes a word for sh unless it is plainly safe. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function line(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

/** One `temporal-sql-tool` command line against a database; credentials come from the env. */
export function sqlToolCommand(
  target: SchemaTarget,
  database: string,
  ...command: string[]
): string[] {
  return [
    "temporal-sql-tool",
    "--plugin",
    "postgres12",
    "--ep",
    target.host,
    "--port",
    String(target.port),
    "--db",
    database,
    ...command,
  ];
}

/** The commands for one database, in the order the script may run them. */
export interface SchemaSteps {
  database: string;
  /** Creates the schema version tables (`IF NOT EXISTS`); a no-op once a version is recorded. */
  setup: string[];
  /** Only when `setup` fails: the database is missing (needs a role with CREATEDB). */
  create: string[];
  /** Applies every versioned schema above the recorded version; a no-op when current. */
  update: string[];
}

/** The steps for the default store, then the visibility store. */
export function schemaSteps(target: SchemaTarget): SchemaSteps[] {
  return [
    { database: target.database, schema: SCHEMA_NAMES.default },
    { database: target.visibilityDatabase, schema: SCHEMA_NAMES.visibility },
  ].map(({ database, schema }) => ({
    database,
    setup: sqlToolCommand(target, database, "setup-schema", "-v", "0.0"),
    create: sqlToolCommand(target, database, "create-database"),
    update: sqlToolCommand(target, database, "update-schema", "--schema-name", schema),
  }));
}

/**
 * The schema Job's script: idempotent, so a re-run (a new Temporal version, a retried Job) only
 * applies what is missing. `setup-schema -v 0.0` without a schema file only creates the version
 * tables and records 0.0 when nothing newer is recorded; `update-schema` then applies the versioned
 * files above the recorded version. The data tier creates both databases, owned by the Temporal
 * role, which has no CREATEDB (so `create-database` would fail with "permission denied" even when
 * the database exists): it is tried only when the database cannot be set up, e.g. on a bare
 * server where the role may create it. A failure there fails the Job with both errors logged.
 */
export function temporalSchemaScript(target: SchemaTarget): string {
  const lines = ["set -eu"];
  for (const steps of schemaSteps(target)) {
    const db = steps.database;
    lines.push(
      `echo ${shellQuote(`temporal schema: database ${db}`)}`,
      `if ! ${line(steps.setup)}; then`,
      `  echo ${shellQuote(`setup-schema failed on ${db}: missing, or Postgres not up yet`)} >&2`,
      `  echo ${shellQuote(`creating ${db} (needs CREATEDB)`)} >&2`,
      `  ${line(steps.create)}`,
      `  ${line(steps.setup)}`,
      "fi",
      line(steps.update),
    );
  }
  lines.push(`echo ${shellQuote("temporal schema: up to date")}`);
  return `${lines.join("\n")}\n`;
}

/** The app's Temporal namespace and how long closed workflows are kept. */
export interface NamespaceRegistration {
  name: string;
  retentionDays: number;
}

/** Attempts (5 s apart) the namespace Job waits for the frontend to report healthy. */
export const HEALTH_ATTEMPTS = 60;

/**
 * The namespace Job's script (the `temporal` CLI, address from `TEMPORAL_ADDRESS`): waits for the
 * frontend, then updates the retention of an existing namespace or registers a new one. A
 * concurrent registration that wins the race is accepted by describing the namespace afterwards.
 */
export function namespaceScript(registration: NamespaceRegistration): string {
  const ns = shellQuote(registration.name);
  // Hours, not days: Go durations (and every CLI version) accept "h".
  const retention = `${registration.retentionDays * 24}h`;
  return [
    "set -eu",
    "attempt=1",
    "until temporal operator cluster health; do",
    `  if [ "$attempt" -ge ${HEALTH_ATTEMPTS} ]; then`,
    `    echo "the Temporal frontend at $TEMPORAL_ADDRESS is not healthy; giving up" >&2`,
    "    exit 1",
    "  fi",
    "  attempt=$((attempt + 1))",
    "  sleep 5",
    "done",
    `if temporal operator namespace describe --namespace ${ns} >/dev/null 2>&1; then`,
    `  echo ${shellQuote(`namespace ${registration.name} exists; retention ${retention}`)}`,
    `  temporal operator namespace update --namespace ${ns} --retention ${retention}`,
    "else",
    `  echo ${shellQuote(`registering namespace ${registration.name}; retention ${retention}`)}`,
    `  temporal operator namespace create --namespace ${ns} --retention ${retention} ||`,
    `    temporal operator namespace describe --namespace ${ns} >/dev/null`,
    "fi",
    "",
  ].join("\n");
}

/** Everything one admin-tools Job is made of. */
export interface AdminToolsJobSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  /** UID of the image's user. */
  uid: number;
  script: pulumi.Input<string>;
  env: pulumi.Input<k8s.types.input.core.v1.EnvVar>[];
  resources: ResourceSpec;
  backoffLimit: number;
  activeDeadlineSeconds: number;
}

/** A Job running a shell script in the admin-tools image. */
export function adminToolsJob(spec: AdminToolsJobSpec): k8s.batch.v1.JobArgs {
  const main = container({
    name: "admin-tools",
    image: spec.image,
    command: ["/bin/sh", "-c", spec.script],
    // HOME on the writable emptyDir: the CLI may look for (or cache) its config there.
    env: [...spec.env, { name: "HOME", value: "/tmp" }],
    resources: spec.resources,
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  });
  return {
    metadata: objectMeta(
      spec.name,
      spec.namespace,
      spec.identity,
      retriedJobAnnotations(spec.activeDeadlineSeconds),
    ),
    spec: {
      backoffLimit: spec.backoffLimit,
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      // No ttlSecondsAfterFinished: a Job that vanished would be created again by the next `up`.
      template: podTemplate(spec.identity, {
        containers: [main],
        volumes: [emptyDir("tmp")],
        security: { runAsUser: spec.uid },
        // Never: each retry is a fresh pod whose logs stay for `kubectl logs`.
        restartPolicy: "Never",
      }),
    },
  };
}
