import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, selectorFor, type WorkloadIdentity } from "../../policy/model/labels";
import { check, probesFor } from "../lib/probes";
import { assertValidArgs } from "../lib/validation";
import { container, disruptionBudget, objectMeta, podTemplate } from "../lib/workload";
import { DEFAULT_RESOURCES, kubeStateMetricsRules, type KubeStateMetricsArgs } from "./args";
import { identityOf, PORTS, type RbacRule } from "./common";
import { accountSubject, grantRole, serviceAccount } from "./rbac";

/**
 * The resources kube-state-metrics lists and watches: exactly those an alert reads (the backup
 * CronJob and the backup and migrations Jobs). Every other resource would be API load and series
 * nothing uses, and a right its Role would have to grant.
 */
export const KUBE_STATE_METRICS_RESOURCES = ["jobs", "cronjobs"] as const;

/**
 * The Job labels kube-state-metrics copies into `kube_job_labels`: the migrations alert picks the
 * migrations Job by its component, which stays the same while the Job's name changes with every
 * migration. (Backup Jobs are picked by their owner, the backup CronJob.)
 */
export const KUBE_STATE_METRICS_LABELS = ["app.kubernetes.io/component"] as const;

/** The command line: only {@link KUBE_STATE_METRICS_RESOURCES}, only in `namespace`. */
export function kubeStateMetricsArgs(namespace: pulumi.Input<string>): pulumi.Input<string>[] {
  return [
    `--port=${PORTS.kubeStateMetricsHttp}`,
    `--telemetry-port=${PORTS.kubeStateMetricsTelemetry}`,
    `--resources=${KUBE_STATE_METRICS_RESOURCES.join(",")}`,
    pulumi.interpolate`--namespaces=${namespace}`,
    `--metric-labels-allowlist=jobs=[${KUBE_STATE_METRICS_LABELS.join(",")}]`,
  ];
}

/**
 * Its Role in the platform namespace: list and watch the Jobs and CronJobs it reports, and
 * nothing else (no `get`: its informers only list and watch).
 */
export function kubeStateMetricsRoleRules(): RbacRule[] {
  return [
    {
      apiGroups: ["batch"],
      resources: [...KUBE_STATE_METRICS_RESOURCES],
      verbs: ["list", "watch"],
    },
  ];
}

/**
 * kube-state-metrics: the state of the platform's Jobs and CronJobs as metrics (last successful
 * backup, failed Jobs), which no workload exposes itself. It reads only the platform namespace, so
 * a namespaced Role is all it is granted, never a ClusterRole. Prometheus scrapes it with a job of
 * its own (`honor_labels`, so the Job's namespace is the one reported, not the exporter's); its pods
 * carry no scrape annotation, so the pod job does not scrape it a second time.
 */
export class KubeStateMetrics extends pulumi.ComponentResource {
  /** Labels of its pods, for network policies and its scrape job. */
  public readonly identity: WorkloadIdentity;
  /** The Deployment, for `dependsOn`. */
  public readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: KubeStateMetricsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:KubeStateMetrics", name, {}, opts);
    assertValidArgs("KubeStateMetrics", kubeStateMetricsRules(args));
    const replicas = args.replicas ?? 1;
    const image = args.image ?? imageRef("kubeStateMetrics");
    this.identity = identityOf("kubeStateMetrics", args.instance ?? name, tagOf(image));
    const ns = args.namespace;

    const account = serviceAccount(this, name, ns, this.identity);
    grantRole(this, name, {
      metadata: { name, namespace: ns, labels: labelsFor(this.identity) },
      rules: kubeStateMetricsRoleRules(),
      subjects: [accountSubject(account, ns)],
    });

    const main = container({
      name: "kube-state-metrics",
      image,
      args: kubeStateMetricsArgs(ns),
      ports: [
        { name: "http", containerPort: PORTS.kubeStateMetricsHttp },
        { name: "telemetry", containerPort: PORTS.kubeStateMetricsTelemetry },
      ],
      resources: args.resources ?? DEFAULT_RESOURCES.kubeStateMetrics,
      // Ready once its informers have synced and it has series to serve; alive while it answers,
      // so a slow API server makes it unready, not restarted.
      probes: probesFor(check.http("/readyz", "telemetry"), {
        liveness: check.http("/healthz", "http"),
      }),
    });
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: objectMeta(name, ns, this.identity),
        spec: {
          replicas,
          selector: { matchLabels: selectorFor(this.identity) },
          template: podTemplate(this.identity, {
            containers: [main],
            security: { runAsUser: IMAGES.kubeStateMetrics.uid },
            serviceAccountName: account.metadata.name,
            // It lists and watches Jobs and CronJobs (KUBERNETES_API_USERS names this component).
            automountServiceAccountToken: true,
            spreadAcrossNodes: replicas > 1,
          }),
        },
      },
      { parent: this },
    );
    if (replicas > 1) {
      new k8s.policy.v1.PodDisruptionBudget(name, disruptionBudget(name, ns, this.identity), {
        parent: this,
      });
    }
    this.registerOutputs({});
  }
}
