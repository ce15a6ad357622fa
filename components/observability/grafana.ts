import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../core/labels";
import { check, probesFor } from "../lib/probes";
import { generatedPassword, PlatformSecret, type SecretKey } from "../lib/secrets";
import { objectMeta } from "../lib/workload";
import { DEFAULT_RESOURCES, identityOf, PORTS, toYaml } from "./common";
import {
  DASHBOARDS_DIR,
  escapeProvisioning,
  grafanaDashboardProviders,
  grafanaDatasources,
  grafanaIni,
  type GrafanaDatasourceArgs,
} from "./grafana-provisioning";
import { storeWorkload, type StoreArgs } from "./store";

/** Key of the admin password in the Grafana Secret. */
export const GRAFANA_ADMIN_PASSWORD_KEY = "admin-password";

/** Arguments of a {@link Grafana}. */
export interface GrafanaArgs extends StoreArgs {
  /** Host name of the Ingress, e.g. `grafana.platform.example.com`. */
  host: string;
  /** Let visitors in without logging in, as Viewer only (dev). @default false */
  anonymousViewer?: boolean;
  /** IngressClass of the Ingress. @default "traefik" (K3s's) */
  ingressClassName?: string;
  /**
   * Serve the host over TLS; without `secretName` the ingress controller's default certificate
   * is used. @default none: plain HTTP
   */
  tls?: { secretName?: string };
  /** Login name of the admin user. @default "admin" */
  adminUser?: string;
  /** Size of the data volume (users, sessions, preferences). @default "1Gi" */
  storageSize?: string;
  /** URLs of Prometheus, Tempo and Loki, for the datasources. */
  datasources: pulumi.Input<GrafanaDatasourceArgs>;
  /** Dashboard JSON files by name (`charts/dashboards/*.json`). @default none */
  dashboards?: Record<string, string>;
}

/** Grafana's defaults, in one place. */
export const GRAFANA_DEFAULTS = {
  anonymousViewer: false,
  ingressClassName: "traefik",
  adminUser: "admin",
  storageSize: "1Gi",
} as const;

/**
 * Grafana: datasources and dashboards provisioned from the repository, an admin password generated
 * into a Secret, anonymous access only when asked for and then only as Viewer, reachable at
 * `host` through the ingress controller.
 *
 * A StatefulSet with one replica: its SQLite database (users, sessions) cannot be shared, so more
 * replicas would log users out at random. Everything else is provisioned, so a lost volume costs
 * only preferences. The Secret seeds the admin password when the database is first created.
 */
export class Grafana extends pulumi.ComponentResource {
  /** `http(s)://<host>`. */
  public readonly url: pulumi.Output<string>;
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** The admin password, for `secretKeyRef`. */
  public readonly adminPassword: SecretKey;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Grafana", name, {}, opts);
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(args.host)) {
      throw new pulumi.InputPropertyError({
        propertyPath: "host",
        reason: `must be a lowercase DNS name such as grafana.example.com (got "${args.host}")`,
      });
    }
    const image = args.image ?? imageRef("grafana");
    this.identity = identityOf("grafana", args.instance ?? name, tagOf(image));
    const ns = args.namespace;
    const https = args.tls !== undefined;
    this.url = pulumi.output(`${https ? "https" : "http"}://${args.host}`);

    const password = generatedPassword(`${name}-admin-password`, { parent: this });
    const secret = new PlatformSecret(
      `${name}-admin`,
      {
        namespace: ns,
        labels: labelsFor(this.identity),
        data: { [GRAFANA_ADMIN_PASSWORD_KEY]: password },
      },
      { parent: this },
    );
    this.adminPassword = secret.key(GRAFANA_ADMIN_PASSWORD_KEY);

    const ini = grafanaIni({
      rootUrl: `${https ? "https" : "http"}://${args.host}/`,
      anonymousViewer: args.anonymousViewer ?? GRAFANA_DEFAULTS.anonymousViewer,
      https,
      adminUser: args.adminUser ?? GRAFANA_DEFAULTS.adminUser,
    });
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: {
          "grafana.ini": ini,
          "datasources.yaml": pulumi
            .output(args.datasources)
            .apply((urls) => toYaml(escapeProvisioning(grafanaDatasources(urls)))),
          "dashboards.yaml": toYaml(escapeProvisioning(grafanaDashboardProviders())),
        },
      },
      { parent: this },
    );
    const dashboards = new k8s.core.v1.ConfigMap(
      `${name}-dashboards`,
      {
        metadata: objectMeta(`${name}-dashboards`, ns, this.identity),
        data: args.dashboards ?? {},
      },
      { parent: this },
    );

    const store = storeWorkload(this, name, {
      namespace: ns,
      identity: this.identity,
      image,
      args: [],
      ports: [{ name: "http", port: PORTS.grafanaHttp }],
      env: [this.adminPassword.env("GF_SECURITY_ADMIN_PASSWORD")],
      resources: args.resources ?? DEFAULT_RESOURCES.grafana,
      probes: probesFor(check.http("/api/health", "http"), {
        liveness: check.tcp("http"),
        startupSeconds: 120,
      }),
      configMount: {
        configMapName: config.metadata.name,
        mountPath: "/etc/grafana",
        items: [
          { key: "grafana.ini", path: "grafana.ini" },
          { key: "datasources.yaml", path: "provisioning/datasources/datasources.yaml" },
          { key: "dashboards.yaml", path: "provisioning/dashboards/dashboards.yaml" },
        ],
      },
      extraVolumes: [
        {
          volume: { name: "dashboards", configMap: { name: dashboards.metadata.name } },
          mountPath: DASHBOARDS_DIR,
        },
      ],
      dataDir: "/var/lib/grafana",
      runAsUser: IMAGES.grafana.uid,
      storageSize: args.storageSize ?? GRAFANA_DEFAULTS.storageSize,
      storageClass: args.storageClass,
      configHashOf: [config.data, dashboards.data, secret.content],
      scrapePort: PORTS.grafanaHttp,
      protect: args.protect ?? false,
    });
    const service = store.service;
    this.service = service.metadata.name;
    this.statefulSet = store.statefulSet;

    new k8s.networking.v1.Ingress(
      name,
      {
        metadata: objectMeta(name, ns, this.identity),
        spec: {
          ingressClassName: args.ingressClassName ?? GRAFANA_DEFAULTS.ingressClassName,
          rules: [
            {
              host: args.host,
              http: {
                paths: [
                  {
                    path: "/",
                    pathType: "Prefix",
                    backend: { service: { name: service.metadata.name, port: { name: "http" } } },
                  },
                ],
              },
            },
          ],
          ...(args.tls
            ? {
                tls: [
                  {
                    hosts: [args.host],
                    ...(args.tls.secretName ? { secretName: args.tls.secretName } : {}),
                  },
                ],
              }
            : {}),
        },
      },
      { parent: this },
    );

    this.registerOutputs({
      url: this.url,
      service: this.service,
      adminPasswordSecret: secret.name,
    });
  }
}
