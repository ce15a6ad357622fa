import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imageRef, tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { assertValidArgs } from "../lib/validation";
import { objectMeta } from "../lib/workload";
import { DEFAULT_RESOURCES, LOKI_DEFAULTS, lokiRules, type LokiArgs } from "./args";
import { identityOf, PORTS, retentionHours, s3Storage, toYaml } from "./common";
import { LOKI_DATA_DIR, lokiConfig } from "./loki-config";
import { singleBinary, storeWorkload } from "./store";

/** Loki 3 single binary: logs from the collector over OTLP, LogQL for Grafana on 3100. */
export class Loki extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:3100`: the query API Grafana reads. */
  public readonly url: pulumi.Output<string>;
  /** `http://<host>:3100/otlp`: the OTLP endpoint the collector sends logs to. */
  public readonly otlpUrl: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: LokiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Loki", name, {}, opts);
    assertValidArgs("Loki", lokiRules(args));
    const retention = retentionHours(args.retention ?? LOKI_DEFAULTS.retention);
    const image = args.image ?? imageRef("loki");
    this.identity = identityOf("loki", args.instance ?? name, tagOf(image));
    const ns = args.namespace;
    const bucket = args.objectStorage;

    const configText = pulumi.output(bucket?.endpoint).apply((endpoint) =>
      toYaml(
        lokiConfig({
          retention,
          storage: bucket && endpoint ? s3Storage(bucket, endpoint) : { backend: "filesystem" },
        }),
      ),
    );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: { "loki.yaml": configText },
      },
      { parent: this },
    );
    const store = storeWorkload(this, name, {
      ...singleBinary("loki", config.metadata.name),
      namespace: ns,
      identity: this.identity,
      image,
      ports: [{ name: "http", port: PORTS.lokiHttp }],
      resources: args.resources ?? DEFAULT_RESOURCES.loki,
      dataDir: LOKI_DATA_DIR,
      storageSize: args.storageSize ?? LOKI_DEFAULTS.storageSize,
      storageClass: args.storageClass,
      bucket,
      configHashOf: [config.data],
      scrapePort: PORTS.lokiHttp,
      protect: args.protect ?? false,
    });
    this.statefulSet = store.statefulSet;

    this.service = store.service.metadata.name;
    this.host = store.host;
    this.url = pulumi.interpolate`http://${this.host}:${PORTS.lokiHttp}`;
    this.otlpUrl = pulumi.interpolate`${this.url}/otlp`;
    this.registerOutputs({
      service: this.service,
      host: this.host,
      url: this.url,
      otlpUrl: this.otlpUrl,
    });
  }
}
