import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imageRef, tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { assertValidArgs } from "../lib/validation";
import { objectMeta } from "../lib/workload";
import { DEFAULT_RESOURCES, TEMPO_DEFAULTS, tempoRules, type TempoArgs } from "./args";
import { identityOf, PORTS, retentionHours, s3Storage, toYaml } from "./common";
import { singleBinary, storeWorkload } from "./store";
import { TEMPO_DATA_DIR, tempoConfig } from "./tempo-config";

/**
 * Tempo, the trace store: OTLP in from the collector, TraceQL for Grafana on 3200, and a
 * metrics-generator that remote-writes span metrics and service graphs to Prometheus.
 */
export class Tempo extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:3200`: the query API Grafana reads. */
  public readonly url: pulumi.Output<string>;
  /** `<host>:4317`: the OTLP gRPC receiver the collector sends traces to. */
  public readonly otlpGrpcAddress: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: TempoArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Tempo", name, {}, opts);
    assertValidArgs("Tempo", tempoRules(args));
    const retention = retentionHours(args.retention ?? TEMPO_DEFAULTS.retention);
    const image = args.image ?? imageRef("tempo");
    this.identity = identityOf("tempo", args.instance ?? name, tagOf(image));
    const ns = args.namespace;
    const bucket = args.objectStorage;

    const configText = pulumi
      .all([args.prometheusRemoteWriteUrl, bucket?.endpoint])
      .apply(([prometheusRemoteWriteUrl, endpoint]) =>
        toYaml(
          tempoConfig({
            retention,
            prometheusRemoteWriteUrl,
            storage: bucket && endpoint ? s3Storage(bucket, endpoint) : { backend: "local" },
          }),
        ),
      );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: { "tempo.yaml": configText },
      },
      { parent: this },
    );
    const store = storeWorkload(this, name, {
      ...singleBinary("tempo", config.metadata.name),
      namespace: ns,
      identity: this.identity,
      image,
      ports: [
        { name: "http", port: PORTS.tempoHttp },
        { name: "otlp-grpc", port: PORTS.otlpGrpc },
        { name: "otlp-http", port: PORTS.otlpHttp },
      ],
      resources: args.resources ?? DEFAULT_RESOURCES.tempo,
      dataDir: TEMPO_DATA_DIR,
      storageSize: args.storageSize ?? TEMPO_DEFAULTS.storageSize,
      storageClass: args.storageClass,
      bucket,
      configHashOf: [config.data],
      scrapePort: PORTS.tempoHttp,
      protect: args.protect ?? false,
    });
    this.statefulSet = store.statefulSet;

    this.service = store.service.metadata.name;
    this.host = store.host;
    this.url = pulumi.interpolate`http://${this.host}:${PORTS.tempoHttp}`;
    this.otlpGrpcAddress = pulumi.interpolate`${this.host}:${PORTS.otlpGrpc}`;
    this.registerOutputs({
      service: this.service,
      host: this.host,
      url: this.url,
      otlpGrpcAddress: this.otlpGrpcAddress,
    });
  }
}
