import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { check, probesFor } from "../lib/probes";
import { assertValidArgs } from "../lib/validation";
import { objectMeta } from "../lib/workload";
import {
  DEFAULT_RESOURCES,
  PROMETHEUS_DEFAULTS,
  prometheusRules,
  type PrometheusArgs,
} from "./args";
import { identityOf, PORTS, retentionHours, toYaml } from "./common";
import {
  PROMETHEUS_DATA_DIR,
  prometheusArgs,
  prometheusClusterRoleRules,
  prometheusConfig,
  prometheusPodRoleRules,
  retentionSize,
  RULES_DIR,
} from "./prometheus-config";
import { accountSubject, grantClusterRole, grantRole, serviceAccount } from "./rbac";
import { storeWorkload } from "./store";

/**
 * Prometheus 3: scrapes annotated pods and the kubelets, receives OTLP metrics from the collector
 * and remote writes from Tempo's metrics-generator, and evaluates the platform's alert rules.
 */
export class Prometheus extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:9090`: the query API and UI. */
  public readonly url: pulumi.Output<string>;
  /** `…/api/v1/otlp`: the OTLP receiver (the exporter appends `/v1/metrics`). */
  public readonly otlpUrl: pulumi.Output<string>;
  /** `…/api/v1/write`: the remote-write receiver. */
  public readonly remoteWriteUrl: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: PrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Prometheus", name, {}, opts);
    assertValidArgs("Prometheus", prometheusRules(args));
    const storageSize = args.storageSize ?? PROMETHEUS_DEFAULTS.storageSize;
    const image = args.image ?? imageRef("prometheus");
    this.identity = identityOf("prometheus", args.instance ?? name, tagOf(image));
    const ns = args.namespace;
    const scrapeNamespaces = args.scrapeNamespaces ?? [ns];

    const { rules, config } = this.createConfig(name, args, scrapeNamespaces);
    const account = this.grantDiscovery(name, ns, scrapeNamespaces);
    const store = storeWorkload(this, name, {
      namespace: ns,
      identity: this.identity,
      image,
      args: prometheusArgs(),
      ports: [{ name: "http", port: PORTS.prometheusHttp }],
      resources: args.resources ?? DEFAULT_RESOURCES.prometheus,
      // A large TSDB replays its WAL before /-/ready; /-/healthy answers as soon as it runs.
      probes: probesFor(check.http("/-/ready", "http"), {
        liveness: check.http("/-/healthy", "http"),
        startupSeconds: 600,
      }),
      configMount: { configMapName: config.metadata.name, mountPath: "/etc/prometheus" },
      extraVolumes: [
        {
          volume: { name: "rules", configMap: { name: rules.metadata.name } },
          mountPath: RULES_DIR,
        },
      ],
      dataDir: PROMETHEUS_DATA_DIR,
      runAsUser: IMAGES.prometheus.uid,
      storageSize,
      storageClass: args.storageClass,
      serviceAccountName: account.metadata.name,
      // Kubernetes service discovery and the kubelet scrape use its token (KUBERNETES_API_USERS).
      automountServiceAccountToken: true,
      // Without --web.enable-lifecycle, a new config or rule file takes effect by a restart.
      configHashOf: [config.data, rules.data],
      scrapePort: PORTS.prometheusHttp,
      protect: args.protect ?? false,
    });
    this.statefulSet = store.statefulSet;

    this.service = store.service.metadata.name;
    this.host = store.host;
    this.url = pulumi.interpolate`http://${this.host}:${PORTS.prometheusHttp}`;
    this.otlpUrl = pulumi.interpolate`${this.url}/api/v1/otlp`;
    this.remoteWriteUrl = pulumi.interpolate`${this.url}/api/v1/write`;
    this.registerOutputs({
      service: this.service,
      host: this.host,
      url: this.url,
      otlpUrl: this.otlpUrl,
      remoteWriteUrl: this.remoteWriteUrl,
    });
  }

  /** The rule files and `prometheus.yml`, each in its ConfigMap. */
  private createConfig(
    name: string,
    args: PrometheusArgs,
    scrapeNamespaces: pulumi.Input<string>[],
  ): { rules: k8s.core.v1.ConfigMap; config: k8s.core.v1.ConfigMap } {
    const ns = args.namespace;
    const ruleFiles = args.ruleFiles ?? {};
    const retention = retentionHours(args.retention ?? PROMETHEUS_DEFAULTS.retention);
    const rules = new k8s.core.v1.ConfigMap(
      `${name}-rules`,
      { metadata: objectMeta(`${name}-rules`, ns, this.identity), data: ruleFiles },
      { parent: this },
    );
    const configText = pulumi
      .all([pulumi.all(scrapeNamespaces), pulumi.all(args.alertmanagers ?? []), ns])
      .apply(([namespaces, alertmanagers, namespace]) =>
        toYaml(
          prometheusConfig({
            scrapeInterval: args.scrapeInterval ?? PROMETHEUS_DEFAULTS.scrapeInterval,
            scrapeNamespaces: namespaces,
            retention,
            retentionSize: retentionSize(args.storageSize ?? PROMETHEUS_DEFAULTS.storageSize),
            ruleFiles: Object.keys(ruleFiles).sort(),
            alertmanagers,
            kubeStateMetrics: args.kubeStateMetrics && {
              namespace,
              selector: args.kubeStateMetrics,
              port: PORTS.kubeStateMetricsHttp,
            },
          }),
        ),
      );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: { "prometheus.yml": configText },
      },
      { parent: this },
    );
    return { rules, config };
  }

  /**
   * Its ServiceAccount, with node discovery and the kubelets cluster-wide and pod discovery in
   * each scraped namespace. The cluster-wide names carry the namespace: they must not clash
   * between two platforms on one cluster.
   */
  private grantDiscovery(
    name: string,
    ns: pulumi.Input<string>,
    scrapeNamespaces: pulumi.Input<string>[],
  ): k8s.core.v1.ServiceAccount {
    const labels = labelsFor(this.identity);
    const account = serviceAccount(this, name, ns, this.identity);
    const subjects = [accountSubject(account, ns)];
    grantClusterRole(this, `${name}-nodes`, {
      metadata: { name: pulumi.interpolate`${ns}-${name}`, labels },
      rules: prometheusClusterRoleRules(),
      subjects,
    });
    scrapeNamespaces.forEach((scraped, index) => {
      grantRole(this, `${name}-pods-${index}`, {
        metadata: { name: `${name}-pods`, namespace: scraped, labels },
        rules: prometheusPodRoleRules(),
        subjects,
      });
    });
    return account;
  }
}
