import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { imageRef } from "../../core/images";
import { fieldErrorIf, type FieldError, type Settings } from "../../core/validation";
import { RESOURCE_PRESETS, type ResourceSpec } from "../lib/resources";
import type { SecretKey } from "../lib/secrets";

/** The repository's migration directory; a relative `dir` arg is resolved against the cwd instead. */
export const DEFAULT_MIGRATION_DIR = path.resolve(__dirname, "..", "..", "atlas", "migrations");
/** Least `activeDeadlineSeconds` the component accepts. */
export const MIN_ACTIVE_DEADLINE_SECONDS = 30;

/** Arguments of {@link Migrations}. */
export interface MigrationsArgs {
  /** Namespace of the ConfigMap and the Job. */
  namespace: pulumi.Input<string>;
  /** `app.kubernetes.io/instance` of its labels. @default the component's name */
  instance?: string;
  /**
   * The DIRECT Postgres URL of the app database (owner role), never PgBouncer's: Atlas holds a
   * session advisory lock (`pg_try_advisory_lock`) for the whole run, which transaction pooling
   * would hand to another client. Include `sslmode=disable` when Postgres serves no TLS.
   */
  databaseUrl: SecretKey;
  /**
   * Migration directory (`<version>_<name>.sql` files and `atlas.sum`); its `atlas.sum` must match
   * its files. @default `atlas/migrations` of this repository
   */
  dir?: string;
  /** Atlas image. @default the catalogue's `atlas` */
  image?: string;
  /** Schema of Atlas's `atlas_schema_revisions` table (`--revisions-schema`). @default "public" */
  revisionsSchema?: string;
  /**
   * How long to wait for another `migrate apply` to release the lock (`--lock-timeout`) before
   * failing; the Job's retries wait again. @default 30 (as `atlas.hcl`'s prod env)
   */
  lockTimeoutSeconds?: number;
  /** Failed pods before the Job fails (`backoffLimit`), a whole number ≥ 0. @default 2 */
  backoffLimit?: number;
  /**
   * Upper bound of the whole Job, retries included (`activeDeadlineSeconds`), a whole number ≥ 30.
   * @default 600
   */
  activeDeadlineSeconds?: number;
  /** Requests and limits of the Atlas container. @default the `nano` preset */
  resources?: ResourceSpec;
  /** What must be ready first: the Postgres StatefulSet (and its init). @default none */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The args the stack config can give: all but the Postgres URL and what to wait for. */
export type MigrationsSettings = Omit<Settings<MigrationsArgs>, "databaseUrl" | "dependsOn">;

/** Atlas `migrate apply` options that end up on its command line. */
export interface AtlasApplyOptions {
  revisionsSchema: string;
  lockTimeoutSeconds: number;
}

/** The plain args with their documented defaults filled in, `dir` made absolute. */
export interface ResolvedMigrations {
  dir: string;
  image: string;
  options: AtlasApplyOptions;
  backoffLimit: number;
  activeDeadlineSeconds: number;
  resources: ResourceSpec;
}

/** The documented defaults of the args, in one place. */
export function resolveMigrations(args: MigrationsSettings): ResolvedMigrations {
  return {
    dir: args.dir ? path.resolve(args.dir) : DEFAULT_MIGRATION_DIR,
    image: args.image ?? imageRef("atlas"),
    options: {
      revisionsSchema: args.revisionsSchema ?? "public",
      lockTimeoutSeconds: args.lockTimeoutSeconds ?? 30,
    },
    backoffLimit: args.backoffLimit ?? 2,
    activeDeadlineSeconds: args.activeDeadlineSeconds ?? 600,
    resources: args.resources ?? RESOURCE_PRESETS.nano,
  };
}

/**
 * Every problem with a Migrations' plain args. The migration directory's own check reads files,
 * so it is {@link migrationDirErrors}, which the component runs with these.
 */
export function migrationsRules(args: MigrationsSettings): FieldError[] {
  const { backoffLimit, activeDeadlineSeconds } = resolveMigrations(args);
  return [
    ...fieldErrorIf(
      !Number.isInteger(backoffLimit) || backoffLimit < 0,
      "backoffLimit",
      () => `must be a whole number ≥ 0 (got ${backoffLimit})`,
    ),
    ...fieldErrorIf(
      !Number.isInteger(activeDeadlineSeconds) ||
        activeDeadlineSeconds < MIN_ACTIVE_DEADLINE_SECONDS,
      "activeDeadlineSeconds",
      () =>
        `must be a whole number ≥ ${MIN_ACTIVE_DEADLINE_SECONDS} (got ${activeDeadlineSeconds})`,
    ),
  ];
}
