import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "../config";
import { PART_OF } from "./lib/labels";
import { podSecurityLabels } from "./lib/security";

/**
 * What the Platform is made of: the validated stack config less the provider settings, which
 * `index.ts` turns into the explicit provider instead. Each section is documented, with its
 * per-profile defaults, in `config.ts` and the README's config reference.
 */
export type PlatformArgs = Omit<PlatformConfig, "kubernetes">;

/**
 * The whole platform in one component: the namespace and every component of the stack, wired
 * together by their outputs. A new component is one file in `components/` and one line here.
 */
export class Platform extends pulumi.ComponentResource {
  /** Namespace every platform workload runs in (Pod Security `restricted`). */
  public readonly namespace: pulumi.Output<string>;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:platform:Platform", name, {}, opts);

    const namespace = new k8s.core.v1.Namespace(
      "namespace",
      {
        metadata: {
          name: args.namespace,
          labels: {
            ...podSecurityLabels("restricted"),
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "pulumi",
          },
        },
      },
      { parent: this },
    );
    this.namespace = namespace.metadata.name;

    this.registerOutputs({ namespace: this.namespace });
  }
}
