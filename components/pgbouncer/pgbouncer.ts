import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { configHashAnnotation } from "../lib/hash";
import { scramSalt, scramSha256Verifier } from "../lib/scram";
import { scrapeAnnotations } from "../lib/scrape";
import { passwordFor, PlatformSecret, scramSaltSourceFor } from "../lib/secrets";
import { serviceArgs, serviceHost } from "../lib/stateful";
import { assertValidArgs } from "../lib/validation";
import { disruptionBudget, objectMeta } from "../lib/workload";
import type { RoleCredentials } from "../postgres";
import { pgbouncerRules, resolvePgBouncerDefaults, type PgBouncerArgs } from "./args";
import {
  isHighlyAvailable,
  PGBOUNCER_AUTH_DIR,
  PGBOUNCER_EXPORTER_PORT,
  PGBOUNCER_PORT,
  pgbouncerDeployment,
  pgbouncerIni,
  STATS_USER,
  userlistTxt,
} from "./builders";

/** The Secrets PgBouncer's pods read: `userlist.txt`, and the exporter's connection string. */
interface PgBouncerAuth {
  userlist: PlatformSecret;
  exporter: PlatformSecret;
}

/**
 * PgBouncer in transaction mode in front of Postgres: a thousand app connections share a pool of
 * a few dozen server connections. SCRAM end to end, with verifiers only.
 */
export class PgBouncer extends pulumi.ComponentResource {
  /** Service DNS name. */
  public readonly host: pulumi.Output<string>;
  /** Service port. */
  public readonly port: pulumi.Output<number>;
  /** The app's `DATABASE_URL` through PgBouncer: `postgres://app:…@host:6432/app` (secret). */
  public readonly url: pulumi.Output<string>;
  /** Secret with the app's connection through PgBouncer (`url`, `username`, `password`, `host`, `port`, `database`). */
  public readonly appSecret: PlatformSecret;
  /** The Service. */
  public readonly service: k8s.core.v1.Service;
  /** The Deployment, for `dependsOn`. */
  public readonly deployment: k8s.apps.v1.Deployment;
  /** Labels of the PgBouncer pods, for network policies. */
  public readonly identity: WorkloadIdentity;

  constructor(name: string, args: PgBouncerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:data:PgBouncer", name, {}, opts);
    assertValidArgs("PgBouncer", pgbouncerRules(args));
    const { image, exporterImage, exporterResources, nodeSpread, drainSeconds } =
      resolvePgBouncerDefaults(args);
    const identity: WorkloadIdentity = {
      name,
      component: "pooler",
      instance: args.instance ?? name,
      version: typeof image === "string" ? tagOf(image) : undefined,
    };
    this.identity = identity;
    const ns = args.namespace;
    const childOpts = { parent: this };
    const credentials = pulumi.output(args.credentials);

    this.service = new k8s.core.v1.Service(
      name,
      serviceArgs(name, ns, identity, [{ name: "pgbouncer", port: PGBOUNCER_PORT }]),
      childOpts,
    );
    this.host = serviceHost(name, ns, args.clusterDomain);
    this.port = pulumi.output(PGBOUNCER_PORT);

    const auth = this.authSecrets(name, ns, credentials, args);
    this.url = pulumi.secret(
      pulumi.interpolate`postgres://${credentials.username}:${credentials.password}@${this.host}:${PGBOUNCER_PORT}/${credentials.database}`,
    );

    const { ini, config } = this.iniConfigMap(name, args, credentials.database);

    const annotations = configHashAnnotation(
      ini,
      auth.userlist.content,
      auth.exporter.content,
    ).apply((hash) => ({ ...scrapeAnnotations(PGBOUNCER_EXPORTER_PORT), ...hash }));
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      pgbouncerDeployment({
        name,
        namespace: ns,
        identity,
        replicas: args.replicas,
        image,
        resources: args.resources,
        exporterImage,
        exporterResources,
        configMapName: config.metadata.name,
        authVolume: auth.userlist.volume("auth"),
        exporterUrl: auth.exporter.key("url"),
        annotations,
        nodeSpread,
        drainSeconds,
      }),
      { ...childOpts, dependsOn: args.dependsOn ?? [] },
    );
    this.appSecret = this.appConnectionSecret(name, ns, credentials);
    if (isHighlyAvailable(args.replicas)) {
      new k8s.policy.v1.PodDisruptionBudget(name, disruptionBudget(name, ns, identity), childOpts);
    }

    this.registerOutputs({
      host: this.host,
      port: this.port,
      url: this.url,
      service: this.service,
      deployment: this.deployment,
    });
  }

  /** `pgbouncer.ini`, serving the app role's database on the Postgres host, and its ConfigMap. */
  private iniConfigMap(
    name: string,
    args: PgBouncerArgs,
    database: pulumi.Output<string>,
  ): { ini: pulumi.Output<string>; config: k8s.core.v1.ConfigMap } {
    const ini = pulumi
      .all([args.postgresHost, args.postgresPort, pulumi.unsecret(database)])
      .apply(([host, port, dbname]) =>
        pgbouncerIni({
          pool: args.pool,
          databases: [{ name: dbname, host, port }],
          authFile: `${PGBOUNCER_AUTH_DIR}/userlist.txt`,
          statsUsers: [STATS_USER],
        }),
      );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, args.namespace, this.identity),
        data: { "pgbouncer.ini": ini },
      },
      { parent: this },
    );
    return { ini, config };
  }

  /**
   * `userlist.txt` with the app login's verifier (the one Postgres stores), the standby login's
   * when given, and a generated stats user's (given or generated), and the exporter's connection
   * string with the stats user's password.
   */
  private authSecrets(
    name: string,
    ns: pulumi.Input<string>,
    credentials: pulumi.Output<RoleCredentials>,
    args: Pick<PgBouncerArgs, "statsPassword" | "standbyLogin">,
  ): PgBouncerAuth {
    const childOpts = { parent: this };
    const labels = labelsFor(this.identity);
    const given = args.statsPassword;
    const statsPassword = passwordFor(`${name}-stats-password`, given, childOpts);
    const statsSalt = scramSaltSourceFor(`${name}-stats-scram-salt`, given, childOpts);
    const userlist = pulumi
      .all([credentials, args.standbyLogin, statsPassword, statsSalt])
      .apply(([app, standby, password, salt]) =>
        userlistTxt([
          { username: app.username, scramVerifier: app.scramVerifier },
          ...(standby ? [standby] : []),
          { username: STATS_USER, scramVerifier: scramSha256Verifier(password, scramSalt(salt)) },
        ]),
      );
    return {
      userlist: new PlatformSecret(
        `${name}-userlist`,
        { namespace: ns, labels, data: { "userlist.txt": userlist } },
        childOpts,
      ),
      exporter: new PlatformSecret(
        `${name}-exporter`,
        {
          namespace: ns,
          labels,
          // Over the pod's loopback, as the stats user, to PgBouncer's admin console.
          data: {
            url: pulumi.interpolate`postgres://${STATS_USER}:${statsPassword}@127.0.0.1:${PGBOUNCER_PORT}/pgbouncer?sslmode=disable`,
          },
        },
        childOpts,
      ),
    };
  }

  /**
   * The app's connection through PgBouncer, key by key and as {@link url}. Written only once the
   * Deployment has rolled: an app pod that starts meanwhile (a restart) still reads the previous
   * login, which every PgBouncer pod admits, never a new one an old pod's userlist lacks.
   */
  private appConnectionSecret(
    name: string,
    ns: pulumi.Input<string>,
    credentials: pulumi.Output<RoleCredentials>,
  ): PlatformSecret {
    return new PlatformSecret(
      `${name}-app`,
      {
        namespace: ns,
        labels: labelsFor(this.identity),
        data: {
          username: credentials.username,
          password: credentials.password,
          database: credentials.database,
          host: this.host,
          port: String(PGBOUNCER_PORT),
          url: this.url,
        },
      },
      { parent: this, dependsOn: [this.deployment] },
    );
  }
}
