import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation } from "../lib/hash";
import { imageRef, tagOf } from "../../core/images";
import { labelsFor, PART_OF, type WorkloadIdentity } from "../../policy/model/labels";
import { scrapeAnnotations } from "../lib/scrape";
import { podSecurityLabels } from "../lib/security";
import {
  NODE_LOG_COLLECTOR_COMPONENT,
  nodeLogsNamespace,
  SECURITY_EXCEPTIONS,
} from "../../policy/model/security-exceptions";
import { objectMeta } from "../lib/workload";
import { DEFAULT_RESOURCES, type NodeLogCollectorArgs } from "./args";
import { nodeLogCollectorConfig } from "./collector-config";
import { nodeLogCollectorDaemonSet } from "./collector-workloads";
import { identityOf, PORTS, toYaml } from "./common";

/** The named exception this workload relies on; the build fails if someone removes it. */
function nodeLogException() {
  const exception = SECURITY_EXCEPTIONS.find((e) => e.component === NODE_LOG_COLLECTOR_COMPONENT);
  if (!exception) {
    throw new Error(
      `security-exceptions.ts no longer names "${NODE_LOG_COLLECTOR_COMPONENT}": the node log ` +
        `collector needs its hostPath and root exception there`,
    );
  }
  return exception;
}

/**
 * Container logs of every node (apps that only print to stdout included), tailed by an OTel
 * Collector DaemonSet in its own `privileged` namespace and forwarded to the gateway collector.
 */
export class NodeLogCollector extends pulumi.ComponentResource {
  /** Its namespace, `<platform namespace>-node-logs`. */
  public readonly namespace: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The DaemonSet, for `dependsOn`. */
  public readonly daemonSet: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: NodeLogCollectorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:NodeLogCollector", name, {}, opts);
    const exception = nodeLogException();
    const image = args.image ?? imageRef("otelCollector");
    this.identity = identityOf("nodeLogCollector", args.instance ?? name, tagOf(image));
    const nsName = pulumi.output(args.namespace).apply(nodeLogsNamespace);

    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: nsName,
          labels: {
            ...podSecurityLabels(exception.podSecurityLevel),
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "pulumi",
          },
          annotations: {
            "k3s-platform/security-exception": exception.id,
          },
        },
      },
      { parent: this },
    );
    this.namespace = namespace.metadata.name;

    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, this.namespace, this.identity),
        data: {
          "config.yaml": pulumi
            .all([args.gatewayOtlpGrpc, nsName])
            .apply(([gatewayOtlpGrpc, ownNamespace]) =>
              toYaml(nodeLogCollectorConfig({ gatewayOtlpGrpc, ownNamespace })),
            ),
        },
      },
      { parent: this },
    );

    this.daemonSet = new k8s.apps.v1.DaemonSet(
      name,
      nodeLogCollectorDaemonSet({
        name,
        namespace: this.namespace,
        identity: this.identity,
        image,
        resources: args.resources ?? DEFAULT_RESOURCES.nodeLogCollector,
        configMapName: config.metadata.name,
        podAnnotations: configHashAnnotation(config.data).apply((hash) => ({
          ...hash,
          ...scrapeAnnotations(PORTS.collectorMetrics),
        })),
      }),
      { parent: this },
    );

    this.registerOutputs({ namespace: this.namespace, labels: labelsFor(this.identity) });
  }
}
