import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type * as AppModule from "../../components/app";
import type { AppArgs, AppSettings } from "../../components/app";
import { literalCredential } from "../../policy/lib/credentials";
import { DOCKER_IMAGE_TYPE } from "../../tools/lib/mocks";
import { registeredOfType, setupMocks, unwrap } from "../mocks";
import { encodeStackConfig, rawConfigIssues, REQUIRED_STACK_VALUES } from "./stack-config";

const mocks = setupMocks();

const DIGEST = `sha256:${"a".repeat(64)}`;
/** Pulumi's wire marker of a secret value, as the mocks receive it. */
const SECRET_SIGNATURE_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface DeploymentInputs {
  metadata: { name: string };
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        automountServiceAccountToken: boolean;
        serviceAccountName?: string;
        terminationGracePeriodSeconds: number;
        containers: {
          image: string;
          env: EnvVar[];
          lifecycle?: { preStop: { sleep: { seconds: number } } };
          readinessProbe: unknown;
          livenessProbe: unknown;
        }[];
      };
    };
  };
}

/** The platform's Secrets the app reads, as their owners would hand them over. */
async function platformSecrets(prefix: string, redisPassword = "redis-pw") {
  const { PlatformSecret } = await import("../../components/lib/secrets");
  const secret = (name: string, data: Record<string, string>) =>
    new PlatformSecret(`${prefix}-${name}`, { namespace: "platform", labels: {}, data }, {});
  const pgbouncer = secret("pgbouncer", { url: "postgres://app:pw@pgbouncer:6432/app" });
  const postgres = secret("postgres", { url: "postgres://app:pw@postgres:5432/app" });
  const redis = secret("dragonfly", { url: `redis://:${redisPassword}@dragonfly:6379` });
  const s3 = secret("s3", { accessKey: "app", secretKey: "s3-secret" });
  return {
    databaseUrl: pgbouncer.key("url"),
    databaseDirectUrl: postgres.key("url"),
    redisUrl: redis.key("url"),
    accessKeyId: s3.key("accessKey"),
    secretAccessKey: s3.key("secretKey"),
  };
}

/** An App with realistic wiring; `overrides` replace top-level args. */
async function makeApp(name: string, overrides: Partial<AppArgs> = {}, redisPassword?: string) {
  const app: typeof AppModule = await import("../../components/app");
  const k8s = await import("@pulumi/kubernetes");
  const secrets = await platformSecrets(name, redisPassword);
  const migrationsJob = new k8s.batch.v1.Job(`${name}-migrations`, {
    metadata: { name: `${name}-migrations`, namespace: "platform" },
    spec: { template: { spec: { containers: [], restartPolicy: "Never" } } },
  });
  const modelPull = new k8s.batch.v1.Job(`${name}-model-pull`, {
    metadata: { name: `${name}-model-pull`, namespace: "platform" },
    spec: { template: { spec: { containers: [], restartPolicy: "Never" } } },
  });
  const args: AppArgs = {
    namespace: "platform",
    profile: "dev",
    image: "registry.example.com/acme/app:1.4.0",
    ingress: { host: "platform.example.com", tlsSecretName: "platform-tls" },
    databaseUrl: secrets.databaseUrl,
    databaseDirectUrl: secrets.databaseDirectUrl,
    redisUrl: secrets.redisUrl,
    otlpEndpoint: "http://otel-collector.platform.svc:4318",
    temporal: { address: "temporal-frontend.platform.svc:7233" },
    s3: {
      endpoint: "http://minio.platform.svc:9000",
      bucket: "app",
      accessKeyId: secrets.accessKeyId,
      secretAccessKey: secrets.secretAccessKey,
    },
    ollamaHost: "http://ollama.platform.svc:11434",
    arcjetKey: pulumi.secret("ajkey_live_0123456789"),
    migrationsJob,
    workerDependsOn: [modelPull],
    ...overrides,
  };
  return { component: new app.App(name, args), migrationsJob, modelPull, secrets, module: app };
}

async function deployment(name: string): Promise<DeploymentInputs> {
  const found = (await registeredOfType(mocks, "kubernetes:apps/v1:Deployment")).find(
    (r) => r.name === name,
  );
  if (!found) throw new Error(`no Deployment ${name}`);
  return found.inputs as unknown as DeploymentInputs;
}

function envOf(d: DeploymentInputs): EnvVar[] {
  return d.spec.template.spec.containers[0].env;
}

describe("the app's environment contract", () => {
  it("web and worker both get every variable of the contract, credentials only via secretKeyRef", async () => {
    const { module } = await makeApp("contract");
    const credentials = module.APP_ENV_VARIABLES.filter((v) => v.credential).map((v) => v.name);
    for (const name of ["contract-web", "contract-worker"]) {
      const env = envOf(await deployment(name));
      const names = env.map((e) => e.name);
      expect(names).toEqual(expect.arrayContaining(module.contractFor(false)));
      for (const variable of credentials.filter((v) => names.includes(v))) {
        const entry = env.find((e) => e.name === variable);
        expect(entry?.value, `${name} ${variable}`).toBeUndefined();
        expect(entry?.valueFrom?.secretKeyRef?.name, `${name} ${variable}`).toBeTruthy();
      }
      for (const entry of env.filter((e) => e.value !== undefined)) {
        expect(
          literalCredential(entry.name, entry.value ?? ""),
          `${name} ${entry.name}`,
        ).toBeUndefined();
      }
    }
  });

  it("the contract is the documented list (plus AWS_REGION), the names the README documents", async () => {
    const { APP_ENV_CONTRACT } = await import("../../components/app");
    expect(APP_ENV_CONTRACT).toEqual([
      "DATABASE_URL",
      "DATABASE_DIRECT_URL",
      "REDIS_URL",
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "OTEL_SERVICE_NAME",
      "OTEL_RESOURCE_ATTRIBUTES",
      "TEMPORAL_ADDRESS",
      "TEMPORAL_NAMESPACE",
      "S3_ENDPOINT",
      "S3_BUCKET",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_REGION",
      "OLLAMA_HOST",
      "ARCJET_KEY",
      "DEPLOY_NAMESPACES",
      "APPS_DOMAIN",
    ]);
  });

  it("only the worker learns where it may deploy (DEPLOY_NAMESPACES, APPS_DOMAIN), and only when given targets", async () => {
    const { module } = await makeApp("targets", {
      deployNamespaces: ["targets-apps", "team-b"],
      appsDomain: "apps.example.com",
    });
    const worker = envOf(await deployment("targets-worker"));
    expect(worker.find((e) => e.name === "DEPLOY_NAMESPACES")?.value).toBe("targets-apps,team-b");
    expect(worker.find((e) => e.name === "APPS_DOMAIN")?.value).toBe("apps.example.com");
    expect(worker.map((e) => e.name)).toEqual(
      expect.arrayContaining(module.contractFor(false, true, true)),
    );
    const web = envOf(await deployment("targets-web")).map((e) => e.name);
    expect(web).not.toContain("DEPLOY_NAMESPACES");
    expect(web).not.toContain("APPS_DOMAIN");
    expect(module.contractFor(false, true, false)).not.toContain("DEPLOY_NAMESPACES");

    await makeApp("untargeted");
    const untargeted = envOf(await deployment("untargeted-worker")).map((e) => e.name);
    expect(untargeted).not.toContain("DEPLOY_NAMESPACES");
  });

  it("the app never connects to Postgres directly unless direct access is turned on", async () => {
    await makeApp("pooled");
    const { secrets } = await makeApp("direct", { directDatabaseAccess: true });
    for (const name of ["pooled-web", "pooled-worker"]) {
      expect(envOf(await deployment(name)).map((e) => e.name)).not.toContain("DATABASE_DIRECT_URL");
    }
    const directName = await unwrap(pulumi.output(secrets.databaseDirectUrl.secretName));
    for (const name of ["direct-web", "direct-worker"]) {
      const entry = envOf(await deployment(name)).find((e) => e.name === "DATABASE_DIRECT_URL");
      expect(entry?.valueFrom?.secretKeyRef).toEqual({ name: directName, key: "url" });
    }
    const pooled = envOf(await deployment("pooled-web")).find((e) => e.name === "DATABASE_URL");
    expect(pooled?.valueFrom?.secretKeyRef?.name).toBe("pooled-pgbouncer");
  });

  it("OTel resource attributes name the profile, the service and the pod (downward API)", async () => {
    await makeApp("otel");
    const env = envOf(await deployment("otel-worker"));
    const get = (n: string) => env.find((e) => e.name === n);
    expect(get("OTEL_SERVICE_NAME")?.value).toBe("worker");
    const attributes = get("OTEL_RESOURCE_ATTRIBUTES")?.value ?? "";
    expect(attributes).toContain("deployment.environment=dev");
    expect(attributes).toContain("service.namespace=otel");
    expect(attributes).toContain("k8s.pod.name=$(K8S_POD_NAME)");
    // $(VAR) expands only to variables defined earlier in the list.
    const index = (n: string) => env.findIndex((e) => e.name === n);
    expect(index("K8S_POD_NAME")).toBeLessThan(index("OTEL_RESOURCE_ATTRIBUTES"));
    expect(get("K8S_POD_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
  });

  it("ARCJET_KEY comes from the app's own Secret, filled from the Pulumi secret", async () => {
    await makeApp("arcjet");
    const secret = (await registeredOfType(mocks, "kubernetes:core/v1:Secret")).find(
      (r) => r.name === "arcjet-arcjet",
    );
    expect(secret).toBeDefined();
    const entry = envOf(await deployment("arcjet-web")).find((e) => e.name === "ARCJET_KEY");
    expect(entry?.valueFrom?.secretKeyRef).toEqual({ name: "arcjet-arcjet", key: "key" });
  });

  it("without an Arcjet key the app gets no ARCJET_KEY and no Arcjet Secret", async () => {
    await makeApp("no-arcjet", { arcjetKey: undefined });
    const secret = (await registeredOfType(mocks, "kubernetes:core/v1:Secret")).find(
      (r) => r.name === "no-arcjet-arcjet",
    );
    expect(secret).toBeUndefined();
    for (const name of ["no-arcjet-web", "no-arcjet-worker"]) {
      expect(envOf(await deployment(name)).map((e) => e.name)).not.toContain("ARCJET_KEY");
    }
  });

  it("a changed credential changes the config hash of both pod templates", async () => {
    await makeApp("hash-a", {}, "first-password");
    await makeApp("hash-b", {}, "second-password");
    const hash = async (name: string) =>
      (await deployment(name)).spec.template.metadata.annotations["k3s-platform/config-hash"];
    expect(await hash("hash-a-web")).toMatch(/^[0-9a-f]{16}$/);
    expect(await hash("hash-a-web")).not.toBe(await hash("hash-b-web"));
    expect(await hash("hash-a-worker")).not.toBe(await hash("hash-b-worker"));
    const annotations = (await deployment("hash-a-web")).spec.template.metadata.annotations;
    expect(annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9464",
    });
  });
});

describe("the app image", () => {
  it("prod refuses a tag-only image; a digest, or a build, is accepted", async () => {
    const { appImageRules } = await import("../../components/app");
    const rules = (
      profile: "dev" | "prod",
      image: string | undefined,
      build?: { registry: { server: string }; repository: string },
    ) => appImageRules({ profile, image, build });
    expect(rules("prod", "registry.example.com/acme/app:1.4.0")).toEqual([
      { propertyPath: "image", reason: expect.stringMatching(/digest in prod/) },
    ]);
    expect(rules("prod", `registry.example.com/acme/app:1.4.0@${DIGEST}`)).toEqual([]);
    expect(rules("dev", "registry.example.com/acme/app:1.4.0")).toEqual([]);
    expect(rules("dev", "registry.example.com/acme/app:latest")).toEqual([
      { propertyPath: "image", reason: expect.stringMatching(/must name one build/) },
    ]);
    expect(rules("dev", "registry:5000/acme/app")).toEqual([
      { propertyPath: "image", reason: expect.stringMatching(/not "no tag"/) },
    ]);
    expect(rules("dev", "registry.example.com/acme/app@sha256:abc")).toEqual([
      { propertyPath: "image", reason: expect.stringMatching(/malformed digest/) },
    ]);
    const build = { registry: { server: "ghcr.io" }, repository: "acme/app" };
    expect(rules("prod", undefined, build)).toEqual([]);
    expect(rules("prod", "x:1", build)).toEqual([
      { propertyPath: "image", reason: expect.stringMatching(/not both/) },
    ]);
    expect(rules("prod", undefined)).toEqual([
      { propertyPath: "image", reason: expect.stringMatching(/is required/) },
    ]);
    expect(
      rules("dev", undefined, { registry: { server: "https://ghcr.io" }, repository: "acme/app" }),
    ).toEqual([
      { propertyPath: "build.registry.server", reason: expect.stringMatching(/without a scheme/) },
    ]);
    expect(
      rules("dev", undefined, { registry: { server: "ghcr.io" }, repository: "Acme/App" }),
    ).toEqual([
      { propertyPath: "build.repository", reason: expect.stringMatching(/lowercase repository/) },
    ]);
    // A repository that repeats the registry host would be pushed to server/server/path.
    for (const repository of [
      "registry.example.com/platform/app",
      "localhost:5000/app",
      "localhost/app",
    ]) {
      expect(
        rules("prod", undefined, { registry: { server: "registry.example.com" }, repository }),
      ).toEqual([
        {
          propertyPath: "build.repository",
          reason: expect.stringMatching(
            /without a registry host: the image is pushed to registry\.example\.com\/<repository>/,
          ),
        },
      ]);
    }
    expect(
      rules("prod", undefined, { registry: { server: "ghcr.io" }, repository: "acme.corp/app" }),
    ).toHaveLength(1);
    expect(
      rules("prod", undefined, { registry: { server: "ghcr.io" }, repository: "acme/app.web" }),
    ).toEqual([]);
  });

  it("the component refuses a tag-only image in prod before creating any of its resources", async () => {
    await expect(
      makeApp("prod-tag", {
        profile: "prod",
        image: "registry.example.com/acme/app:1.4.0",
        web: { minReplicas: 2 },
      }),
    ).rejects.toThrow(/digest in prod/);
  });

  it("a built image is deployed by its repo digest", async () => {
    const { component } = await makeApp("built", {
      image: undefined,
      profile: "prod",
      build: {
        context: "app",
        registry: {
          server: "registry.example.com",
          username: "ci",
          password: pulumi.secret("token"),
        },
        repository: "acme/app",
      },
    });
    const reference = await unwrap(component.image);
    expect(reference).toMatch(/^registry\.example\.com\/acme\/app@sha256:[0-9a-f]{64}$/);
    for (const name of ["built-web", "built-worker"]) {
      expect((await deployment(name)).spec.template.spec.containers[0].image).toBe(reference);
    }
    const [image] = (await registeredOfType(mocks, DOCKER_IMAGE_TYPE)).filter(
      (r) => r.name === "built-image",
    );
    expect(image.inputs).toMatchObject({
      imageName: "registry.example.com/acme/app:test",
      build: { context: "app", dockerfile: "app/Dockerfile", platform: "linux/amd64" },
    });
    // The registry block carries the password, so the whole block travels as a Pulumi secret.
    expect(image.inputs.registry).toMatchObject({
      [SECRET_SIGNATURE_KEY]: SECRET_SIGNATURE,
      value: { server: "registry.example.com", username: "ci", password: "token" },
    });
  });
});

describe("web: Ingress, scaling, termination", () => {
  it("the Ingress routes /api and /trpc to the web Service, with Traefik's SSE-safe router settings", async () => {
    const { component, module } = await makeApp("ingress");
    const service = await unwrap(component.webService);
    const [ingress] = (
      await registeredOfType(mocks, "kubernetes:networking.k8s.io/v1:Ingress")
    ).filter((r) => r.name === "ingress");
    const inputs = ingress.inputs as {
      metadata: { annotations: Record<string, string> };
      spec: {
        ingressClassName: string;
        tls: { hosts: string[]; secretName: string }[];
        rules: {
          host: string;
          http: { paths: { path: string; pathType: string; backend: unknown }[] };
        }[];
      };
    };
    expect(inputs.spec.ingressClassName).toBe("traefik");
    expect(inputs.spec.tls).toEqual([
      { hosts: ["platform.example.com"], secretName: "platform-tls" },
    ]);
    const paths = inputs.spec.rules[0].http.paths;
    expect(paths.map((p) => [p.path, p.pathType])).toEqual([
      ["/api", "Prefix"],
      ["/trpc", "Prefix"],
    ]);
    for (const p of paths) {
      expect(p.backend).toEqual({ service: { name: service, port: { name: "http" } } });
    }
    expect(inputs.metadata.annotations).toEqual({
      "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
      "traefik.ingress.kubernetes.io/router.tls": "true",
      [module.STREAMING_PATHS_ANNOTATION]: "/trpc",
    });
    // No middleware at all: a buffering or compress middleware would hold SSE frames back.
    expect(Object.keys(inputs.metadata.annotations)).not.toContain(
      "traefik.ingress.kubernetes.io/router.middlewares",
    );
    expect(module.TRAEFIK_SSE_HELM_CHART_CONFIG).toMatch(/websecure:[\s\S]*readTimeout: 3600s/);
    expect(await unwrap(component.url)).toBe("https://platform.example.com");
  });

  it("the HPA's minReplicas keeps the PDB satisfiable, and the Deployment leaves replicas to it", async () => {
    await makeApp("scale", { profile: "dev", web: { minReplicas: 1, maxReplicas: 4 } });
    const [hpa] = (
      await registeredOfType(mocks, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    ).filter((r) => r.name === "scale-web");
    const spec = hpa.inputs.spec as {
      minReplicas: number;
      maxReplicas: number;
      scaleTargetRef: { name: string };
    };
    expect(spec).toMatchObject({
      minReplicas: 1,
      maxReplicas: 4,
      scaleTargetRef: { name: "scale-web" },
    });
    const pdbs = await registeredOfType(mocks, "kubernetes:policy/v1:PodDisruptionBudget");
    const pdb = pdbs.find((r) => r.name === "scale-web")?.inputs.spec as {
      maxUnavailable?: number;
      minAvailable?: number;
      selector: { matchLabels: Record<string, string> };
    };
    // Evictions allowed at the HPA's floor: at least one, or a drain would hang.
    const allowed = pdb.maxUnavailable ?? spec.minReplicas - (pdb.minAvailable ?? spec.minReplicas);
    expect(allowed).toBeGreaterThanOrEqual(1);
    const web = await deployment("scale-web");
    expect(pdb.selector.matchLabels).toEqual(web.spec.selector.matchLabels);
    expect(web.spec.replicas).toBeUndefined();
  });

  it("terminates gracefully: preStop sleep, then a grace period long enough to drain", async () => {
    await makeApp("grace", { web: { preStopSeconds: 15, terminationGracePeriodSeconds: 60 } });
    const web = await deployment("grace-web");
    expect(web.spec.template.spec.containers[0].lifecycle).toEqual({
      preStop: { sleep: { seconds: 15 } },
    });
    expect(web.spec.template.spec.terminationGracePeriodSeconds).toBe(60);
    const { appRules } = await import("../../components/app");
    const args = await baseArgs();
    expect(
      appRules({ ...args, web: { preStopSeconds: 30, terminationGracePeriodSeconds: 30 } }),
    ).toEqual([
      {
        propertyPath: "web.terminationGracePeriodSeconds",
        reason: expect.stringMatching(/must exceed preStopSeconds/),
      },
    ]);
  });
});

describe("rollout order", () => {
  it("both Deployments wait for the migrations Job; the worker also for its own dependencies", async () => {
    const { component, migrationsJob, modelPull } = await makeApp("order");
    expect(component.rollout.web).toContain(migrationsJob);
    expect(component.rollout.worker).toContain(migrationsJob);
    expect(component.rollout.worker).toContain(modelPull);
    expect(component.rollout.web).not.toContain(modelPull);
  });

  it("the engine is told so: the Deployments' dependsOn holds the migrations Job", async () => {
    // Mocks never see resource options; a stack transformation does.
    const dependsOn = new Map<string, unknown[]>();
    let made: Awaited<ReturnType<typeof makeApp>> | undefined;
    await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation((resource) => {
        const deps = resource.opts.dependsOn;
        dependsOn.set(`${resource.type}::${resource.name}`, Array.isArray(deps) ? deps : []);
        return undefined;
      });
      made = await makeApp("graph");
      return {};
    });
    const web = dependsOn.get("kubernetes:apps/v1:Deployment::graph-web");
    const worker = dependsOn.get("kubernetes:apps/v1:Deployment::graph-worker");
    expect(web).toContain(made?.migrationsJob);
    expect(worker).toContain(made?.migrationsJob);
    expect(worker).toContain(made?.modelPull);
  });

  it("the worker mounts an API token only with its own ServiceAccount, and has no Service", async () => {
    await makeApp("plain");
    await makeApp("deployer", { workerServiceAccountName: "deployer-worker" });
    expect((await deployment("plain-worker")).spec.template.spec.automountServiceAccountToken).toBe(
      false,
    );
    const worker = (await deployment("deployer-worker")).spec.template.spec;
    expect(worker).toMatchObject({
      serviceAccountName: "deployer-worker",
      automountServiceAccountToken: true,
    });
    const services = await registeredOfType(mocks, "kubernetes:core/v1:Service");
    expect(services.map((s) => s.name).filter((n) => n.includes("worker"))).toEqual([]);
  });
});

/** Valid settings of a dev App, which each rule's case below breaks in one place. */
function settings(overrides: Partial<AppSettings> = {}): AppSettings {
  return {
    profile: "dev",
    image: "registry.example.com/acme/app:1.4.0",
    ingress: { host: "platform.example.com" },
    ...overrides,
  };
}

const PROD_IMAGE = `registry.example.com/acme/app:1.4.0@${DIGEST}`;

/** One broken setting per rule: the settings, the argument path reported, and why. */
const BROKEN: [string, Partial<AppSettings>, string, RegExp][] = [
  ["no image and no build", { image: undefined }, "image", /is required/],
  ["a floating tag", { image: "registry.example.com/acme/app:latest" }, "image", /one build/],
  [
    "a registry with a scheme",
    {
      image: undefined,
      build: { context: ".", registry: { server: "https://x.io" }, repository: "a/b" },
    },
    "build.registry.server",
    /without a scheme/,
  ],
  [
    "an uppercase repository",
    { image: undefined, build: { context: ".", registry: { server: "x.io" }, repository: "A/B" } },
    "build.repository",
    /lowercase/,
  ],
  ["no web replica", { web: { minReplicas: 0 } }, "web.minReplicas", /whole number ≥ 1/],
  [
    "one web replica in prod",
    {
      profile: "prod",
      image: PROD_IMAGE,
      ingress: { host: "a.b", tlsSecretName: "tls" },
      web: { minReplicas: 1 },
    },
    "web.minReplicas",
    /≥ 2 in prod/,
  ],
  [
    "an HPA ceiling below its floor",
    { web: { minReplicas: 3, maxReplicas: 2 } },
    "web.maxReplicas",
    /at least minReplicas \(2 < 3\)/,
  ],
  [
    "a CPU target over 100%",
    { web: { targetCpuUtilization: 120 } },
    "web.targetCpuUtilization",
    /1–100/,
  ],
  [
    "a negative preStop sleep",
    { web: { preStopSeconds: -1 } },
    "web.preStopSeconds",
    /whole number ≥ 0/,
  ],
  [
    "a grace period within the preStop sleep",
    { web: { preStopSeconds: 30, terminationGracePeriodSeconds: 30 } },
    "web.terminationGracePeriodSeconds",
    /must exceed preStopSeconds/,
  ],
  [
    "a relative readiness path",
    { web: { probes: { readiness: { path: "readyz" } } } },
    "web.probes.readiness.path",
    /start with "\/"/,
  ],
  [
    "a relative liveness path",
    { web: { probes: { liveness: { path: "healthz" } } } },
    "web.probes.liveness.path",
    /start with "\/"/,
  ],
  [
    "a probe with both a path and a command",
    { web: { probes: { startup: { path: "/up", exec: ["true"] } } } },
    "web.probes.startup.path",
    /set exactly one/,
  ],
  [
    "a probe with neither a path nor a command",
    { worker: { probes: { readiness: {} } } },
    "worker.probes.readiness.path",
    /set exactly one/,
  ],
  [
    "an exec probe with a port",
    { worker: { probes: { liveness: { exec: ["true"], port: 8080 } } } },
    "worker.probes.liveness.port",
    /for path probes/,
  ],
  [
    "an empty exec probe",
    { worker: { probes: { liveness: { exec: [] } } } },
    "worker.probes.liveness.exec",
    /a command and its arguments/,
  ],
  [
    "a probe port out of range",
    { web: { probes: { readiness: { path: "/ready", port: 70000 } } } },
    "web.probes.readiness.port",
    /from 1 to 65535/,
  ],
  [
    "web liveness that is readiness",
    { web: { probes: { readiness: { path: "/ready" }, liveness: { path: "/ready" } } } },
    "web.probes.liveness",
    /differ from readiness/,
  ],
  ["a web port out of range", { web: { port: 0 } }, "web.port", /from 1 to 65535/],
  ["no worker", { worker: { replicas: 0 } }, "worker.replicas", /whole number ≥ 1/],
  [
    "a relative worker readiness path",
    { worker: { probes: { readiness: { path: "readyz" } } } },
    "worker.probes.readiness.path",
    /start with "\/"/,
  ],
  [
    "worker liveness that is readiness",
    { worker: { probes: { readiness: { exec: ["ok"] }, liveness: { exec: ["ok"] } } } },
    "worker.probes.liveness",
    /differ from readiness/,
  ],
  [
    "an empty worker command",
    { worker: { command: ["node", ""] } },
    "worker.command",
    /none empty/,
  ],
  ["a root group", { gid: 0 }, "gid", /from 1 to 2147483647/],
  [
    "metrics on the web port",
    { metrics: { port: 3001 } },
    "web.port",
    /must differ from the metrics port \(3001\)/,
  ],
  [
    "metrics on the worker's health port",
    { worker: { healthPort: 9464 } },
    "worker.healthPort",
    /must differ from the metrics port \(9464\)/,
  ],
  [
    "both an existing pull Secret and credentials",
    { pull: { imagePullSecret: true, credentials: true } },
    "imagePullSecret",
    /not both/,
  ],
  [
    "prod without TLS",
    { profile: "prod", image: PROD_IMAGE, web: { minReplicas: 2 } },
    "ingress.tlsSecretName",
    /required in prod/,
  ],
];

describe("the app's rules", () => {
  it.each(BROKEN)("refuse %s", async (_name, overrides, propertyPath, reason) => {
    const { appRules } = await import("../../components/app");
    expect(appRules(settings(overrides))).toEqual([
      { propertyPath, reason: expect.stringMatching(reason) },
    ]);
  });

  it("accept valid dev and prod settings, and a build instead of an image", async () => {
    const { appRules } = await import("../../components/app");
    expect(appRules(settings())).toEqual([]);
    expect(appRules(settings({ metrics: false }))).toEqual([]);
    const prod = { profile: "prod" as const, ingress: { host: "a.b", tlsSecretName: "tls" } };
    expect(appRules(settings({ ...prod, image: PROD_IMAGE }))).toEqual([]);
    const build = { context: ".", registry: { server: "registry.local:5000" }, repository: "a/b" };
    expect(appRules(settings({ ...prod, image: undefined, build }))).toEqual([]);
  });

  it("direct database access needs the direct URL, deploy namespaces their domain (wiring rules)", async () => {
    const { appWiringRules } = await import("../../components/app");
    const { databaseDirectUrl } = await platformSecrets("wiring");
    expect(appWiringRules({ directDatabaseAccess: true })).toEqual([
      { propertyPath: "databaseDirectUrl", reason: expect.stringMatching(/directDatabaseAccess/) },
    ]);
    expect(appWiringRules({ directDatabaseAccess: true, databaseDirectUrl })).toEqual([]);
    expect(appWiringRules({})).toEqual([]);
    expect(appWiringRules({ deployNamespaces: ["apps"] })).toEqual([
      { propertyPath: "appsDomain", reason: expect.stringMatching(/with deployNamespaces/) },
    ]);
    expect(appWiringRules({ deployNamespaces: ["apps"], appsDomain: "apps.a.b" })).toEqual([]);
  });

  it("defaults follow the profile; the stack's defaults are the App's own", async () => {
    const { resolveApp, APP_DEFAULTS } = await import("../../components/app");
    const { PROFILE_DEFAULTS } = await import("../../config");
    expect(resolveApp(settings()).web).toMatchObject({ minReplicas: 1, maxReplicas: 3 });
    const prod = resolveApp(settings({ profile: "prod" }));
    expect(prod.web).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    expect(prod.worker.replicas).toBe(2);
    for (const profile of ["dev", "prod"] as const) {
      expect(PROFILE_DEFAULTS[profile].app).toMatchObject({
        web: {
          minReplicas: APP_DEFAULTS.web.minReplicas[profile],
          maxReplicas: APP_DEFAULTS.web.maxReplicas[profile],
        },
        worker: { replicas: APP_DEFAULTS.worker.replicas[profile] },
      });
    }
  });

  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const { App } = await import("../../components/app");
    const args = await baseArgs();
    const bad = {
      ...args,
      web: { minReplicas: 3, maxReplicas: 2 },
      directDatabaseAccess: true,
    };
    let error: unknown;
    try {
      new App("refused", bad);
    } catch (caught) {
      error = caught;
    }
    expect(pulumi.InputPropertiesError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      errors: [
        expect.objectContaining({ propertyPath: "web.maxReplicas" }),
        expect.objectContaining({ propertyPath: "databaseDirectUrl" }),
      ],
    });
    const children = [
      ...(await registeredOfType(mocks, "kubernetes:apps/v1:Deployment")),
      ...(await registeredOfType(mocks, "kubernetes:core/v1:Secret")),
    ].filter((r) => r.name.startsWith("refused"));
    expect(children).toEqual([]);
  });
});

const PROD_STACK = {
  ...REQUIRED_STACK_VALUES.prod,
  profile: "prod",
  app: { image: PROD_IMAGE },
};

/** A bad stack config, and the one key its App problem must be reported at. */
const STACK_CASES: [string, Record<string, unknown>, string, RegExp][] = [
  ["a floating tag", { profile: "dev", app: { image: "r.io/a:latest" } }, "app.image", /one build/],
  [
    "a registry with a scheme",
    {
      profile: "dev",
      app: { build: { context: ".", registry: { server: "https://r.io" }, repository: "a/b" } },
    },
    "app.build.registry.server",
    /without a scheme/,
  ],
  [
    "an uppercase repository",
    {
      profile: "dev",
      app: { build: { context: ".", registry: { server: "r.io" }, repository: "A/b" } },
    },
    "app.build.repository",
    /lowercase/,
  ],
  [
    "one web replica in prod",
    { ...PROD_STACK, app: { image: PROD_IMAGE, web: { minReplicas: 1 } } },
    "app.web.minReplicas",
    /≥ 2 in prod/,
  ],
  [
    "an HPA ceiling below its floor",
    { profile: "dev", app: { image: "r.io/a:1.0.0", web: { minReplicas: 3, maxReplicas: 2 } } },
    "app.web.maxReplicas",
    /at least minReplicas/,
  ],
  [
    "prod without the cluster's TLS Secret",
    {
      ...PROD_STACK,
      cluster: { ...(REQUIRED_STACK_VALUES.prod.cluster as object), tlsSecretName: undefined },
    },
    "cluster.tlsSecretName",
    /required in prod/,
  ],
];

describe("the app's stack check", () => {
  it.each(STACK_CASES)("reports %s once, at its stack key", (_name, values, key, reason) => {
    // Taken as given: no required key filled in.
    const issues = rawConfigIssues(encodeStackConfig(values));
    expect(issues).toEqual([
      { key: `k3s-platform:${key}`, message: expect.stringMatching(reason) },
    ]);
  });

  it("a valid prod stack gives the App valid settings", async () => {
    const { parseConfig } = await import("../../config");
    const { argsForApp } = await import("../../platform/args/app");
    const { appRules } = await import("../../components/app");
    const app = argsForApp(parseConfig(encodeStackConfig(PROD_STACK)));
    expect(app).toMatchObject({
      profile: "prod",
      web: { minReplicas: 2, maxReplicas: 10 },
      ingress: { host: "app.platform.example.com", tlsSecretName: "platform-tls" },
    });
    expect(appRules(app)).toEqual([]);
  });
});

/** Minimal valid args for the pure resolver. */
async function baseArgs(): Promise<AppArgs> {
  const secrets = await platformSecrets("base");
  return {
    namespace: "platform",
    profile: "dev",
    image: "registry.example.com/acme/app:1.4.0",
    ingress: { host: "platform.example.com" },
    databaseUrl: secrets.databaseUrl,
    redisUrl: secrets.redisUrl,
    otlpEndpoint: "http://otel:4318",
    temporal: { address: "temporal:7233" },
    s3: {
      endpoint: "http://minio:9000",
      bucket: "app",
      accessKeyId: secrets.accessKeyId,
      secretAccessKey: secrets.secretAccessKey,
    },
    ollamaHost: "http://ollama:11434",
    arcjetKey: pulumi.secret("k"),
    migrationsJob: new pulumi.ComponentResource("test:index:Stub", "base-migrations"),
  };
}
