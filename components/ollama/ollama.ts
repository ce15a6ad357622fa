import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imageRef, tagOf } from "../../core/images";
import type { WorkloadIdentity } from "../../policy/model/labels";
import { keepData, serviceArgs } from "../lib/stateful";
import { assertValidArgs } from "../lib/validation";
import { OLLAMA_DEFAULTS, ollamaRules, uniqueModels, type OllamaArgs } from "./args";
import {
  modelPullJob,
  modelPullJobName,
  OLLAMA_PORT,
  ollamaDataClaim,
  ollamaDeployment,
} from "./builders";

/** Labels of the server's pods and of the pull Job's pods. */
export interface OllamaIdentities {
  server: WorkloadIdentity;
  pullJob: WorkloadIdentity;
}

/**
 * Ollama, the local LLM server: one pod with its models on a PVC, a Service on 11434, optional
 * NVIDIA GPUs, and a Job that pulls the configured models once per model list. The app's worker
 * waits for {@link modelsReady}.
 */
export class Ollama extends pulumi.ComponentResource {
  /** `http://<service>.<namespace>.svc:11434`: the app's `OLLAMA_HOST`. */
  public readonly host: pulumi.Output<string>;
  /** Labels of the server's pods and of the pull Job's pods, for network policies. */
  public readonly identities: OllamaIdentities;
  /** The Deployment, for `dependsOn`. */
  public readonly deployment: k8s.apps.v1.Deployment;
  /** The pull Job (the Deployment when no model is configured): wait on it for the models. */
  public readonly modelsReady: pulumi.Resource;
  /** The pull Job, when there are models to pull. */
  public readonly pullJob?: k8s.batch.v1.Job;

  constructor(name: string, args: OllamaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("k3s-platform:ai:Ollama", name, {}, opts);
    assertValidArgs("Ollama", ollamaRules(args));
    const image = args.image ?? imageRef("ollama");
    const pullImage = args.pullImage ?? imageRef("curl");
    const instance = args.instance ?? name;
    this.identities = {
      server: { name: "ollama", component: "llm", instance, version: tagOf(image) },
      pullJob: {
        name: "ollama-pull",
        component: "llm-models",
        instance,
        version: tagOf(pullImage),
      },
    };
    const child = { parent: this };

    const claim = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-data`,
      ollamaDataClaim(`${name}-data`, args.namespace, this.identities.server, args),
      { ...child, ...keepData(args.protect ?? OLLAMA_DEFAULTS.protect) },
    );
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      ollamaDeployment({
        name,
        namespace: args.namespace,
        identity: this.identities.server,
        image,
        args,
        claimName: claim.metadata.name,
      }),
      child,
    );
    const service = new k8s.core.v1.Service(
      name,
      serviceArgs(name, args.namespace, this.identities.server, [
        { name: "http", port: OLLAMA_PORT },
      ]),
      child,
    );
    const { name: svc, namespace: svcNamespace } = service.metadata;
    this.host = pulumi.interpolate`http://${svc}.${svcNamespace}.svc:${OLLAMA_PORT}`;

    this.pullJob = this.pullModels(name, args, pullImage);
    this.modelsReady = this.pullJob ?? this.deployment;

    this.registerOutputs({ host: this.host });
  }

  /** The Job that pulls the models, when there are any; it is named by the model list. */
  private pullModels(
    name: string,
    args: OllamaArgs,
    pullImage: string,
  ): k8s.batch.v1.Job | undefined {
    const models = uniqueModels(args.models);
    if (models.length === 0) return undefined;
    const jobName = modelPullJobName(name, models);
    return new k8s.batch.v1.Job(
      jobName,
      modelPullJob({
        name: jobName,
        namespace: args.namespace,
        identity: this.identities.pullJob,
        image: pullImage,
        url: this.host,
        models,
        attempts: args.pullAttempts ?? OLLAMA_DEFAULTS.pullAttempts,
        activeDeadlineSeconds: args.pullDeadlineSeconds ?? OLLAMA_DEFAULTS.pullDeadlineSeconds,
      }),
      // The server must be up to take the pulls; a retried Job keeps its name, so the old one
      // must go first.
      { parent: this, dependsOn: [this.deployment], deleteBeforeReplace: true },
    );
  }
}
