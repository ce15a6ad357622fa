import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../config";
import type { DragonflyArgs, DragonflySnapshotStore } from "../../components/dragonfly";
import { s3EndpointParts } from "../../core/s3";
import { SecretKey } from "../../components/lib/secrets";
import { MOCK_SECRET_PREFIX, registeredOfType, setupMocks } from "../mocks";
import { optionRecorder, plain } from "./recorded";
import { parsedStackConfig, rawStackConfig } from "./stack-config";

/**
 * Dragonfly's snapshots in an S3-compatible bucket: the flags and environment that point
 * Dragonfly v1.36 at it, where the key pair comes from, and the rules on the store's settings.
 */

const mocks = setupMocks();
/** The component module, loaded after the mocks are installed. */
const load = () => import("../../components/dragonfly");

/**
 * The flags this feature sets, with where Dragonfly v1.36.0 defines them (server_family.cc at tag
 * v1.36.0): `--dir` and `--dbfilename` on the command line, `--s3_endpoint` and `--s3_use_https`
 * as `DFLY_<flag>` variables (ParseFlagsFromEnv in dfly_main.cc; an unknown one is fatal).
 */
const DRAGONFLY_V1_36_S3_FLAGS = ["dir", "dbfilename", "s3_endpoint", "s3_use_https"];

const store = (overrides: Partial<DragonflySnapshotStore> = {}): DragonflySnapshotStore => ({
  endpoint: "http://object-store.platform.svc.cluster.local:9000",
  bucket: "dragonfly",
  prefix: "dragonfly",
  credentials: {
    accessKey: new SecretKey("object-store-dragonfly-credentials", "accessKey"),
    secretKey: new SecretKey("object-store-dragonfly-credentials", "secretKey"),
  },
  ...overrides,
});

function args(overrides: Partial<DragonflyArgs> = {}): DragonflyArgs {
  return {
    namespace: "platform",
    resources: { cpu: "100m", memory: "512Mi", cpuLimit: "1", memoryLimit: "512Mi" },
    storageSize: "1Gi",
    snapshotCron: "*/15 * * * *",
    snapshotStore: store(),
    ...overrides,
  };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
interface Container {
  args: string[];
  env: EnvVar[];
}

async function containerOf(name: string): Promise<Container> {
  const found = (await registeredOfType(mocks, "kubernetes:apps/v1:StatefulSet")).find(
    (resource) => resource.name === name,
  );
  if (!found) throw new Error(`no StatefulSet ${name}`);
  return (found.inputs as { spec: { template: { spec: { containers: Container[] } } } }).spec
    .template.spec.containers[0];
}

const flag = (container: Container, name: string) =>
  container.args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const envOf = (container: Container) => new Map(container.env.map((env) => [env.name, env]));

describe("Dragonfly's snapshot location", () => {
  it("a bucket's folder ends in '/', and the name has no placeholder v1.36 cannot find", async () => {
    const { snapshotLocation } = await load();
    expect(snapshotLocation({ bucket: "snaps", prefix: "prod/dragonfly" })).toEqual({
      dir: "s3://snaps/prod/dragonfly/",
      dbfilename: "dump",
    });
  });

  it("without a store, snapshots stay on the volume under one name", async () => {
    const { snapshotLocation } = await load();
    expect(snapshotLocation()).toEqual({ dir: "/data", dbfilename: "dump" });
  });

  it("every flag and DFLY_ variable set is one Dragonfly v1.36 defines", async () => {
    const { Dragonfly } = await load();
    new Dragonfly("df-flags", args());
    const container = await containerOf("df-flags");
    const names = [
      ...container.args.map((arg) => arg.replace(/^--/, "").split("=")[0]),
      ...container.env
        .filter((env) => env.name.startsWith("DFLY_"))
        .map((env) => env.name.slice("DFLY_".length)),
    ];
    for (const name of names.filter(
      (n) => n.startsWith("s3_") || ["dir", "dbfilename"].includes(n),
    )) {
      expect(DRAGONFLY_V1_36_S3_FLAGS, name).toContain(name);
    }
  });
});

describe("Dragonfly with a snapshot bucket", () => {
  it("points --dir at the bucket and passes the endpoint as host:port and scheme", async () => {
    const { Dragonfly } = await load();
    new Dragonfly("df-s3", args());
    const container = await containerOf("df-s3");
    expect(flag(container, "dir")).toBe("s3://dragonfly/dragonfly/");
    expect(flag(container, "dbfilename")).toBe("dump");
    expect(flag(container, "snapshot_cron")).toBe("*/15 * * * *");
    const env = envOf(container);
    expect(env.get("DFLY_s3_endpoint")?.value).toBe("object-store.platform.svc.cluster.local:9000");
    expect(env.get("DFLY_s3_use_https")?.value).toBe("false");
    expect(env.get("AWS_REGION")?.value).toBe("us-east-1");
  });

  it("the object store's key pair reaches Dragonfly only through secretKeyRef", async () => {
    const { Dragonfly } = await load();
    new Dragonfly("df-keys", args());
    const env = envOf(await containerOf("df-keys"));
    expect(env.get("AWS_ACCESS_KEY_ID")).toEqual({
      name: "AWS_ACCESS_KEY_ID",
      valueFrom: { secretKeyRef: { name: "object-store-dragonfly-credentials", key: "accessKey" } },
    });
    expect(env.get("AWS_SECRET_ACCESS_KEY")?.valueFrom?.secretKeyRef).toEqual({
      name: "object-store-dragonfly-credentials",
      key: "secretKey",
    });
    expect(env.get("AWS_SECRET_ACCESS_KEY")?.value).toBeUndefined();
  });

  it("an external key pair is kept in a Secret of its own, never in the pod spec", async () => {
    const { Dragonfly } = await load();
    new Dragonfly(
      "df-ext",
      args({
        snapshotStore: store({
          endpoint: "https://s3.eu-central-1.amazonaws.com",
          bucket: "acme-snapshots",
          region: "eu-central-1",
          credentials: {
            accessKeyId: pulumi.secret(`${MOCK_SECRET_PREFIX}id`),
            secretAccessKey: pulumi.secret(`${MOCK_SECRET_PREFIX}key`),
          },
        }),
      }),
    );
    const container = await containerOf("df-ext");
    const env = envOf(container);
    expect(env.get("DFLY_s3_endpoint")?.value).toBe("s3.eu-central-1.amazonaws.com:443");
    expect(env.get("DFLY_s3_use_https")?.value).toBe("true");
    expect(env.get("AWS_REGION")?.value).toBe("eu-central-1");
    expect(env.get("AWS_ACCESS_KEY_ID")?.valueFrom?.secretKeyRef).toEqual({
      name: "df-ext-s3",
      key: "accessKeyId",
    });
    expect(JSON.stringify(container)).not.toContain(MOCK_SECRET_PREFIX);
    const secret = (await registeredOfType(mocks, "kubernetes:core/v1:Secret")).find(
      (resource) => resource.name === "df-ext-s3",
    );
    expect(plain(secret?.inputs.stringData)).toEqual({
      accessKeyId: `${MOCK_SECRET_PREFIX}id`,
      secretAccessKey: `${MOCK_SECRET_PREFIX}key`,
    });
  });

  it("waits for what the store says must exist first (the bucket Job)", async () => {
    const { Dragonfly } = await load();
    const recorder = optionRecorder();
    const bucketJob = new pulumi.ComponentResource("test:index:Job", "bucket-job");
    new Dragonfly("df-order", args({ snapshotStore: store({ dependsOn: [bucketJob] }) }), {
      transformations: recorder.transformations,
    });
    const statefulSet = recorder.seen.find(
      (child) => child.type === "kubernetes:apps/v1:StatefulSet",
    );
    expect(statefulSet?.opts.dependsOn).toEqual([bucketJob]);
  });
});

describe("Dragonfly snapshot store rules", () => {
  it("a prefix that is no folder is refused, naming snapshotStore.prefix", async () => {
    const { dragonflyRules } = await load();
    for (const prefix of ["/dragonfly", "dragonfly/", "a//b", "a b", "it's"]) {
      const problems = dragonflyRules(args({ snapshotStore: store({ prefix }) }));
      expect(
        problems.map((problem) => problem.propertyPath),
        prefix,
      ).toEqual(["snapshotStore.prefix"]);
    }
  });

  it("an endpoint with a path, query or credentials is refused: Dragonfly would drop them", async () => {
    const { dragonflyRules } = await load();
    for (const endpoint of [
      "https://s3.example.com/base",
      "https://s3.example.com?x=1",
      "https://user:pw@s3.example.com",
      "ftp://s3.example.com",
    ]) {
      const problems = dragonflyRules(args({ snapshotStore: store({ endpoint }) }));
      expect(
        problems.map((problem) => problem.propertyPath),
        endpoint,
      ).toEqual(["snapshotStore.endpoint"]);
      expect(problems[0].reason).toContain("--s3_endpoint");
    }
  });

  it("valid stores have no problem", async () => {
    const { dragonflyRules } = await load();
    expect(dragonflyRules(args())).toEqual([]);
    expect(
      dragonflyRules(
        args({ snapshotStore: store({ endpoint: "https://minio.example.net:8443/" }) }),
      ),
    ).toEqual([]);
  });
});

describe("Dragonfly's snapshot settings from the stack config", () => {
  it("both profiles keep snapshots on the volume; prod every 15 minutes, dev every 30", async () => {
    const { argsForDragonfly } = await import("../../platform/args/dragonfly");
    const dev = argsForDragonfly(parsedStackConfig());
    const prod = argsForDragonfly(parsedStackConfig({ profile: "prod" }));
    expect([dev.snapshotStore, dev.snapshotCron]).toEqual([undefined, "*/30 * * * *"]);
    expect([prod.snapshotStore, prod.snapshotCron]).toEqual([undefined, "*/15 * * * *"]);
  });

  it("an in-cluster target gives the folder; the Platform adds the object store's bucket", async () => {
    const { argsForDragonfly, externalSnapshotTarget } =
      await import("../../platform/args/dragonfly");
    const config = parsedStackConfig({
      dragonfly: { snapshotTarget: { type: "in-cluster", prefix: "queues" } },
    });
    expect(argsForDragonfly(config).snapshotStore).toEqual({ prefix: "queues" });
    expect(externalSnapshotTarget(config)).toBeUndefined();
  });

  it("an s3 target gives its endpoint, region and folder, and its port for the policy", async () => {
    const { argsForDragonfly, externalSnapshotTarget } =
      await import("../../platform/args/dragonfly");
    const target = {
      type: "s3",
      endpoint: "https://minio.example.net:8443",
      region: "eu-west-1",
      bucket: "snaps",
      prefix: "prod",
    };
    const config = parseConfig(
      {
        ...rawStackConfig({ dragonfly: { snapshotTarget: target } }),
        "k3s-platform:dragonflyS3AccessKeyId": "AKIAEXAMPLE",
        "k3s-platform:dragonflyS3SecretAccessKey": "secret-access-key-example",
      },
      ["k3s-platform:dragonflyS3AccessKeyId", "k3s-platform:dragonflyS3SecretAccessKey"],
    );
    expect(argsForDragonfly(config).snapshotStore).toEqual({
      prefix: "prod",
      endpoint: "https://minio.example.net:8443",
      region: "eu-west-1",
    });
    expect(externalSnapshotTarget(config)).toEqual({
      endpoint: "https://minio.example.net:8443",
      bucket: "snaps",
      host: "minio.example.net",
      port: 8443,
    });
    expect(
      await pulumi.isSecret(config.secrets.dragonflyS3SecretAccessKey as pulumi.Output<string>),
    ).toBe(true);
  });
});

describe("s3EndpointParts", () => {
  it("writes the scheme's default port and tells https apart", () => {
    expect(s3EndpointParts("https://s3.example.com")).toEqual({
      hostPort: "s3.example.com:443",
      https: true,
    });
    expect(s3EndpointParts("http://minio:9000")).toEqual({ hostPort: "minio:9000", https: false });
    expect(s3EndpointParts("http://minio")).toEqual({ hostPort: "minio:80", https: false });
  });
});
