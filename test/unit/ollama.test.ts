import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { OllamaArgs } from "../../components/ollama";
import { registeredOfType, setupMocks, unwrap } from "../mocks";
import { parsedStackConfig, stackConfigIssues } from "./stack-config";

const mocks = setupMocks();

type Inputs = Record<string, unknown>;

const ollama = () => import("../../components/ollama");

const baseArgs: OllamaArgs = {
  namespace: "platform",
  instance: "platform",
  resources: { cpu: "1", memory: "4Gi" },
  storageSize: "20Gi",
  storageClass: "local-path",
  models: ["qwen2.5:0.5b"],
};

/** Creates the component and records every child's type, name and resource options. */
async function create(name: string, overrides: Partial<OllamaArgs> = {}) {
  const { Ollama } = await ollama();
  const recorded: { type: string; name: string; opts: pulumi.CustomResourceOptions }[] = [];
  const component = new Ollama(
    name,
    { ...baseArgs, ...overrides },
    {
      transformations: [
        (child) => {
          recorded.push({ type: child.type, name: child.name, opts: child.opts });
          return undefined;
        },
      ],
    },
  );
  return { component, recorded };
}

async function registered(type: string, name: string): Promise<Inputs> {
  const found = (await registeredOfType(mocks, type)).find((resource) => resource.name === name);
  if (!found) throw new Error(`no ${type} named ${name} registered`);
  return found.inputs;
}

function podSpec(workload: Inputs): Inputs {
  return (workload.spec as { template: { spec: Inputs } }).template.spec;
}

function firstContainer(workload: Inputs): Inputs {
  return (podSpec(workload).containers as Inputs[])[0];
}

function envOf(container: Inputs): Record<string, string> {
  return Object.fromEntries(
    (container.env as { name: string; value: string }[]).map((env) => [env.name, env.value]),
  );
}

describe("Ollama server", () => {
  it("runs one non-root pod with HOME and the models on its ReadWriteOnce volume", async () => {
    await create("srv");
    const deployment = await registered("kubernetes:apps/v1:Deployment", "srv");
    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
    const pod = podSpec(deployment);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      fsGroup: 65532,
    });
    const server = firstContainer(deployment);
    expect(server.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(envOf(server)).toMatchObject({ HOME: "/data", OLLAMA_MODELS: "/data/.ollama/models" });
    expect(server.volumeMounts).toContainEqual({ name: "data", mountPath: "/data/.ollama" });
    expect(pod.volumes).toContainEqual({
      name: "data",
      persistentVolumeClaim: { claimName: "srv-data" },
    });
    const claim = await registered("kubernetes:core/v1:PersistentVolumeClaim", "srv-data");
    expect(claim.spec).toEqual({
      accessModes: ["ReadWriteOnce"],
      storageClassName: "local-path",
      resources: { requests: { storage: "20Gi" } },
    });
  });

  it("serves 11434 with HTTP probes, since the image has no curl", async () => {
    const { component } = await create("api");
    expect(await unwrap(component.host)).toBe("http://api.platform.svc:11434");
    const server = firstContainer(await registered("kubernetes:apps/v1:Deployment", "api"));
    expect(server.ports).toEqual([{ name: "http", containerPort: 11434, protocol: "TCP" }]);
    expect(server.readinessProbe).toMatchObject({
      httpGet: { path: "/api/version", port: "http" },
    });
    expect(server.livenessProbe).toMatchObject({ httpGet: { path: "/", port: "http" } });
    const service = await registered("kubernetes:core/v1:Service", "api");
    expect(service.spec).toMatchObject({ ports: [{ port: 11434, targetPort: "http" }] });
  });

  it("takes keep-alive and parallelism from the args, with Ollama's defaults otherwise", async () => {
    await create("tuned", { keepAlive: "30m", numParallel: 4, maxLoadedModels: 2 });
    const tuned = envOf(firstContainer(await registered("kubernetes:apps/v1:Deployment", "tuned")));
    expect(tuned).toMatchObject({
      OLLAMA_KEEP_ALIVE: "30m",
      OLLAMA_NUM_PARALLEL: "4",
      OLLAMA_MAX_LOADED_MODELS: "2",
    });
    await create("plain");
    const plain = envOf(firstContainer(await registered("kubernetes:apps/v1:Deployment", "plain")));
    expect(plain).toMatchObject({ OLLAMA_KEEP_ALIVE: "5m", OLLAMA_NUM_PARALLEL: "1" });
    expect(plain).not.toHaveProperty("OLLAMA_MAX_LOADED_MODELS");
  });

  it("refuses a keep-alive that is not a duration", async () => {
    await expect(create("badkeep", { keepAlive: "five minutes" })).rejects.toThrow(
      /keepAlive: must be a duration/,
    );
  });
});

describe("Ollama GPUs", () => {
  it("CPU-only by default", async () => {
    await create("cpu");
    const deployment = await registered("kubernetes:apps/v1:Deployment", "cpu");
    expect(podSpec(deployment)).not.toHaveProperty("runtimeClassName");
    const server = firstContainer(deployment);
    const limits = (server.resources as { limits: Record<string, string> }).limits;
    expect(Object.keys(limits)).not.toContain("nvidia.com/gpu");
    // The image says NVIDIA_VISIBLE_DEVICES=all; a CPU pod must not see GPUs by accident.
    expect(envOf(server).NVIDIA_VISIBLE_DEVICES).toBe("void");
  });

  it("GPU needs a runtime class", async () => {
    const { ollamaRules } = await ollama();
    const gpuRules = (gpu: OllamaArgs["gpu"]) => ollamaRules({ ...baseArgs, gpu });
    expect(gpuRules({ count: 1 })).toEqual([
      {
        propertyPath: "gpu",
        reason: expect.stringMatching(
          /gpu\.count is 1 but gpu\.runtimeClassName is not set.*set gpu\.runtimeClassName/s,
        ),
      },
    ]);
    expect(gpuRules({ count: 0, runtimeClassName: "nvidia" })).toEqual([
      { propertyPath: "gpu.count", reason: expect.stringMatching(/at least 1/) },
    ]);
    expect(gpuRules({ count: 1, runtimeClassName: "nvidia" })).toEqual([]);
    expect(gpuRules(undefined)).toEqual([]);
    await expect(create("nogpuclass", { gpu: { count: 1 } })).rejects.toThrow(/runtimeClassName/);
  });

  it("with a GPU, sets the runtime class and the nvidia.com/gpu limit", async () => {
    await create("gpu", { gpu: { count: 2, runtimeClassName: "nvidia" } });
    const deployment = await registered("kubernetes:apps/v1:Deployment", "gpu");
    expect(podSpec(deployment).runtimeClassName).toBe("nvidia");
    const server = firstContainer(deployment);
    expect(server.resources).toEqual({
      requests: { cpu: "1", memory: "4Gi" },
      limits: { memory: "4Gi", "nvidia.com/gpu": "2" },
    });
    expect(envOf(server)).not.toHaveProperty("NVIDIA_VISIBLE_DEVICES");
  });
});

describe("Ollama model pull Job", () => {
  it("the model pull Job is renamed when the model list changes", async () => {
    const { modelPullJobName } = await ollama();
    const base = modelPullJobName("ollama", ["qwen2.5:0.5b", "nomic-embed-text"]);
    expect(modelPullJobName("ollama", ["nomic-embed-text", "qwen2.5:0.5b"])).toBe(base);
    expect(modelPullJobName("ollama", ["qwen2.5:0.5b"])).not.toBe(base);
    expect(base).toMatch(/^ollama-pull-[0-9a-f]{8}$/);

    const first = await create("m1", { models: ["qwen2.5:0.5b"] });
    const second = await create("m2", { models: ["qwen2.5:1.5b"] });
    const name = async (component: typeof first.component) =>
      (await unwrap(component.pullJob!.metadata.name)).replace(/^m[12]/, "x");
    expect(await name(first.component)).not.toBe(await name(second.component));
    expect(first.component.modelsReady).toBe(first.component.pullJob);
  });

  it("waits for the server, is retried when it failed, and pulls each model with backoff", async () => {
    const { component, recorded } = await create("pull", {
      models: ["qwen2.5:0.5b", "nomic-embed-text", "qwen2.5:0.5b"],
    });
    const { modelPullJobName } = await ollama();
    const jobName = modelPullJobName("pull", ["qwen2.5:0.5b", "nomic-embed-text"]);
    const options = recorded.find((child) => child.name === jobName)!.opts;
    expect(options.dependsOn).toEqual([component.deployment]);
    expect(options.deleteBeforeReplace).toBe(true);

    const job = await registered("kubernetes:batch/v1:Job", jobName);
    expect(job.metadata).toMatchObject({ annotations: { "pulumi.com/replaceUnready": "true" } });
    const pull = firstContainer(job);
    expect(envOf(pull).OLLAMA_URL).toBe("http://pull.platform.svc:11434");
    const script = (pull.command as string[])[2];
    expect(script).toContain('"$OLLAMA_URL/api/pull"');
    expect(script).toContain('\\"stream\\":false');
    expect(script).toContain("delay=$((delay * 2))");
    expect(script.match(/^pull '/gm)).toHaveLength(2);
    expect(podSpec(job)).toMatchObject({ restartPolicy: "Never" });
  });

  it("without models there is no Job, and modelsReady is the server", async () => {
    const { component } = await create("empty", { models: [] });
    expect(component.modelsReady).toBe(component.deployment);
  });

  it("refuses a model name that could not be a model", async () => {
    await expect(create("badmodel", { models: ["qwen'; rm -rf /"] })).rejects.toThrow(
      /models\.0: "qwen'; rm -rf \/" is not a model name/,
    );
  });
});

describe("Ollama's rules", () => {
  it("valid args have no problem", async () => {
    const { ollamaRules } = await ollama();
    expect(ollamaRules(baseArgs)).toEqual([]);
    const tuned = { keepAlive: "-1", numParallel: 4, maxLoadedModels: 2, pullAttempts: 3 };
    expect(ollamaRules({ ...baseArgs, ...tuned, pullDeadlineSeconds: 600 })).toEqual([]);
  });

  it.each([
    [
      { storageSize: "20 GB" },
      "storageSize",
      /must be a positive quantity such as 20Gi \(got "20 GB"\)/,
    ],
    [{ keepAlive: "five minutes" }, "keepAlive", /must be a duration such as 5m/],
    [{ numParallel: 0 }, "numParallel", /whole number of at least 1 \(got 0\)/],
    [{ maxLoadedModels: 1.5 }, "maxLoadedModels", /whole number of at least 1 \(got 1\.5\)/],
    [{ pullAttempts: -1 }, "pullAttempts", /whole number of at least 1/],
    [{ pullDeadlineSeconds: 0 }, "pullDeadlineSeconds", /whole number of at least 1/],
    [{ models: ["qwen2.5:0.5b", "bad model"] }, "models.1", /"bad model" is not a model name/],
    [{ gpu: { count: 2 } }, "gpu", /gpu\.runtimeClassName is not set/],
    [{ gpu: { count: 0, runtimeClassName: "nvidia" } }, "gpu.count", /at least 1/],
  ])("%j is refused at %s", async (overrides, propertyPath, reason) => {
    const { ollamaRules } = await ollama();
    expect(ollamaRules({ ...baseArgs, ...overrides })).toEqual([
      { propertyPath, reason: expect.stringMatching(reason) },
    ]);
  });

  it("a repeated bad model is reported once, at its first place", async () => {
    const { ollamaRules } = await ollama();
    expect(ollamaRules({ ...baseArgs, models: ["bad model", "ok", "bad model"] })).toEqual([
      { propertyPath: "models.0", reason: expect.stringContaining('"bad model"') },
    ]);
  });

  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const { Ollama } = await ollama();
    let thrown: unknown;
    try {
      new Ollama("refused", { ...baseArgs, storageSize: "lots", gpu: { count: 1 } });
    } catch (error) {
      thrown = error;
    }
    expect(pulumi.InputPropertiesError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({
      errors: [
        expect.objectContaining({ propertyPath: "gpu" }),
        expect.objectContaining({ propertyPath: "storageSize" }),
      ],
    });
    const deployments = await registeredOfType(mocks, "kubernetes:apps/v1:Deployment");
    expect(deployments.filter((resource) => resource.name.startsWith("refused"))).toEqual([]);
  });
});

describe("Ollama's settings in the stack config", () => {
  it("the stack config's settings are the component's", async () => {
    const { argsForOllama } = await import("../../platform/args/ollama");
    const settings = argsForOllama(parsedStackConfig());
    expect(settings).toMatchObject({
      storageClass: "local-path",
      storageSize: "10Gi",
      models: ["qwen2.5:0.5b"],
      keepAlive: "5m",
      numParallel: 1,
      protect: false,
    });
    const { ollamaRules } = await ollama();
    expect(ollamaRules(settings)).toEqual([]);
  });

  it("a GPU without a runtime class is reported at ollama.gpu", () => {
    const issues = stackConfigIssues({ ollama: { gpu: { count: 1 } } });
    expect(issues).toEqual([
      { key: "k3s-platform:ollama.gpu", message: expect.stringMatching(/runtimeClassName/) },
    ]);
  });

  it("a model name longer than Ollama takes is reported at ollama.models.<index>", () => {
    const issues = stackConfigIssues({ ollama: { models: ["qwen2.5:0.5b", "a".repeat(201)] } });
    expect(issues).toEqual([
      { key: "k3s-platform:ollama.models.1", message: expect.stringMatching(/not a model name/) },
    ]);
  });

  it("what the schema refuses first still maps to its key", async () => {
    const { componentProblems } = await import("../../platform/validate");
    const config = parsedStackConfig();
    const ollamaSettings = {
      ...config.ollama,
      storageSize: "lots",
      keepAlive: "a while",
      numParallel: 0,
      gpu: { count: 0 },
    };
    expect(componentProblems({ ...config, ollama: ollamaSettings }).map(({ key }) => key)).toEqual([
      "ollama.gpu.count",
      "ollama.storageSize",
      "ollama.keepAlive",
      "ollama.numParallel",
    ]);
  });
});
