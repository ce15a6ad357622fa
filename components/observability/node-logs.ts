import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configHashAnnotation } from "../lib/hash";
import { imageRef, tagOf } from "../../core/images";
import { labelsFor, PART_OF, selectorFor, type WorkloadIdentity } from "../../core/labels";
import type { ResourceSpec } from "../lib/resources";
import { scrapeAnnotations } from "../lib/scrape";
import { podSecurityLabels } from "../lib/security";
import {
  NODE_LOG_COLLECTOR_COMPONENT,
  nodeLogsNamespace,
  SECURITY_EXCEPTIONS,
} from "../../core/security-exceptions";
import { objectMeta, podTemplate } from "../lib/workload";
import { DEFAULT_RESOURCES, identityOf, PORTS, toYaml, type WorkloadBaseArgs } from "./common";
import { collectorContainer, nodeLogCollectorConfig, POD_LOGS_DIR } from "./otel-collector";

/** Arguments of a {@link NodeLogCollector}. */
export interface NodeLogCollectorArgs extends WorkloadBaseArgs {
  /**
   * The platform namespace; the collector gets its own, `nodeLogsNamespace(namespace)`, labelled
   * Pod Security `privileged` (the exception in `security-exceptions.ts`).
   */
  namespace: pulumi.Input<string>;
  /** `host:port` of the gateway collector's OTLP gRPC receiver. */
  gatewayOtlpGrpc: pulumi.Input<string>;
}

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

/** What {@link nodeLogCollectorDaemonSet} builds from. */
export interface NodeLogCollectorSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  resources: ResourceSpec;
  configMapName: pulumi.Input<string>;
  podAnnotations: pulumi.Input<Record<string, string>>;
}

/**
 * The DaemonSet: one collector per node reading `/var/log/pods` through a read-only hostPath as
 * root (the directory is root-owned, mode 0750). Everything else of the baseline holds: every
 * capability dropped (root reads its own files without CAP_DAC_*), no privilege escalation,
 * seccomp RuntimeDefault, read-only root filesystem, no service-account token.
 */
export function nodeLogCollectorDaemonSet(spec: NodeLogCollectorSpec): k8s.apps.v1.DaemonSetArgs {
  const base = collectorContainer(
    spec.image,
    spec.resources,
    [],
    [{ name: "pod-logs", mountPath: POD_LOGS_DIR, readOnly: true }],
  );
  const main = {
    ...base,
    securityContext: { ...base.securityContext, runAsNonRoot: false, runAsUser: 0 },
  };
  const template = podTemplate(
    spec.identity,
    {
      containers: [main],
      volumes: [
        { name: "config", configMap: { name: spec.configMapName } },
        { name: "pod-logs", hostPath: { path: POD_LOGS_DIR, type: "Directory" } },
      ],
    },
    spec.podAnnotations,
  );
  // podTemplate builds a plain object; its type is the provider's Input<PodSpec>.
  const podSpec = template.spec as k8s.types.input.core.v1.PodSpec;
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      selector: { matchLabels: selectorFor(spec.identity) },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      template: {
        ...template,
        spec: {
          ...podSpec,
          // Root without fsGroup: the volumes are a ConfigMap and the read-only host path.
          securityContext: {
            runAsNonRoot: false,
            runAsUser: 0,
            runAsGroup: 0,
            seccompProfile: { type: "RuntimeDefault" },
          },
          // Logs of every node, K3s servers included, even when they carry a NoSchedule taint.
          tolerations: [{ operator: "Exists", effect: "NoSchedule" }],
        },
      },
    },
  };
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
