import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../../core/images";
import { selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { check, probesFor } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import { container, objectMeta, podTemplate } from "../lib/workload";
import { NODE_LOG_CHECKPOINTS_HOST_DIR } from "../../policy/model/security-exceptions";
import { COLLECTOR_CONFIG_PATH, NODE_LOG_CHECKPOINTS_DIR, POD_LOGS_DIR } from "./collector-config";
import { PORTS } from "./common";

/**
 * The workloads of both OTel Collectors: the gateway's Deployment and the node log collector's
 * DaemonSet, around the one collector container. Pure builders; the components create them.
 */

/** The collector container of either collector, its config mounted from a ConfigMap. */
export function collectorContainer(
  image: string,
  resources: ResourceSpec,
  ports: { name: string; containerPort: number }[],
  extraMounts: k8s.types.input.core.v1.VolumeMount[] = [],
): k8s.types.input.core.v1.Container {
  return container({
    name: "otel-collector",
    image,
    args: [`--config=${COLLECTOR_CONFIG_PATH}`],
    ports: [
      ...ports,
      { name: "metrics", containerPort: PORTS.collectorMetrics },
      { name: "health", containerPort: PORTS.collectorHealth },
    ],
    resources,
    probes: probesFor(check.http("/", "health")),
    volumeMounts: [{ name: "config", mountPath: "/etc/otelcol", readOnly: true }, ...extraMounts],
  });
}

/** What {@link collectorDeployment} builds from. */
export interface CollectorDeploymentSpec {
  name: string;
  namespace: pulumi.Input<string>;
  identity: WorkloadIdentity;
  image: string;
  resources: ResourceSpec;
  /** 2 or more are spread across nodes. */
  replicas: number;
  configMapName: pulumi.Input<string>;
  serviceAccountName: pulumi.Input<string>;
  podAnnotations: pulumi.Input<Record<string, string>>;
}

/** The gateway: OTLP on 4317 and 4318, with an API token for k8sattributes. */
export function collectorDeployment(spec: CollectorDeploymentSpec): k8s.apps.v1.DeploymentArgs {
  const main = collectorContainer(spec.image, spec.resources, [
    { name: "otlp-grpc", containerPort: PORTS.otlpGrpc },
    { name: "otlp-http", containerPort: PORTS.otlpHttp },
  ]);
  return {
    metadata: objectMeta(spec.name, spec.namespace, spec.identity),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selectorFor(spec.identity) },
      template: podTemplate(
        spec.identity,
        {
          containers: [main],
          volumes: [{ name: "config", configMap: { name: spec.configMapName } }],
          security: { runAsUser: IMAGES.otelCollector.uid },
          serviceAccountName: spec.serviceAccountName,
          // k8sattributes watches the API (KUBERNETES_API_USERS names this component).
          automountServiceAccountToken: true,
          spreadAcrossNodes: spec.replicas > 1,
        },
        spec.podAnnotations,
      ),
    },
  };
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
 * root (the directory is root-owned, mode 0750), and keeping its file offsets in a writable
 * hostPath of its own, so a restart or a reboot resumes where it stopped. Everything else of the
 * baseline holds: every capability dropped (root reads its own files without CAP_DAC_*), no
 * privilege escalation, seccomp RuntimeDefault, read-only root filesystem, no service-account token.
 */
export function nodeLogCollectorDaemonSet(spec: NodeLogCollectorSpec): k8s.apps.v1.DaemonSetArgs {
  const base = collectorContainer(
    spec.image,
    spec.resources,
    [],
    [
      { name: "pod-logs", mountPath: POD_LOGS_DIR, readOnly: true },
      { name: "checkpoints", mountPath: NODE_LOG_CHECKPOINTS_DIR },
    ],
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
        // Created by the kubelet on first use (root, 0755): the collector runs as root.
        {
          name: "checkpoints",
          hostPath: { path: NODE_LOG_CHECKPOINTS_HOST_DIR, type: "DirectoryOrCreate" },
        },
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
          // Root without fsGroup: the volumes are a ConfigMap and the two host paths.
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
