import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { ObjectStoreArgs } from "../../components/object-store";
import { MOCK_SECRET_PREFIX, registeredOfType, setupMocks, unwrap } from "../mocks";
import { optionRecorder } from "./recorded";
import { parsedStackConfig } from "./stack-config";

const mocks = setupMocks();
/** The component module, loaded after the mocks are installed. */
const load = () => import("../../components/object-store");

const ALL_BUCKETS = { app: "app", backups: "backups", loki: "loki", tempo: "tempo" };

function args(overrides: Partial<ObjectStoreArgs> = {}): ObjectStoreArgs {
  return {
    namespace: "platform",
    resources: { cpu: "100m", memory: "256Mi", memoryLimit: "512Mi" },
    storageSize: "10Gi",
    storageClass: "local-path",
    buckets: ALL_BUCKETS,
    ...overrides,
  };
}

/**
 * A stand-in for `mc`: logs each call, and keeps just enough state to behave like the server where
 * idempotency matters (`mb` of an existing bucket fails unless `--ignore-existing`).
 */
const STUB_MC = `#!/bin/sh
printf '%s\\n' "$*" >> "$MC_STUB_STATE/calls.log"
case "$1" in
  ready) printf '%s' "$MC_HOST_store" > "$MC_STUB_STATE/alias" ;;
  mb)
    if [ "$2" = "--ignore-existing" ]; then target=$3; ignore=1; else target=$2; ignore=0; fi
    bucket=\${target#*/}
    if [ -e "$MC_STUB_STATE/bucket-$bucket" ]; then
      [ "$ignore" = 1 ] && exit 0
      echo "mc: bucket $bucket already exists" >&2
      exit 1
    fi
    : > "$MC_STUB_STATE/bucket-$bucket" ;;
  admin)
    case "$2 $3" in
      "policy create") cat "$6" > "$MC_STUB_STATE/policy-$5.json" ;;
      "user add") printf '%s' "$6" > "$MC_STUB_STATE/user-$5" ;;
    esac ;;
esac
`;

interface StubRun {
  calls: string[];
  state: string;
}

/** A temp dir with the stub on PATH and a state dir; `run` executes the script with `shell`. */
function stubWorld() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mc-stub-"));
  const bin = path.join(root, "bin");
  const state = path.join(root, "state");
  const policies = path.join(root, "policies");
  for (const dir of [bin, state, policies]) fs.mkdirSync(dir);
  fs.writeFileSync(path.join(bin, "mc"), STUB_MC, { mode: 0o755 });
  const env: Record<string, string> = {
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    MC_STUB_STATE: state,
    POLICY_DIR: policies,
    MINIO_ROOT_USER: "root",
    MINIO_ROOT_PASSWORD: "root-password",
    MINIO_SERVER: "minio.platform.svc:9000",
  };
  for (const role of [...Object.keys(ALL_BUCKETS), "dragonfly"]) {
    env[`${role.toUpperCase()}_ACCESS_KEY`] = role;
    env[`${role.toUpperCase()}_SECRET_KEY`] = `${role}-secret`;
  }
  const run = (shell: string, script: string): StubRun => {
    const log = path.join(state, "calls.log");
    fs.rmSync(log, { force: true });
    execFileSync(shell, ["-c", script], { env, stdio: "pipe" });
    const calls = fs.readFileSync(log, "utf8").trim().split("\n");
    return { calls: calls.map((call) => call.replaceAll(policies, "$POLICY_DIR")), state };
  };
  return { run, state };
}

async function scriptFor(buckets: ObjectStoreArgs["buckets"]): Promise<string> {
  const { bucketPlan, bucketScript } = await load();
  return bucketScript(bucketPlan(buckets));
}

describe("bucket script", () => {
  it("the bucket script creates every bucket idempotently", async () => {
    const script = await scriptFor(ALL_BUCKETS);
    for (const bucket of Object.values(ALL_BUCKETS)) {
      expect(script).toContain(`mc mb --ignore-existing store/${bucket}\n`);
    }
    expect(script).not.toMatch(/mc mb (?!--ignore-existing)/);
  });

  it("is valid POSIX shell and bash", async () => {
    const script = await scriptFor(ALL_BUCKETS);
    for (const shell of ["sh", "bash"]) {
      expect(() => execFileSync(shell, ["-n", "-c", script], { stdio: "pipe" })).not.toThrow();
    }
  });

  it.each(["sh", "bash"])("makes exactly the expected mc calls (%s)", async (shell) => {
    const { run } = stubWorld();
    const { calls } = run(shell, await scriptFor({ app: "uploads", backups: "pg-backups" }));
    expect(calls).toEqual([
      "ready store",
      "mb --ignore-existing store/uploads",
      "mb --ignore-existing store/pg-backups",
      "quota clear store/uploads",
      "quota clear store/pg-backups",
      "admin policy create store app-readwrite $POLICY_DIR/app-readwrite.json",
      "admin user add store app app-secret",
      "admin policy attach store app-readwrite --user app",
      "admin policy create store backups-readwrite $POLICY_DIR/backups-readwrite.json",
      "admin user add store backups backups-secret",
      "admin policy attach store backups-readwrite --user backups",
    ]);
  });

  it("reaches the server with the root credentials from the environment", async () => {
    const { run } = stubWorld();
    const { state } = run("sh", await scriptFor({ app: "app" }));
    expect(fs.readFileSync(path.join(state, "alias"), "utf8")).toBe(
      "http://root:root-password@minio.platform.svc:9000",
    );
    expect(await scriptFor(ALL_BUCKETS)).not.toContain("root-password");
  });

  it("a second run is harmless, as is a bucket someone created by hand", async () => {
    const script = await scriptFor(ALL_BUCKETS);
    const { run, state } = stubWorld();
    fs.writeFileSync(path.join(state, "bucket-loki"), "");
    const first = run("sh", script);
    const second = run("sh", script);
    expect(second.calls).toEqual(first.calls);
    const buckets = fs.readdirSync(state).filter((file) => file.startsWith("bucket-"));
    expect(buckets.sort()).toEqual(["bucket-app", "bucket-backups", "bucket-loki", "bucket-tempo"]);
  });

  it("each consumer's user may use its own bucket and nothing else", async () => {
    const { run } = stubWorld();
    const { state } = run("bash", await scriptFor({ backups: "pg-backups", loki: "logs" }));
    const policy = JSON.parse(
      fs.readFileSync(path.join(state, "policy-backups-readwrite.json"), "utf8"),
    );
    const resources = policy.Statement.flatMap(
      (statement: { Resource: string[] }) => statement.Resource,
    );
    expect(resources).toEqual(["arn:aws:s3:::pg-backups", "arn:aws:s3:::pg-backups/*"]);
    expect(JSON.stringify(policy)).not.toContain('"*"');
  });

  it("sets each configured quota in bytes and clears the quota of a bucket given none", async () => {
    const { bucketPlan, bucketScript } = await load();
    const { run } = stubWorld();
    const script = bucketScript(
      bucketPlan({ app: "uploads", backups: "pg-backups" }, { backups: "40Gi" }),
    );
    const { calls } = run("sh", script);
    expect(calls.filter((call) => call.startsWith("quota "))).toEqual([
      "quota clear store/uploads",
      `quota set store/pg-backups --size ${40 * 2 ** 30}`,
    ]);
    expect(script).toContain("# pg-backups: at most 40Gi\n");
    // The quotas come after the buckets they limit exist.
    expect(calls.indexOf("mb --ignore-existing store/pg-backups")).toBeLessThan(
      calls.indexOf(`quota set store/pg-backups --size ${40 * 2 ** 30}`),
    );
  });

  it("a changed quota renames the bucket Job so it runs again", async () => {
    const { bucketJobName, bucketPlan } = await load();
    const name = (quota: string) =>
      bucketJobName("minio", bucketPlan(ALL_BUCKETS, { backups: quota }), "mc:1");
    expect(name("40Gi")).not.toBe(name("50Gi"));
  });

  it("a bucket shared by two consumers is created once", async () => {
    const { bucketPlan } = await load();
    expect(bucketPlan({ app: "shared", backups: "shared" }).buckets).toEqual(["shared"]);
  });

  it("a bucket name S3 rejects is refused, naming the key", async () => {
    const { objectStoreRules } = await load();
    const rules = (buckets: ObjectStoreArgs["buckets"]) =>
      objectStoreRules({ storageSize: "10Gi", buckets });
    for (const name of ["Uploads_2024", "it's", "bk", "10.0.0.1", "a..b", "-app", "x".repeat(64)]) {
      expect(rules({ app: "app", backups: name }), name).toEqual([
        {
          propertyPath: "buckets.backups",
          reason: expect.stringMatching(/is not an S3 bucket name: 3-63 lowercase letters/),
        },
      ]);
    }
    expect(rules({})).toEqual([
      {
        propertyPath: "buckets",
        reason: expect.stringMatching(/names no bucket; give at least one of app, backups/),
      },
    ]);
    expect(rules(ALL_BUCKETS)).toEqual([]);
    expect(rules({ app: "my.uploads-2024" })).toEqual([]);
  });

  it("a changed bucket list renames the bucket Job so it runs again", async () => {
    const { bucketJobName, bucketPlan } = await load();
    const image = "quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z";
    const name = bucketJobName("minio", bucketPlan({ app: "app" }), image);
    expect(bucketJobName("minio", bucketPlan({ app: "app" }), image)).toBe(name);
    expect(bucketJobName("minio", bucketPlan({ app: "app", loki: "loki" }), image)).not.toBe(name);
    expect(bucketJobName("minio", bucketPlan({ app: "app2" }), image)).not.toBe(name);
    expect(bucketJobName("minio", bucketPlan({ app: "app" }), `${image}-x`)).not.toBe(name);
    expect(name).toMatch(/^minio-buckets-[0-9a-f]{8}$/);
  });
});

describe("Dragonfly's bucket", () => {
  it("gets its quota and a user whose policy reaches that bucket and nothing else", async () => {
    const { bucketPlan, bucketScript } = await load();
    const script = bucketScript(
      bucketPlan({ app: "app", dragonfly: "snapshots" }, { dragonfly: "10Gi" }),
    );
    for (const shell of ["sh", "bash"]) {
      expect(() => execFileSync(shell, ["-n", "-c", script], { stdio: "pipe" })).not.toThrow();
    }
    const { run } = stubWorld();
    const { calls, state } = run("sh", script);
    expect(calls).toEqual([
      "ready store",
      "mb --ignore-existing store/app",
      "mb --ignore-existing store/snapshots",
      "quota clear store/app",
      `quota set store/snapshots --size ${10 * 2 ** 30}`,
      "admin policy create store app-readwrite $POLICY_DIR/app-readwrite.json",
      "admin user add store app app-secret",
      "admin policy attach store app-readwrite --user app",
      "admin policy create store dragonfly-readwrite $POLICY_DIR/dragonfly-readwrite.json",
      "admin user add store dragonfly dragonfly-secret",
      "admin policy attach store dragonfly-readwrite --user dragonfly",
    ]);
    const policy = fs.readFileSync(path.join(state, "policy-dragonfly-readwrite.json"), "utf8");
    expect(JSON.parse(policy).Statement.flatMap((s: { Resource: string[] }) => s.Resource)).toEqual(
      ["arn:aws:s3:::snapshots", "arn:aws:s3:::snapshots/*"],
    );
  });

  it("may not share a name with another consumer's", async () => {
    const { objectStoreRules } = await load();
    expect(
      objectStoreRules({ storageSize: "10Gi", buckets: { app: "app", dragonfly: "app" } }),
    ).toEqual([
      {
        propertyPath: "buckets.dragonfly",
        reason: expect.stringMatching(/"app" is also buckets.app: each consumer's user is scoped/),
      },
    ]);
  });

  it("exists in the stack only with dragonfly.snapshotTarget.type in-cluster", async () => {
    const { argsForObjectStore } = await import("../../platform/args/object-store");
    const volume = argsForObjectStore(parsedStackConfig());
    expect(Object.keys(volume.buckets)).not.toContain("dragonfly");
    expect(Object.keys(volume.quotas ?? {})).not.toContain("dragonfly");
    const inCluster = argsForObjectStore(
      parsedStackConfig({ dragonfly: { snapshotTarget: { type: "in-cluster" } } }),
    );
    expect(inCluster.buckets.dragonfly).toBe("dragonfly");
    expect(inCluster.quotas?.dragonfly).toBe("2Gi");
  });
});

interface Env {
  name: string;
  value?: unknown;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
interface PodSpec {
  containers: {
    command?: string[];
    env: Env[];
    readinessProbe?: unknown;
    livenessProbe?: unknown;
    securityContext: unknown;
  }[];
  restartPolicy: string;
}

async function registered(type: string, name: string): Promise<Record<string, unknown>> {
  const found = (await registeredOfType(mocks, type)).find((resource) => resource.name === name);
  if (!found) throw new Error(`no ${type} ${name}`);
  return found.inputs;
}

function podSpecOf(inputs: Record<string, unknown>): PodSpec {
  return (inputs.spec as { template: { spec: PodSpec } }).template.spec;
}

describe("ObjectStore rules", () => {
  it("the data volume's size is a quantity", async () => {
    const { objectStoreRules } = await load();
    expect(objectStoreRules(args())).toEqual([]);
    expect(objectStoreRules(args({ storageSize: "big" }))).toEqual([
      { propertyPath: "storageSize", reason: expect.stringMatching(/quantity such as 10Gi/) },
    ]);
  });

  it("quotas are positive sizes of existing buckets, together no more than the volume", async () => {
    const { objectStoreRules } = await load();
    const rules = (quotas: ObjectStoreArgs["quotas"], storageSize = "10Gi") =>
      objectStoreRules(args({ quotas, storageSize }));
    expect(rules({ app: "4Gi", backups: "2Gi", loki: "2Gi", tempo: "2Gi" })).toEqual([]);
    expect(rules({ app: "6Gi", backups: "4Gi", loki: "512Mi" })).toEqual([
      {
        propertyPath: "quotas",
        reason:
          "add up to more than storageSize (10Gi): quotas.app 6Gi + quotas.backups 4Gi + " +
          "quotas.loki 512Mi = 10752Mi; the buckets share one volume, so lower a quota or raise " +
          "storageSize",
      },
    ]);
    expect(rules({ app: "0Gi" })).toEqual([
      { propertyPath: "quotas.app", reason: expect.stringMatching(/positive quantity/) },
    ]);
    expect(objectStoreRules(args({ buckets: { app: "app" }, quotas: { loki: "1Gi" } }))).toEqual([
      { propertyPath: "quotas.loki", reason: expect.stringMatching(/no buckets.loki is created/) },
    ]);
  });

  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const { ObjectStore } = await load();
    const count = async () => (await registeredOfType(mocks, "kubernetes:core/v1:Secret")).length;
    const before = await count();
    let error: unknown;
    try {
      new ObjectStore("os-bad", args({ storageSize: "big", buckets: { app: "Bad_Name" } }));
    } catch (caught) {
      error = caught;
    }
    expect(pulumi.InputPropertiesError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      errors: [
        expect.objectContaining({ propertyPath: "storageSize" }),
        expect.objectContaining({ propertyPath: "buckets.app" }),
      ],
    });
    expect(await count()).toBe(before);
  });

  it("the check maps every argument its rules check to its stack key", async () => {
    const { componentProblems } = await import("../../platform/validate");
    const config = parsedStackConfig({ observability: { objectStorage: true } });
    const keysOf = (objectStore: Record<string, unknown>) =>
      componentProblems({ ...config, objectStore: { ...config.objectStore, ...objectStore } }).map(
        ({ key }) => key,
      );
    // The schema refuses these first; the component's rules would name the same keys.
    expect(keysOf({ storageSize: "big" })).toEqual(["objectStore.storageSize"]);
    for (const role of ["app", "backups", "loki", "tempo"]) {
      expect(keysOf({ buckets: { ...config.objectStore.buckets, [role]: "Bad_Name" } })).toEqual([
        `objectStore.buckets.${role}`,
      ]);
    }
  });

  it("Loki's and Tempo's buckets exist only when observability keeps its data there", async () => {
    const { argsForObjectStore } = await import("../../platform/args/object-store");
    const dev = argsForObjectStore(parsedStackConfig());
    expect(Object.keys(dev.buckets)).toEqual(["app", "backups"]);
    const prod = argsForObjectStore(parsedStackConfig({ observability: { objectStorage: true } }));
    expect(Object.keys(prod.buckets)).toEqual(["app", "backups", "loki", "tempo"]);
    // Only the buckets that exist get a quota, and only theirs count against the volume.
    expect(Object.keys(dev.quotas ?? {})).toEqual(["app", "backups"]);
    expect(Object.keys(prod.quotas ?? {})).toEqual(["app", "backups", "loki", "tempo"]);
  });

  it("the backups' bucket exists only while the backups go to the object store", async () => {
    const { argsForObjectStore } = await import("../../platform/args/object-store");
    const config = parsedStackConfig();
    const { postgres } = config;
    const target = { type: "s3" as const, endpoint: "https://s3.example.com", prefix: "postgres" };
    const external = argsForObjectStore({
      ...config,
      postgres: { ...postgres, backup: { ...postgres.backup, target } },
    });
    expect(Object.keys(external.buckets)).toEqual(["app"]);
    expect(Object.keys(external.quotas ?? {})).toEqual(["app"]);
  });
});

describe("ObjectStore component", () => {
  it("every credential reaches the pods through secretKeyRef", async () => {
    const { ObjectStore } = await load();
    const store = new ObjectStore("os-refs", args());
    const jobName = await unwrap(store.bucketJob.metadata.name);
    const server = podSpecOf(await registered("kubernetes:apps/v1:StatefulSet", "os-refs"));
    const job = podSpecOf(await registered("kubernetes:batch/v1:Job", jobName));
    for (const env of [...server.containers[0].env, ...job.containers[0].env]) {
      if (/USER|PASSWORD|KEY/.test(env.name))
        expect(env.valueFrom?.secretKeyRef, env.name).toBeDefined();
    }
    expect(JSON.stringify([server, job])).not.toContain(MOCK_SECRET_PREFIX);
  });

  it("the bucket Job provides every variable its script reads", async () => {
    const { ObjectStore } = await load();
    const store = new ObjectStore("os-env", args());
    const job = podSpecOf(
      await registered("kubernetes:batch/v1:Job", await unwrap(store.bucketJob.metadata.name)),
    );
    const [mc] = job.containers;
    const script = mc.command?.[2] ?? "";
    const read = new Set([...script.matchAll(/\$\{([A-Z_]+)\}/g)].map((match) => match[1]));
    expect([...read].filter((name) => !mc.env.some((env) => env.name === name))).toEqual([]);
    expect(mc.env.find((env) => env.name === "MC_CONFIG_DIR")?.value).toBe("/tmp/.mc");
  });

  it("each consumer gets its own key pair in its own Secret", async () => {
    const { ObjectStore } = await load();
    const store = new ObjectStore("os-users", args());
    const names = await Promise.all(
      (["app", "backups", "loki", "tempo"] as const).map((role) =>
        unwrap(pulumi.output(store.credentialsFor(role).secretKey.secretName)),
      ),
    );
    const root = await unwrap(pulumi.output(store.rootCredentials.secretKey.secretName));
    expect(new Set([...names, root]).size).toBe(5);
    await registered("kubernetes:core/v1:Secret", "os-users-backups-credentials");
    expect(await unwrap(store.credentialsFor("backups").secret.content)).toEqual({
      accessKey: "backups",
      secretKey: `${MOCK_SECRET_PREFIX}os-users-backups-secret-key`,
    });
    expect(store.credentialsFor("backups").accessKey.key).toBe("accessKey");
  });

  it("only configured consumers get a bucket and a user", async () => {
    const { ObjectStore } = await load();
    const store = new ObjectStore("os-dev", args({ buckets: { app: "app", backups: "backups" } }));
    expect(await unwrap(store.buckets)).toEqual({ app: "app", backups: "backups" });
    expect(store.bucketFor("backups")).toBe("backups");
    expect(() => store.credentialsFor("loki")).toThrow(
      /no bucket for "loki"; it serves: app, backups/,
    );
  });

  it("probes use MinIO's health endpoints", async () => {
    const { ObjectStore } = await load();
    new ObjectStore("os-probes", args());
    const [server] = podSpecOf(
      await registered("kubernetes:apps/v1:StatefulSet", "os-probes"),
    ).containers;
    expect(server.readinessProbe).toMatchObject({
      httpGet: { path: "/minio/health/ready", port: "api" },
    });
    expect(server.livenessProbe).toMatchObject({
      httpGet: { path: "/minio/health/live", port: "api" },
    });
  });

  it("the endpoint and Service expose the S3 API on 9000 and the console on 9001", async () => {
    const { ObjectStore } = await load();
    const store = new ObjectStore("os-svc", args());
    expect(await unwrap(store.endpoint)).toBe("http://os-svc.platform.svc.cluster.local:9000");
    const service = await registered("kubernetes:core/v1:Service", "os-svc");
    expect((service.spec as { ports: unknown[] }).ports).toMatchObject([
      { name: "api", port: 9000, targetPort: "api" },
      { name: "console", port: 9001, targetPort: "console" },
    ]);
  });

  it("the server and the Job run non-root with a read-only root filesystem", async () => {
    const { ObjectStore } = await load();
    const store = new ObjectStore("os-secure", args());
    const server = podSpecOf(await registered("kubernetes:apps/v1:StatefulSet", "os-secure"));
    const job = podSpecOf(
      await registered("kubernetes:batch/v1:Job", await unwrap(store.bucketJob.metadata.name)),
    );
    for (const pod of [server, job]) {
      expect(pod.containers[0].securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
      });
    }
  });

  it("a failed bucket Job is replaced on the next up, and runs after the server", async () => {
    const { ObjectStore, BUCKET_JOB_LIMITS } = await load();
    const recorder = optionRecorder();
    const store = new ObjectStore("os-job", args(), { transformations: recorder.transformations });
    const job = await registered(
      "kubernetes:batch/v1:Job",
      await unwrap(store.bucketJob.metadata.name),
    );
    expect(job.metadata).toMatchObject({ annotations: { "pulumi.com/replaceUnready": "true" } });
    expect(job.spec).toMatchObject(BUCKET_JOB_LIMITS);
    expect(BUCKET_JOB_LIMITS.backoffLimit).toBeGreaterThan(0);
    expect(podSpecOf(job).restartPolicy).toBe("Never");
    const jobOptions = recorder.seen.find(
      (child) => child.type === "kubernetes:batch/v1:Job",
    )?.opts;
    expect(jobOptions?.dependsOn).toEqual([store.statefulSet]);
  });

  it("prod StatefulSets are protected and retained on delete", async () => {
    const { ObjectStore } = await load();
    const prod = optionRecorder();
    new ObjectStore("os-prod", args({ protect: true }), { transformations: prod.transformations });
    const dev = optionRecorder();
    new ObjectStore("os-nonprod", args(), { transformations: dev.transformations });
    const statefulSet = (seen: typeof prod.seen) =>
      seen.find((child) => child.type === "kubernetes:apps/v1:StatefulSet")?.opts;
    expect(statefulSet(prod.seen)).toMatchObject({ protect: true, retainOnDelete: true });
    expect(statefulSet(dev.seen)?.protect).toBeFalsy();
  });
});
