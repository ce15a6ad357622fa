import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { runTool, secureKeys, stackVariant, type Props } from "./lib";

/**
 * Prod with Loki and Tempo at the backup target: the external S3 endpoint the backups use, in
 * buckets and with a key pair of their own, so a lost node loses neither logs nor traces.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-telemetry-target-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const { stackFile, out, manifest } = stackVariant("prod", scratch, (config) => {
  const postgres = config["k3s-platform:postgres"];
  delete postgres.backup.acceptBackupsOnNode;
  postgres.backup.target = {
    type: "s3",
    endpoint: "https://s3.eu-central-1.amazonaws.com",
    region: "eu-central-1",
    bucket: "acme-platform-backups",
    prefix: "prod/postgres",
    pathStyle: false,
  };
  config["k3s-platform:observability"] = {
    ...config["k3s-platform:observability"],
    objectStorageTarget: "backup-target",
    externalBuckets: { loki: "acme-platform-logs", tempo: "acme-platform-traces" },
  };
  secureKeys(config, [
    "backupS3AccessKeyId",
    "backupS3SecretAccessKey",
    "telemetryS3AccessKeyId",
    "telemetryS3SecretAccessKey",
  ]);
});

describe("prod with Loki and Tempo at the backup target", () => {
  it("renders", () => {
    const result = runTool("render", ["prod", "--stack-file", stackFile, "--out", out]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("Loki and Tempo write to their own buckets at the external endpoint, virtual-hosted", () => {
    const loki = parse(manifest("configmap-loki-config").data["loki.yaml"]);
    expect(loki.common.storage.s3).toMatchObject({
      endpoint: "s3.eu-central-1.amazonaws.com",
      bucketnames: "acme-platform-logs",
      region: "eu-central-1",
      insecure: false,
      s3forcepathstyle: false,
    });
    const tempo = parse(manifest("configmap-tempo-config").data["tempo.yaml"]);
    expect(tempo.storage.trace.s3).toMatchObject({
      bucket: "acme-platform-traces",
      endpoint: "s3.eu-central-1.amazonaws.com",
      forcepathstyle: false,
    });
  });

  it("their key pair is one of their own, from Secrets, never the backups'", () => {
    for (const store of ["loki", "tempo"]) {
      const pod = manifest(`statefulset-${store}`).spec.template.spec;
      const env = new Map<string, Props>(
        (pod.containers[0].env as Props[]).map((variable) => [variable.name, variable]),
      );
      expect(env.get("S3_ACCESS_KEY_ID")?.valueFrom.secretKeyRef).toEqual({
        name: `${store}-s3`,
        key: "accessKeyId",
      });
      expect(env.get("S3_ENDPOINT")?.value).toBe("https://s3.eu-central-1.amazonaws.com");
      expect(manifest(`secret-${store}-s3`).stringData).toEqual({
        accessKeyId: "[secret]",
        secretAccessKey: "[secret]",
      });
    }
  });

  it("they reach the endpoint's port outside the cluster, and the object store keeps no bucket for them", () => {
    for (const store of ["loki", "tempo"]) {
      const egress = manifest(`networkpolicy-allow-${store}`).spec.egress as Props[];
      const outside = egress.filter((rule) => rule.to.some((peer: Props) => peer.ipBlock));
      expect(outside.map((rule) => rule.ports)).toEqual([[{ port: 443, protocol: "TCP" }]]);
      expect(JSON.stringify(egress)).not.toContain("object-store");
    }
    const manifests = fs.readdirSync(path.join(out, "manifests"));
    const job = manifests.find((name) => name.startsWith("job-object-store-buckets-"));
    const script = manifest(String(job).replace(/\.yaml$/, "")).spec.template.spec.containers[0]
      .command[2] as string;
    expect(script).not.toMatch(/store\/loki|store\/tempo/);
  });

  it("writes no secret value anywhere, and passes check", () => {
    for (const file of fs.readdirSync(path.join(out, "manifests"))) {
      const text = fs.readFileSync(path.join(out, "manifests", file), "utf8");
      expect(text, file).not.toContain(MOCK_SECRET_PREFIX);
    }
    const result = runTool("check", ["prod", "--stack-file", stackFile]);
    expect(result.stdout).toContain("check prod: passed");
    expect(result.status).toBe(0);
  });
});
