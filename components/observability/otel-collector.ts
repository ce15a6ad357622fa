import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { configHashAnnotation } from "../lib/hash";
import { scrapeAnnotations } from "../lib/scrape";
import { serviceArgs } from "../lib/stateful";
import { assertValidArgs } from "../lib/validation";
import { disruptionBudget, objectMeta } from "../lib/workload";
import { DEFAULT_RESOURCES, otelCollectorRules, type OtelCollectorArgs } from "./args";
import { collectorClusterRoleRules, collectorConfig } from "./collector-config";
import { collectorDeployment } from "./collector-workloads";
import { identityOf, PORTS, toYaml } from "./common";
import { accountSubject, grantClusterRole, serviceAccount } from "./rbac";

/**
 * The OTel Collector gateway: the one OTLP endpoint of the platform (gRPC 4317, HTTP 4318). It
 * labels telemetry with the Kubernetes workload that sent it and sends traces to Tempo, metrics to
 * Prometheus's OTLP receiver and logs to Loki's OTLP endpoint.
 */
export class OtelCollector extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:4317`, for OTLP gRPC clients (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  public readonly otlpGrpcEndpoint: pulumi.Output<string>;
  /** `http://<host>:4318`, for OTLP HTTP clients. */
  public readonly otlpHttpEndpoint: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The Deployment, for `dependsOn`. */
  public readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: OtelCollectorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:OtelCollector", name, {}, opts);
    assertValidArgs("OtelCollector", otelCollectorRules(args));
    const replicas = args.replicas ?? 1;
    const image = args.image ?? imageRef("otelCollector");
    this.identity = identityOf("collector", args.instance ?? name, tagOf(image));
    const ns = args.namespace;

    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: {
          "config.yaml": pulumi.output(args.exporters).apply((e) => toYaml(collectorConfig(e))),
        },
      },
      { parent: this },
    );

    const account = serviceAccount(this, name, ns, this.identity);
    // Cluster-wide: apps send from the platform namespace and from the deployment targets.
    grantClusterRole(this, `${name}-k8sattributes`, {
      metadata: { name: pulumi.interpolate`${ns}-${name}`, labels: labelsFor(this.identity) },
      rules: collectorClusterRoleRules(),
      subjects: [accountSubject(account, ns)],
    });

    this.deployment = new k8s.apps.v1.Deployment(
      name,
      collectorDeployment({
        name,
        namespace: ns,
        identity: this.identity,
        image,
        resources: args.resources ?? DEFAULT_RESOURCES.collector,
        replicas,
        configMapName: config.metadata.name,
        serviceAccountName: account.metadata.name,
        podAnnotations: configHashAnnotation(config.data).apply((hash) => ({
          ...hash,
          ...scrapeAnnotations(PORTS.collectorMetrics),
        })),
      }),
      { parent: this },
    );
    if (replicas > 1) {
      new k8s.policy.v1.PodDisruptionBudget(name, disruptionBudget(name, ns, this.identity), {
        parent: this,
      });
    }

    const service = new k8s.core.v1.Service(
      name,
      serviceArgs(name, ns, this.identity, [
        { name: "otlp-grpc", port: PORTS.otlpGrpc },
        { name: "otlp-http", port: PORTS.otlpHttp },
      ]),
      { parent: this },
    );
    this.service = service.metadata.name;
    this.host = pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc`;
    this.otlpGrpcEndpoint = pulumi.interpolate`http://${this.host}:${PORTS.otlpGrpc}`;
    this.otlpHttpEndpoint = pulumi.interpolate`http://${this.host}:${PORTS.otlpHttp}`;

    this.registerOutputs({
      service: this.service,
      host: this.host,
      otlpGrpcEndpoint: this.otlpGrpcEndpoint,
      otlpHttpEndpoint: this.otlpHttpEndpoint,
    });
  }
}
