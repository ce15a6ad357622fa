import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { ROOT, runTool } from "./lib";

/**
 * The shipped stacks with Dragonfly's snapshots in a bucket: dev and prod in the object store, and
 * prod in an external S3 bucket with its keys as `secure:` values, rendered and checked as a user
 * would.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-dragonfly-snapshots-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered manifests, read by the assertions

interface Variant {
  stack: "dev" | "prod";
  stackFile: string;
  out: string;
}

/** A shipped stack file with its Dragonfly (and other) sections changed by `edit`. */
function variant(name: string, stack: Variant["stack"], edit: (config: Props) => void): Variant {
  const document = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  edit(document.config as Props);
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir);
  const stackFile = path.join(dir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(stackFile, stringify(document));
  return { stack, stackFile, out: path.join(dir, "out") };
}

const dragonflyOf = (config: Props): Props => (config["k3s-platform:dragonfly"] ??= {});

const devInCluster = variant("dev-in-cluster", "dev", (config) => {
  dragonflyOf(config).snapshotTarget = { type: "in-cluster" };
});
// Prod's object store is shared out whole by the shipped quotas: Dragonfly's 10Gi comes out of
// the backups' share here, as the quota rule asks a stack to.
const prodInCluster = variant("prod-in-cluster", "prod", (config) => {
  dragonflyOf(config).snapshotTarget = { type: "in-cluster", prefix: "prod/dragonfly" };
  config["k3s-platform:objectStore"].quotas = { backups: "30Gi" };
});
const prodExternal = variant("prod-external", "prod", (config) => {
  dragonflyOf(config).snapshotTarget = {
    type: "s3",
    endpoint: "https://s3.eu-central-1.amazonaws.com",
    region: "eu-central-1",
    bucket: "acme-dragonfly",
    prefix: "prod",
  };
  config["k3s-platform:dragonflyS3AccessKeyId"] = { secure: "v1:ciphertext-of-id" };
  config["k3s-platform:dragonflyS3SecretAccessKey"] = { secure: "v1:ciphertext-of-key" };
});

const manifest = (at: Variant, name: string): Props =>
  parse(fs.readFileSync(path.join(at.out, "manifests", `${name}.yaml`), "utf8"));
const manifestNames = (at: Variant) => fs.readdirSync(path.join(at.out, "manifests"));

function container(at: Variant): { args: string[]; env: Map<string, Props> } {
  const [main] = manifest(at, "statefulset-dragonfly").spec.template.spec.containers as Props[];
  return {
    args: main.args as string[],
    env: new Map((main.env as Props[]).map((variable) => [variable.name as string, variable])),
  };
}

/** The platform's egress rules of a workload's policy, without its DNS rule. */
function egressOf(at: Variant, workload: string): Props[] {
  const rules = manifest(at, `networkpolicy-allow-${workload}`).spec.egress as Props[];
  return rules.filter(
    (rule) => !rule.to.some((peer: Props) => peer.namespaceSelector?.matchLabels),
  );
}

function rendersAndPasses(at: Variant) {
  it("renders", () => {
    const result = runTool("render", [at.stack, "--stack-file", at.stackFile, "--out", at.out]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
}

function writesNoSecret(at: Variant) {
  it("writes no secret value anywhere", () => {
    for (const file of manifestNames(at)) {
      const text = fs.readFileSync(path.join(at.out, "manifests", file), "utf8");
      expect(text, file).not.toContain(MOCK_SECRET_PREFIX);
    }
  });
}

describe.each([
  ["dev", devInCluster, "s3://dragonfly/dragonfly/", "*/30 * * * *"],
  ["prod", prodInCluster, "s3://dragonfly/prod/dragonfly/", "*/15 * * * *"],
] as const)("%s with snapshots in the object store", (_name, at, dir, cron) => {
  rendersAndPasses(at);

  it("Dragonfly saves to and loads from the bucket's folder, on the profile's cadence", () => {
    const { args, env } = container(at);
    expect(args).toContain(`--dir=${dir}`);
    expect(args).toContain("--dbfilename=dump");
    expect(args).toContain(`--snapshot_cron=${cron}`);
    expect(env.get("DFLY_s3_endpoint")?.value).toBe("object-store.platform.svc.cluster.local:9000");
    expect(env.get("DFLY_s3_use_https")?.value).toBe("false");
    expect(env.get("AWS_REGION")?.value).toBe("us-east-1");
  });

  it("its key pair is the object store's dragonfly user, read through secretKeyRef", () => {
    const { env } = container(at);
    for (const [variable, key] of [
      ["AWS_ACCESS_KEY_ID", "accessKey"],
      ["AWS_SECRET_ACCESS_KEY", "secretKey"],
    ]) {
      expect(env.get(variable)).toEqual({
        name: variable,
        valueFrom: { secretKeyRef: { name: "object-store-dragonfly-credentials", key } },
      });
    }
    expect(manifest(at, "secret-object-store-dragonfly-credentials").stringData).toEqual({
      accessKey: "[secret]",
      secretKey: "[secret]",
    });
  });

  it("the bucket Job makes the bucket, its quota and a user scoped to it", () => {
    const job = manifestNames(at).find((name) => name.startsWith("job-object-store-buckets-"));
    const script = manifest(at, String(job).replace(/\.yaml$/, "")).spec.template.spec.containers[0]
      .command[2] as string;
    expect(script).toContain("mc mb --ignore-existing store/dragonfly\n");
    expect(script).toMatch(/mc quota set store\/dragonfly --size \d+\n/);
    expect(script).toContain('"Resource":["arn:aws:s3:::dragonfly/*"]');
    expect(script).toContain("mc admin policy attach store dragonfly-readwrite --user");
  });

  it("Dragonfly may reach the object store's API and nothing else new", () => {
    expect(egressOf(at, "dragonfly")).toEqual([
      {
        ports: [{ port: 9000, protocol: "TCP" }],
        to: [
          {
            podSelector: {
              matchLabels: {
                "app.kubernetes.io/component": "object-store",
                "app.kubernetes.io/instance": "platform",
                "app.kubernetes.io/name": "minio",
              },
            },
          },
        ],
      },
    ]);
    const ingress = manifest(at, "networkpolicy-allow-minio").spec.ingress as Props[];
    expect(ingress).toContainEqual({
      from: [
        {
          podSelector: {
            matchLabels: {
              "app.kubernetes.io/component": "cache",
              "app.kubernetes.io/instance": "platform",
              "app.kubernetes.io/name": "dragonfly",
            },
          },
        },
      ],
      ports: [{ port: 9000, protocol: "TCP" }],
    });
  });

  writesNoSecret(at);

  it("passes check, the reachability of the policies against the wiring included", () => {
    const result = runTool("check", [at.stack, "--stack-file", at.stackFile]);
    expect(result.stdout).toContain(`check ${at.stack}: passed`);
    expect(result.status).toBe(0);
  });
});

describe("prod with snapshots in an external S3 bucket", () => {
  const at = prodExternal;
  rendersAndPasses(at);

  it("Dragonfly addresses the bucket over https with the target's region", () => {
    const { args, env } = container(at);
    expect(args).toContain("--dir=s3://acme-dragonfly/prod/");
    expect(args).toContain("--dbfilename=dump");
    expect(env.get("DFLY_s3_endpoint")?.value).toBe("s3.eu-central-1.amazonaws.com:443");
    expect(env.get("DFLY_s3_use_https")?.value).toBe("true");
    expect(env.get("AWS_REGION")?.value).toBe("eu-central-1");
  });

  it("reads its keys from a Secret of its own, whose values the render never shows", () => {
    const { env } = container(at);
    expect(env.get("AWS_ACCESS_KEY_ID")?.valueFrom.secretKeyRef).toEqual({
      name: "dragonfly-s3",
      key: "accessKeyId",
    });
    expect(env.get("AWS_SECRET_ACCESS_KEY")?.valueFrom.secretKeyRef).toEqual({
      name: "dragonfly-s3",
      key: "secretAccessKey",
    });
    expect(manifest(at, "secret-dragonfly-s3").stringData).toEqual({
      accessKeyId: "[secret]",
      secretAccessKey: "[secret]",
    });
  });

  it("Dragonfly reaches the target's port outside the cluster, and not the object store", () => {
    const egress = egressOf(at, "dragonfly");
    expect(egress.map((rule) => rule.ports)).toEqual([[{ port: 443, protocol: "TCP" }]]);
    expect(egress[0].to[0].ipBlock.except).toEqual(
      expect.arrayContaining(["10.42.0.0/16", "10.43.0.0/16"]),
    );
    expect(manifestNames(at)).not.toContain("secret-object-store-dragonfly-credentials.yaml");
  });

  writesNoSecret(at);

  it("passes check, internet-egress included", () => {
    const result = runTool("check", [at.stack, "--stack-file", at.stackFile]);
    expect(result.stdout).toContain("check prod: passed");
    expect(result.status).toBe(0);
  });
});
