/**
 * The app's database schema: the single source of truth for `atlas/migrations`.
 *
 * Never edit a migration by hand to change the schema: edit this file, then run
 * `npm run migrate:new -- <name>`, which derives the next migration from the difference and
 * rehashes `atlas/migrations/atlas.sum`. Unique, check and index names are spelled out so that
 * renaming a TypeScript property never renames a database object; foreign keys keep drizzle's
 * names, derived from the table and column names alone.
 */
import { sql } from "drizzle-orm";
import { check, index, pgEnum, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";

/** Lifecycle of one pipeline run, as the worker's Temporal workflow reports it. */
export const runStatus = pgEnum("run_status", [
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
]);

/** Lifecycle of one deployment: a failed health check ends in `rolled_back`, not `failed`. */
export const deploymentStatus = pgEnum("deployment_status", [
  "pending",
  "in_progress",
  "succeeded",
  "failed",
  "rolled_back",
]);

// uuid keys come from gen_random_uuid(), built into PostgreSQL 13+, so no extension is needed.
const id = () => uuid("id").primaryKey().defaultRandom();
const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () =>
  timestamp("updated_at", { withTimezone: true })
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date());

export const users = pgTable(
  "users",
  {
    id: id(),
    email: text("email").notNull(),
    name: text("name").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [unique("users_email_key").on(t.email)],
);

export const pipelines = pgTable(
  "pipelines",
  {
    id: id(),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    repoUrl: text("repo_url").notNull(),
    defaultBranch: text("default_branch").notNull().default("main"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  // The unique index leads with owner_id, so it also serves the foreign key: deleting a user
  // finds that user's pipelines without a separate index.
  (t) => [unique("pipelines_owner_id_name_key").on(t.ownerId, t.name)],
);

export const pipelineRuns = pgTable(
  "pipeline_runs",
  {
    id: id(),
    pipelineId: uuid("pipeline_id")
      .notNull()
      .references(() => pipelines.id, { onDelete: "cascade" }),
    status: runStatus("status").notNull().default("queued"),
    commitSha: text("commit_sha").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    // A run outlives the account that triggered it: its history stays, the author becomes null.
    triggeredBy: uuid("triggered_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
  },
  (t) => [
    // The run list of a pipeline, newest first; it also serves the pipeline_id foreign key.
    // NULLS FIRST is what a plain `ORDER BY created_at DESC` asks for: Drizzle's default for
    // desc() is NULLS LAST, which the planner could not use for that query without a sort.
    index("pipeline_runs_pipeline_id_created_at_idx").on(
      t.pipelineId,
      t.createdAt.desc().nullsFirst(),
    ),
    // Without it, deleting a user scans every run to null out triggered_by.
    index("pipeline_runs_triggered_by_idx")
      .on(t.triggeredBy)
      .where(sql`${t.triggeredBy} IS NOT NULL`),
    // SHA-1 (40) or SHA-256 (64) object names, lower-case as git prints them.
    check("pipeline_runs_commit_sha_check", sql`${t.commitSha} ~ '^[0-9a-f]{40}([0-9a-f]{24})?$'`),
  ],
);

export const deployments = pgTable(
  "deployments",
  {
    id: id(),
    // Cascade keeps deleting a pipeline (or its owner) possible; the audit trail of a live
    // deployment is the cluster's, not this row's.
    pipelineRunId: uuid("pipeline_run_id")
      .notNull()
      .references(() => pipelineRuns.id, { onDelete: "cascade" }),
    environment: text("environment").notNull(),
    targetNamespace: text("target_namespace").notNull(),
    image: text("image").notNull(),
    status: deploymentStatus("status").notNull().default("pending"),
    // The worker starts one Temporal workflow per deployment; the unique key makes a retried
    // start idempotent instead of deploying twice.
    temporalWorkflowId: text("temporal_workflow_id").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique("deployments_temporal_workflow_id_key").on(t.temporalWorkflowId),
    index("deployments_pipeline_run_id_idx").on(t.pipelineRunId),
    index("deployments_status_idx").on(t.status),
    // The worker creates this namespace name in Kubernetes: reject what the API server would.
    check(
      "deployments_target_namespace_check",
      sql`${t.targetNamespace} ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'`,
    ),
  ],
);
