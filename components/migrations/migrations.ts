import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { assertValidArgs } from "../lib/validation";
import { migrationsRules, resolveMigrations, type MigrationsArgs } from "./args";
import {
  migrationsConfigMap,
  migrationsConfigMapName,
  migrationsJob,
  migrationsJobName,
} from "./builders";
import { migrationDirErrors, readMigrationBundle } from "./bundle";

/**
 * The app's schema migrations: the migration directory, checked against `atlas.sum` at preview,
 * in a content-named immutable ConfigMap, and an Atlas `migrate apply` Job named after that
 * ConfigMap and the image. Unchanged files are no change in the diff; new files are a new Job;
 * a failed Job is run again on the next `up`. The App's Deployments depend on {@link job}, so a
 * failed migration stops the rollout while the old ReplicaSet keeps serving.
 */
export class Migrations extends pulumi.ComponentResource {
  /** The Job, for the App's `dependsOn`. */
  public readonly job: k8s.batch.v1.Job;
  /** Name of the Job (it changes with the migrations and the image). */
  public readonly jobName: pulumi.Output<string>;
  /** Name of the ConfigMap holding the migration files. */
  public readonly configMapName: pulumi.Output<string>;
  /** Labels of the Job's pods, for network policies (they reach Postgres directly). */
  public readonly identity: WorkloadIdentity;

  constructor(name: string, args: MigrationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:app:Migrations", name, {}, opts);
    const settings = resolveMigrations(args);
    assertValidArgs("Migrations", [...migrationsRules(args), ...migrationDirErrors(settings.dir)]);
    const { dir, image, ...pod } = settings;
    this.identity = {
      name: "atlas",
      component: "migrations",
      instance: args.instance ?? name,
      version: tagOf(image),
    };

    const bundle = readMigrationBundle(dir);
    const configMapName = migrationsConfigMapName(name, bundle);
    const configMap = new k8s.core.v1.ConfigMap(
      configMapName,
      migrationsConfigMap(configMapName, args.namespace, this.identity, bundle),
      { parent: this },
    );

    const inputs = { configMapName, image, ...pod, databaseUrl: args.databaseUrl };
    const jobName = migrationsJobName(name, inputs);
    this.job = new k8s.batch.v1.Job(
      jobName,
      migrationsJob({
        ...inputs,
        name: jobName,
        namespace: args.namespace,
        identity: this.identity,
      }),
      {
        parent: this,
        dependsOn: [configMap, ...(args.dependsOn ?? [])],
        // A retried (replaceUnready) Job keeps its name: the old one must go first.
        deleteBeforeReplace: true,
      },
    );
    this.jobName = this.job.metadata.name;
    this.configMapName = configMap.metadata.name;

    this.registerOutputs({ jobName: this.jobName, configMapName: this.configMapName });
  }
}
