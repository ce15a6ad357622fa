import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { runTool, secureKeys, stackVariant, type Props } from "./lib";

/**
 * The prod stack with its backups sent off the node: an external S3 target with a private CA and
 * its keys as `secure:` values, rendered and checked as a user would.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-backup-target-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const CA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";
const { stackFile, out, manifest } = stackVariant("prod", scratch, (config) => {
  const postgres = config["k3s-platform:postgres"];
  delete postgres.backup.acceptBackupsOnNode;
  postgres.backup.target = {
    type: "s3",
    endpoint: "https://backups.example.net:8443",
    region: "eu-central-1",
    bucket: "acme-platform-backups",
    prefix: "prod/postgres",
    pathStyle: true,
    caBundle: CA,
  };
  secureKeys(config, ["backupS3AccessKeyId", "backupS3SecretAccessKey"]);
});

describe("prod with an external backup target", () => {
  it("renders", () => {
    const result = runTool("render", ["prod", "--stack-file", stackFile, "--out", out]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("the uploader reaches the target's port outside the cluster, and not the object store", () => {
    const egress = manifest("networkpolicy-allow-postgres-backup").spec.egress as Props[];
    const outside = egress.filter((rule) => rule.to.some((peer: Props) => peer.ipBlock));
    expect(outside.map((rule) => rule.ports)).toEqual([[{ port: 8443, protocol: "TCP" }]]);
    expect(outside[0].to[0].ipBlock.except).toEqual(
      expect.arrayContaining(["10.42.0.0/16", "10.43.0.0/16"]),
    );
    expect(JSON.stringify(egress)).not.toContain("object-store");
  });

  it("reads its keys from a Secret of its own, and trusts the CA from a ConfigMap", () => {
    const cronJob = manifest("cronjob-postgres-backup");
    const pod = cronJob.spec.jobTemplate.spec.template.spec;
    const env = new Map<string, Props>(
      (pod.containers[0].env as Props[]).map((variable) => [variable.name, variable]),
    );
    expect(env.get("RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY")?.valueFrom.secretKeyRef).toEqual({
      name: "postgres-backup-s3",
      key: "secretAccessKey",
    });
    expect(env.get("RCLONE_CONFIG_TARGET_ENDPOINT")?.value).toBe(
      "https://backups.example.net:8443",
    );
    expect(manifest("configmap-postgres-backup-ca").data).toEqual({ "ca.crt": CA });
    expect(manifest("secret-postgres-backup-s3").stringData).toEqual({
      accessKeyId: "[secret]",
      secretAccessKey: "[secret]",
    });
  });

  it("the object store keeps no backups bucket, user or quota for it", () => {
    const manifests = fs.readdirSync(path.join(out, "manifests"));
    expect(manifests).not.toContain("secret-object-store-backups-credentials.yaml");
    const job = manifests.find((name) => name.startsWith("job-object-store-buckets-"));
    const script = manifest(String(job).replace(/\.yaml$/, "")).spec.template.spec.containers[0]
      .command[2] as string;
    expect(script).toContain("mc mb --ignore-existing store/app\n");
    expect(script).not.toMatch(/store\/backups|backups-readwrite/);
  });

  it("writes no secret value anywhere", () => {
    for (const file of fs.readdirSync(path.join(out, "manifests"))) {
      const text = fs.readFileSync(path.join(out, "manifests", file), "utf8");
      expect(text, file).not.toContain(MOCK_SECRET_PREFIX);
    }
  });

  it("passes check, internet-egress included", () => {
    const result = runTool("check", ["prod", "--stack-file", stackFile]);
    expect(result.stdout).toContain("check prod: passed");
    expect(result.status).toBe(0);
  });
});
