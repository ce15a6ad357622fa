import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  parseConfig,
  pgbouncerServerConnections,
  postgresPoolBudget,
  PROFILE_DEFAULTS,
} from "../../config";
import { imageRef } from "../../core/images";
import { imagesForPlatform } from "../../platform/args/images";
import { pinImage, readImageLock } from "../../policy/model/image-lock";
import { readStackConfig } from "../../tools/lib/stack-file";
import { issuesByKey, parsedStackConfig, rawStackConfig, stackConfigIssues } from "./stack-config";

const root = path.resolve(__dirname, "..", "..");
const stackConfig = (stack: string) =>
  readStackConfig(path.join(root, `Pulumi.${stack}.yaml`)).values;

describe("the shipped stacks", () => {
  it("Pulumi.dev.yaml is valid and uses the dev profile", () => {
    const config = parseConfig(stackConfig("dev"));
    expect(config.profile).toBe("dev");
    expect(config.protectStateful).toBe(false);
    expect(config.pgbouncer.replicas).toBe(1);
    expect(config.postgres.backup.enabled).toBe(false);
  });

  it("Pulumi.prod.yaml is valid, protected, HA and backed up", () => {
    const config = parseConfig(stackConfig("prod"));
    expect(config.profile).toBe("prod");
    expect(config.protectStateful).toBe(true);
    expect(config.pgbouncer.replicas).toBeGreaterThanOrEqual(2);
    expect(config.postgres.backup.enabled).toBe(true);
  });
});

describe("profile defaults", () => {
  it("a stack that sets only the profile gets that profile's defaults", () => {
    for (const profile of ["dev", "prod"] as const) {
      const config = parsedStackConfig({ profile });
      expect(config.protectStateful).toBe(PROFILE_DEFAULTS[profile].protectStateful);
      expect(config.postgres.maxConnections).toBe(
        PROFILE_DEFAULTS[profile].postgres?.maxConnections,
      );
    }
  });

  it("PgBouncer defaults to 1000 clients over a 25-connection pool", () => {
    const config = parsedStackConfig({ profile: "dev" });
    expect(config.pgbouncer.maxClientConn).toBe(1000);
    expect(config.pgbouncer.defaultPoolSize).toBe(25);
  });

  it("a nested key overrides only itself and keeps its siblings' defaults", () => {
    const config = parsedStackConfig({ profile: "dev", postgres: { backup: { retain: 30 } } });
    expect(config.postgres.backup.retain).toBe(30);
    expect(config.postgres.backup.schedule).toBe("0 3 * * *");
    expect(config.postgres.storageSize).toBe("5Gi");
  });

  it("a resource preset expands to requests and limits", () => {
    const config = parsedStackConfig({ profile: "dev", objectStore: { resources: "medium" } });
    expect(config.objectStore.resources).toEqual({
      cpu: "500m",
      memory: "1Gi",
      cpuLimit: "2",
      memoryLimit: "2Gi",
    });
  });

  it("both shipped profiles fit PgBouncer's pools under Postgres max_connections", () => {
    for (const stack of ["dev", "prod"]) {
      const config = parseConfig(stackConfig(stack));
      expect(pgbouncerServerConnections(config)).toBeLessThanOrEqual(postgresPoolBudget(config));
    }
  });

  it("secret keys set as secrets become secret outputs, never plain strings", async () => {
    const config = parseConfig(
      { ...rawStackConfig({ profile: "dev" }), "k3s-platform:arcjetKey": "ajkey_live_123" },
      ["k3s-platform:arcjetKey"],
    );
    expect(config).not.toHaveProperty("arcjetKey");
    const arcjetKey = config.secrets.arcjetKey;
    expect(arcjetKey).toBeDefined();
    expect(await (arcjetKey as unknown as { isSecret: Promise<boolean> }).isSecret).toBe(true);
  });

  it("keys of other namespaces (the provider's own) are not ours to judge", () => {
    const config = parseConfig({
      ...rawStackConfig({ profile: "dev" }),
      "kubernetes:context": "k3s",
    });
    expect(config.profile).toBe("dev");
  });
});

/** Each bad config, the key its error must name, and a fragment of the reason. */
const INVALID: [string, Record<string, unknown>, string, RegExp][] = [
  ["no profile", { profile: undefined }, "k3s-platform:profile", /required/],
  ["an unknown profile", { profile: "staging" }, "k3s-platform:profile", /"dev" or "prod"/],
  [
    "a misspelled top-level key",
    { profile: "dev", postgress: {} },
    "k3s-platform:postgress",
    /did you mean "postgres"/,
  ],
  [
    "a misspelled nested key",
    { profile: "dev", postgres: { storageSiz: "1Gi" } },
    "k3s-platform:postgres.storageSiz",
    /did you mean "storageSize"/,
  ],
  [
    "a misspelled deep key",
    { profile: "dev", postgres: { backup: { retian: 3 } } },
    "k3s-platform:postgres.backup.retian",
    /did you mean "retain"/,
  ],
  [
    "an unknown key far from any known one",
    { profile: "dev", cluster: { flavour: "x" } },
    "k3s-platform:cluster.flavour",
    /known keys here: domain/,
  ],
  [
    "a negative size",
    { profile: "dev", postgres: { storageSize: "-5Gi" } },
    "k3s-platform:postgres.storageSize",
    /non-negative/,
  ],
  [
    "a zero size",
    { profile: "dev", dragonfly: { storageSize: "0Gi" } },
    "k3s-platform:dragonfly.storageSize",
    /greater than zero/,
  ],
  [
    "a size without a unit that is not a number",
    { profile: "dev", objectStore: { storageSize: "big" } },
    "k3s-platform:objectStore.storageSize",
    /quantity/,
  ],
  [
    "a number where a size string is expected",
    { profile: "dev", postgres: { storageSize: 5 } },
    "k3s-platform:postgres.storageSize",
    /quantity/,
  ],
  [
    "a string where a number is expected",
    { profile: "dev", pgbouncer: { replicas: "two" } },
    "k3s-platform:pgbouncer.replicas",
    /number/,
  ],
  [
    "a fractional replica count",
    { profile: "dev", pgbouncer: { replicas: 1.5 } },
    "k3s-platform:pgbouncer.replicas",
    /whole number/,
  ],
  [
    "zero replicas",
    { profile: "dev", pgbouncer: { replicas: 0 } },
    "k3s-platform:pgbouncer.replicas",
    /./,
  ],
  [
    "a string where a boolean is expected",
    { profile: "dev", protectStateful: "yes" },
    "k3s-platform:protectStateful",
    /true or false/,
  ],
  [
    "an unknown resource preset",
    { profile: "dev", postgres: { resources: "huge" } },
    "k3s-platform:postgres.resources",
    /preset/,
  ],
  [
    "a memory limit below the request",
    { profile: "dev", postgres: { resources: { cpu: "1", memory: "2Gi", memoryLimit: "1Gi" } } },
    "k3s-platform:postgres.resources.memoryLimit",
    /at least the memory request/,
  ],
  [
    "a cpu limit below the request",
    { profile: "dev", pgbouncer: { resources: { cpu: "2", memory: "64Mi", cpuLimit: "1" } } },
    "k3s-platform:pgbouncer.resources.cpuLimit",
    /at least the cpu request/,
  ],
  [
    "a misspelled resources field",
    { profile: "dev", dragonfly: { resources: { cpu: "1", memory: "1Gi", memoryLimt: "1Gi" } } },
    "k3s-platform:dragonfly.resources.memoryLimt",
    /did you mean "memoryLimit"/,
  ],
  [
    "a namespace that is not a DNS label",
    { profile: "dev", namespace: "My_Platform" },
    "k3s-platform:namespace",
    /DNS label/,
  ],
  [
    "a domain with uppercase letters",
    { profile: "dev", cluster: { domain: "Platform.Example.com" } },
    "k3s-platform:cluster.domain",
    /DNS name/,
  ],
  [
    "a pod CIDR that is not a CIDR",
    { profile: "dev", cluster: { podCidr: "10.42.0.0" } },
    "k3s-platform:cluster.podCidr",
    /CIDR/,
  ],
  [
    "a PgBouncer pool larger than Postgres can hold",
    { profile: "dev", pgbouncer: { defaultPoolSize: 200 } },
    "k3s-platform:pgbouncer.defaultPoolSize",
    /≤ postgres.maxConnections − reserved \(got \(1 \+ 1\) × \(200 \+ 5\) = 410 > 66\)/,
  ],
  [
    "prod replicas multiplying the pool past max_connections",
    { profile: "prod", pgbouncer: { replicas: 6 } },
    // The stack raised the replicas, not the pool: the replicas are what it hears about.
    "k3s-platform:pgbouncer.replicas",
    /\(6 \+ 1\) × \(25 \+ 5\) = 210 > 109/,
  ],
  [
    "direct connections eating every slot",
    { profile: "dev", postgres: { directConnections: 97 } },
    "k3s-platform:postgres.directConnections",
    /leaves no connections for PgBouncer/,
  ],
  [
    "too little memory for Dragonfly's threads",
    { profile: "dev", dragonfly: { proactorThreads: 4 } },
    // The stack asked for the threads; the memory limit it clashes with is the default one.
    "k3s-platform:dragonfly.proactorThreads",
    /dragonfly\.resources\.memoryLimit \(left to its default\).*256 MiB per thread/,
  ],
  [
    "threads derived from the CPU limit without the memory for them",
    { profile: "dev", dragonfly: { resources: { cpu: "1", memory: "512Mi", cpuLimit: "4" } } },
    "k3s-platform:dragonfly.resources.memoryLimit",
    /for 4 thread\(s\)/,
  ],
  [
    "a bucket name S3 rejects",
    { profile: "dev", objectStore: { buckets: { app: "My_Bucket" } } },
    "k3s-platform:objectStore.buckets.app",
    /lowercase letters/,
  ],
  [
    "a bucket name that is too short",
    { profile: "dev", objectStore: { buckets: { backups: "bk" } } },
    "k3s-platform:objectStore.buckets.backups",
    /3 to 63/,
  ],
  [
    "a bucket name shaped like an IP",
    { profile: "dev", objectStore: { buckets: { loki: "10.0.0.1" } } },
    "k3s-platform:objectStore.buckets.loki",
    /IP address/,
  ],
  [
    "a backup schedule that is not cron",
    { profile: "prod", postgres: { backup: { schedule: "nightly" } } },
    "k3s-platform:postgres.backup.schedule",
    /cron/,
  ],
  [
    "a backup retention of zero",
    { profile: "prod", postgres: { backup: { retain: 0 } } },
    "k3s-platform:postgres.backup.retain",
    /at least one/,
  ],
  [
    "prod without a TLS Secret for its Ingress hosts",
    { profile: "prod", cluster: { tlsSecretName: undefined } },
    "k3s-platform:cluster.tlsSecretName",
    /required in prod/,
  ],
  [
    "prod with a tag-only app image",
    { profile: "prod", app: { image: "registry.example.com/app:1.0.0" } },
    "k3s-platform:app.image",
    /sha256/,
  ],
  [
    "a pull Secret for an app that is off",
    { profile: "dev", app: { image: undefined, imagePullSecret: "pull" } },
    "k3s-platform:app.imagePullSecret",
    /the app is off/,
  ],
  [
    "prod with a single PgBouncer",
    { profile: "prod", pgbouncer: { replicas: 1 } },
    "k3s-platform:pgbouncer.replicas",
    /≥ 2/,
  ],
  [
    "an HPA whose maximum is below its minimum",
    { profile: "dev", app: { web: { minReplicas: 3, maxReplicas: 2 } } },
    "k3s-platform:app.web.maxReplicas",
    /at least minReplicas \(2 < 3\)/,
  ],
  [
    "a GPU without a runtime class",
    { profile: "dev", ollama: { gpu: { count: 1 } } },
    "k3s-platform:ollama.gpu",
    /runtimeClassName/,
  ],
  [
    "a changed Temporal shard count",
    { profile: "dev", temporal: { numHistoryShards: 1024, recordedNumHistoryShards: 512 } },
    "k3s-platform:temporal.numHistoryShards",
    /cannot change from 512 to 1024/,
  ],
  [
    "a retention that is not a duration",
    { profile: "dev", observability: { retention: { logs: "a week" } } },
    "k3s-platform:observability.retention.logs",
    /duration/,
  ],
  [
    "a model name Ollama cannot pull",
    { profile: "dev", ollama: { models: ["Not A Model!"] } },
    "k3s-platform:ollama.models.0",
    /Ollama model name/,
  ],
  [
    "a secret stored in plain text",
    { profile: "dev", arcjetKey: "ajkey_live_123" },
    "k3s-platform:arcjetKey",
    /pulumi config set --secret/,
  ],
  [
    "max_connections too small to run anything",
    { profile: "dev", postgres: { maxConnections: 5 } },
    "k3s-platform:postgres.maxConnections",
    /at least 20/,
  ],
  [
    "an image override on a moving tag",
    { profile: "dev", images: { postgres: "postgres:latest" } },
    "k3s-platform:images.postgres",
    /must name one build: an exact tag or a digest, not "latest" \(got "postgres:latest"\)/,
  ],
  [
    "an image override with a malformed digest",
    { profile: "dev", images: { curl: "curlimages/curl:8@sha256:abc" } },
    "k3s-platform:images.curl",
    /malformed digest/,
  ],
  [
    "an image override for a name the catalogue lacks",
    { profile: "dev", images: { postgress: "postgres:15" } },
    "k3s-platform:images.postgress",
    /did you mean "postgres"/,
  ],
  [
    "the object store's image under the key it had before images",
    { profile: "dev", objectStore: { image: "quay.io/minio/minio:RELEASE.1" } },
    "k3s-platform:objectStore.image",
    /has moved: set k3s-platform:images\.minio instead/,
  ],
  [
    "an image lock that cannot be read",
    { profile: "dev", imagesLock: "no-such.lock.json" },
    "k3s-platform:imagesLock",
    /no-such\.lock\.json: the file cannot be read/,
  ],
];

describe("invalid configs are refused with the key and the reason", () => {
  it.each(INVALID)("%s", (_name, values, key, reason) => {
    const issues = stackConfigIssues(values);
    const issue = issues.find((candidate) => candidate.key === key);
    expect(issue, `issues were: ${JSON.stringify(issues)}`).toBeDefined();
    expect(issue?.message).toMatch(reason);
  });

  it("reports every problem at once, not only the first", () => {
    const issues = stackConfigIssues({
      profile: "dev",
      namespace: "Bad",
      postgres: { storageSize: "-1Gi" },
    });
    expect(issues.map((issue) => issue.key)).toEqual(
      expect.arrayContaining(["k3s-platform:namespace", "k3s-platform:postgres.storageSize"]),
    );
  });

  it("the error message lists each key with its reason", () => {
    expect(() =>
      parseConfig(rawStackConfig({ profile: "dev", postgres: { storageSiz: "1Gi" } })),
    ).toThrow(
      /k3s-platform:postgres\.storageSiz: is not a known key; did you mean "storageSize"\?/,
    );
  });
});

describe("schema problems and cross-key problems are reported together", () => {
  const keysOf = (values: Record<string, unknown>) =>
    stackConfigIssues(values).map((issue) => issue.key);

  it("a refused value and an unrelated cross-key problem are both reported, in one error", () => {
    const issues = issuesByKey(
      stackConfigIssues({
        profile: "dev",
        dragonfly: { snapshotCron: "a b c d e" },
        postgres: { directConnections: 20 },
      }),
    );
    expect(issues.get("k3s-platform:dragonfly.snapshotCron")).toMatch(/bad minute field "a"/);
    expect(issues.get("k3s-platform:postgres.directConnections")).toMatch(
      /may open 31 connections, more than postgres.directConnections \(20\)/,
    );
  });

  it("a component's own rule is reported beside a value another component's schema refused", () => {
    const issues = issuesByKey(
      stackConfigIssues({
        profile: "dev",
        dragonfly: { snapshotCron: "a b c d e" },
        app: { web: { probes: { readiness: { path: "api/health" } } } },
      }),
    );
    expect(issues.get("k3s-platform:dragonfly.snapshotCron")).toMatch(/bad minute field "a"/);
    expect(issues.get("k3s-platform:app.web.probes.readiness.path")).toMatch(/start with "\/"/);
  });

  it("a cross-key rule that would read the refused value does not fire on its stand-in", () => {
    // Alone, 90 direct connections leave PgBouncer too little of the default 100.
    expect(keysOf({ profile: "dev", postgres: { directConnections: 90 } })).toEqual([
      "k3s-platform:postgres.directConnections",
    ]);
    // With the stack's own maxConnections refused, the budget cannot be judged: one problem.
    expect(
      keysOf({ profile: "dev", postgres: { maxConnections: "lots", directConnections: 90 } }),
    ).toEqual(["k3s-platform:postgres.maxConnections"]);
  });

  it("a misspelt key counts as the key it was meant to be", () => {
    expect(
      keysOf({ profile: "dev", postgres: { maxConection: 500, directConnections: 90 } }),
    ).toEqual(["k3s-platform:postgres.maxConection"]);
  });

  it("a component rule comparing a refused value with a valid one stays silent", () => {
    const web = { minReplicas: 4, maxReplicas: 3 };
    expect(keysOf({ profile: "dev", app: { web } })).toContain("k3s-platform:app.web.maxReplicas");
    expect(keysOf({ profile: "dev", app: { web: { ...web, maxReplicas: "three" } } })).toEqual([
      "k3s-platform:app.web.maxReplicas",
    ]);
  });

  it("a refused resources object is replaced whole, and the rules that read it are skipped", () => {
    // Alone, 4 threads need more maxmemory than dev's default 512Mi gives them.
    expect(keysOf({ profile: "dev", dragonfly: { proactorThreads: 4 } }).length).toBe(1);
    const memory = { cpu: "100m", memory: "512m" };
    expect(
      keysOf({
        profile: "dev",
        dragonfly: { proactorThreads: 4, resources: memory },
        postgres: { directConnections: 20 },
      }),
    ).toEqual([
      "k3s-platform:dragonfly.resources.memory",
      "k3s-platform:postgres.directConnections",
    ]);
  });
});

describe("images: overrides and the lock", () => {
  const digest = `sha256:${"e".repeat(64)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "images-lock-config-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A lock in a temp dir that knows one tag: the override below. */
  function lockFile(): string {
    const file = path.join(dir, "images.lock.json");
    const entry = {
      digest,
      mediaType: "application/vnd.oci.image.index.v1+json",
      resolvedAt: "2026-01-05T06:00:00Z",
    };
    fs.writeFileSync(
      file,
      JSON.stringify({ version: 1, images: { "mirror.example.com/minio/mc:RELEASE.1": entry } }),
    );
    return file;
  }

  it("pins an override by the stack's lock and leaves the tags the lock lacks as they are", () => {
    const config = parsedStackConfig({
      profile: "dev",
      images: {
        minioClient: "mirror.example.com/minio/mc:RELEASE.1",
        otelCollector: "mirror.example.com/otel/collector:0.165.0",
      },
      imagesLock: lockFile(),
    });
    const images = imagesForPlatform(config);
    expect(images.objectStore.clientImage).toBe(`mirror.example.com/minio/mc:RELEASE.1@${digest}`);
    // One override reaches every workload that runs the image; the lock has no entry for it.
    expect(images.observability.collector.image).toBe("mirror.example.com/otel/collector:0.165.0");
    expect(images.observability.nodeLogs.image).toBe(images.observability.collector.image);
    expect(images.objectStore.image).toBe(imageRef("minio"));
  });

  it("a stack without overrides deploys the catalogue, pinned by the pack's lock", () => {
    const config = parsedStackConfig({ profile: "dev" });
    expect(config.imageLock).toEqual(readImageLock());
    expect(imagesForPlatform(config).dragonfly.image).toBe(
      pinImage(imageRef("dragonfly"), config.imageLock),
    );
  });
});
