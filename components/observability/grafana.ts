import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { ingressUrl, servesTls, type IngressSettings } from "../lib/ingress";
import { check, probesFor } from "../lib/probes";
import { passwordFor, PlatformSecret, type SecretKey } from "../lib/secrets";
import { assertValidArgs } from "../lib/validation";
import { objectMeta } from "../lib/workload";
import { DEFAULT_RESOURCES, GRAFANA_DEFAULTS, grafanaRules, type GrafanaArgs } from "./args";
import { identityOf, PORTS, toYaml } from "./common";
import {
  DASHBOARDS_DIR,
  escapeProvisioning,
  grafanaDashboardProviders,
  grafanaDatasources,
  grafanaIni,
} from "./grafana-provisioning";
import { storeWorkload } from "./store";

/** Key of the admin password in the Grafana Secret. */
export const GRAFANA_ADMIN_PASSWORD_KEY = "admin-password";

/** What {@link grafanaIngress} builds from. */
interface GrafanaIngressSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  ingress: IngressSettings;
  serviceName: pulumi.Input<string>;
}

/** The host, all paths, to the Service's `http` port; over TLS when a Secret is named. */
function grafanaIngress(spec: GrafanaIngressSpec): k8s.networking.v1.IngressArgs {
  const { host, tlsSecretName } = spec.ingress;
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      ingressClassName: spec.ingress.ingressClassName ?? GRAFANA_DEFAULTS.ingressClassName,
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: spec.serviceName, port: { name: "http" } } },
              },
            ],
          },
        },
      ],
      ...(servesTls(spec.ingress) ? { tls: [{ hosts: [host], secretName: tlsSecretName }] } : {}),
    },
  };
}

/**
 * Grafana: datasources and dashboards provisioned from the repository, an admin password generated
 * into a Secret, anonymous access only when asked for and then only as Viewer, reachable at
 * `ingress.host` through the ingress controller.
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
  /**
   * The admin login: user name and password (a secret output). The password seeds Grafana's
   * database when it is first created; a change made in Grafana's UI later is not reflected here.
   */
  public readonly admin: { user: string; password: pulumi.Output<string> };
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Grafana", name, {}, opts);
    assertValidArgs("Grafana", grafanaRules(args));
    const image = args.image ?? imageRef("grafana");
    this.identity = identityOf("grafana", args.instance ?? name, tagOf(image));
    const ns = args.namespace;
    this.url = pulumi.output(ingressUrl(args.ingress));

    const password = passwordFor(`${name}-admin-password`, args.adminPassword, { parent: this });
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
    this.admin = { user: args.adminUser ?? GRAFANA_DEFAULTS.adminUser, password };

    const { config, dashboards } = this.createConfig(name, args);
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
    this.service = store.service.metadata.name;
    this.statefulSet = store.statefulSet;

    new k8s.networking.v1.Ingress(
      name,
      grafanaIngress({
        name,
        namespace: ns,
        identity: this.identity,
        ingress: args.ingress,
        serviceName: store.service.metadata.name,
      }),
      { parent: this },
    );

    this.registerOutputs({
      url: this.url,
      service: this.service,
      adminPasswordSecret: secret.name,
    });
  }

  /** `grafana.ini` and the provisioning files in one ConfigMap, the dashboards in another. */
  private createConfig(
    name: string,
    args: GrafanaArgs,
  ): { config: k8s.core.v1.ConfigMap; dashboards: k8s.core.v1.ConfigMap } {
    const ini = grafanaIni({
      rootUrl: `${ingressUrl(args.ingress)}/`,
      anonymousViewer: args.anonymousViewer ?? GRAFANA_DEFAULTS.anonymousViewer,
      https: servesTls(args.ingress),
      adminUser: args.adminUser ?? GRAFANA_DEFAULTS.adminUser,
    });
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, args.namespace, this.identity),
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
        metadata: objectMeta(`${name}-dashboards`, args.namespace, this.identity),
        data: args.dashboards ?? {},
      },
      { parent: this },
    );
    return { config, dashboards };
  }
}
