import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES, imageRef, tagOf } from "../../core/images";
import { labelsFor, type WorkloadIdentity } from "../../policy/model/labels";
import { check, probesFor } from "../lib/probes";
import { PlatformSecret } from "../lib/secrets";
import { assertValidArgs } from "../lib/validation";
import { objectMeta } from "../lib/workload";
import {
  ALERTMANAGER_CONFIG_DIR,
  ALERTMANAGER_DATA_DIR,
  alertmanagerArgs,
  alertmanagerConfig,
  RECEIVER_SECRETS_DIR,
  type ReceiverSpec,
} from "./alertmanager-config";
import {
  ALERTMANAGER_DEFAULTS,
  alertmanagerRules,
  DEFAULT_RESOURCES,
  type AlertmanagerArgs,
} from "./args";
import { identityOf, PORTS, toYaml } from "./common";
import { storeWorkload } from "./store";

/**
 * Alertmanager: takes the alerts Prometheus fires, groups them, holds back a down node's pods'
 * alerts, and routes each by its severity to the receivers of the stack config. Each receiver's
 * credential is a key of the `<name>-receivers` Secret, mounted as a file the config names; with
 * no receivers there is no Secret, and every alert goes to the blackhole receiver.
 *
 * One replica in a StatefulSet: silences and the notification log live on its volume. Two
 * replicas would need their gossip port opened between them and both listed in Prometheus.
 */
export class Alertmanager extends pulumi.ComponentResource {
  /** Name of its Service. */
  public readonly service: pulumi.Output<string>;
  /** In-cluster DNS name of its Service. */
  public readonly host: pulumi.Output<string>;
  /** `http://<host>:9093`: the API (v2), for Grafana's datasource. */
  public readonly url: pulumi.Output<string>;
  /** `<host>:9093`: the target Prometheus sends alerts to. */
  public readonly address: pulumi.Output<string>;
  /** Labels of its pods, for network policies. */
  public readonly identity: WorkloadIdentity;
  /** The StatefulSet, for `dependsOn`. */
  public readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: AlertmanagerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:observability:Alertmanager", name, {}, opts);
    assertValidArgs("Alertmanager", alertmanagerRules(args));
    const image = args.image ?? imageRef("alertmanager");
    this.identity = identityOf("alertmanager", args.instance ?? name, tagOf(image));
    const ns = args.namespace;
    const receivers = args.receivers ?? [];

    const specs: ReceiverSpec[] = receivers.map(({ credential: _credential, ...spec }) => spec);
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: objectMeta(`${name}-config`, ns, this.identity),
        data: {
          "alertmanager.yml": toYaml(
            alertmanagerConfig({
              receivers: specs,
              groupBy: args.groupBy,
              groupInterval: args.groupInterval,
            }),
          ),
        },
      },
      { parent: this },
    );
    const secret =
      receivers.length > 0
        ? new PlatformSecret(
            `${name}-receivers`,
            {
              namespace: ns,
              labels: labelsFor(this.identity),
              data: Object.fromEntries(receivers.map((r) => [r.name, r.credential])),
            },
            { parent: this },
          )
        : undefined;

    const store = storeWorkload(this, name, {
      namespace: ns,
      identity: this.identity,
      image,
      args: alertmanagerArgs(),
      ports: [{ name: "http", port: PORTS.alertmanagerHttp }],
      resources: args.resources ?? DEFAULT_RESOURCES.alertmanager,
      probes: probesFor(check.http("/-/ready", "http"), {
        liveness: check.http("/-/healthy", "http"),
      }),
      configMount: { configMapName: config.metadata.name, mountPath: ALERTMANAGER_CONFIG_DIR },
      extraVolumes: secret
        ? [{ volume: secret.volume("receivers"), mountPath: RECEIVER_SECRETS_DIR }]
        : [],
      dataDir: ALERTMANAGER_DATA_DIR,
      runAsUser: IMAGES.alertmanager.uid,
      storageSize: args.storageSize ?? ALERTMANAGER_DEFAULTS.storageSize,
      storageClass: args.storageClass,
      // It reads its config and the credential files at start: a change restarts it.
      configHashOf: [config.data, ...(secret ? [secret.content] : [])],
      scrapePort: PORTS.alertmanagerHttp,
      protect: args.protect ?? false,
    });
    this.statefulSet = store.statefulSet;
    this.service = store.service.metadata.name;
    this.host = store.host;
    this.address = pulumi.interpolate`${this.host}:${PORTS.alertmanagerHttp}`;
    this.url = pulumi.interpolate`http://${this.address}`;
    this.registerOutputs({ service: this.service, host: this.host, url: this.url });
  }
}
