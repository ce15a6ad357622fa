import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runTool, secureKeys, stackVariant, type Props } from "./lib";

/**
 * Prod's point-in-time recovery as a user renders it: WAL archiving to an external target, and a
 * new stack that starts from another stack's archive (`restoreFrom` with `restorePrefix`).
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-pitr-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const { stackFile, out } = stackVariant("prod", scratch, (config) => {
  const postgres = config["k3s-platform:postgres"];
  delete postgres.backup.acceptBackupsOnNode;
  postgres.backup.target = {
    type: "s3",
    endpoint: "https://backups.example.net:8443",
    bucket: "acme-platform-backups",
    prefix: "prod-2/postgres",
  };
  // The restore rebuilds the single server; a Patroni cluster bootstraps its own members.
  postgres.ha = { ...postgres.ha, enabled: false };
  postgres.restoreFrom = "2026-12-01T11:30:00+01:00";
  postgres.restorePrefix = "prod/postgres";
  secureKeys(config, ["backupS3AccessKeyId", "backupS3SecretAccessKey"]);
});
const plainOut = path.join(scratch, "plain");

/** A manifest of the variant's render (`out`) or of the shipped dev render (`plainOut`). */
const manifest = (dir: string, name: string): Props =>
  parse(fs.readFileSync(path.join(dir, "manifests", `${name}.yaml`), "utf8"));
const envOf = (container: Props) =>
  new Map<string, Props>((container.env as Props[]).map((variable) => [variable.name, variable]));

describe("prod with WAL archiving, restoring from another stack's archive", () => {
  it("renders", () => {
    const result = runTool("render", ["prod", "--stack-file", stackFile, "--out", out]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("the server archives into the spool on its volume and lets the backup role stream", () => {
    const config = manifest(out, "configmap-postgres-config").data;
    const conf = config["postgresql.conf"] as string;
    expect(conf).toMatch(/^archive_mode = on$/m);
    expect(conf).toMatch(/^archive_timeout = 60$/m);
    expect(conf).toMatch(/^archive_command = '.*\/var\/lib\/postgresql\/data\/wal-spool\/%f.*'$/m);
    expect(config["pg_hba.conf"]).toMatch(
      /^host +replication +backup +0\.0\.0\.0\/0 +scram-sha-256$/m,
    );
    const sql = manifest(out, "configmap-postgres-init").data["10-platform.sql"] as string;
    expect(sql).toMatch(/ALTER ROLE backup WITH LOGIN .* REPLICATION BYPASSRLS/);
    expect(sql).toMatch(/ALTER ROLE app WITH LOGIN .* NOREPLICATION NOBYPASSRLS/);
  });

  it("a sidecar uploads the spool with the target's keys from a Secret, alive but never gating", () => {
    const pod = manifest(out, "statefulset-postgres").spec.template.spec;
    const sidecar = (pod.containers as Props[]).find((c) => c.name === "wal-upload") as Props;
    const env = envOf(sidecar);
    expect(env.get("WAL_SPOOL")?.value).toBe("/var/lib/postgresql/data/wal-spool");
    expect(env.get("WAL_UPLOAD_INTERVAL")?.value).toBe("30");
    expect(env.get("S3_PREFIX")?.value).toBe("prod-2/postgres");
    expect(env.get("RCLONE_CONFIG_TARGET_ACCESS_KEY_ID")?.valueFrom.secretKeyRef).toEqual({
      name: "postgres-backup-s3",
      key: "accessKeyId",
    });
    expect(sidecar.livenessProbe.exec.command.join(" ")).toContain("/tmp/wal-upload.alive");
    expect(sidecar.readinessProbe).toBeUndefined();
  });

  it("the restore runs first in the database pod, from the old stack's prefix, to the UTC point", () => {
    const pod = manifest(out, "statefulset-postgres").spec.template.spec;
    const [fetch, apply] = pod.initContainers as Props[];
    expect((pod.initContainers as Props[]).map((c) => c.name)).toEqual([
      "restore-fetch",
      "restore-apply",
    ]);
    const fetchEnv = envOf(fetch);
    expect(fetchEnv.get("RESTORE_PREFIX")?.value).toBe("prod/postgres");
    expect(fetchEnv.get("RESTORE_TIME")?.value).toBe("2026-12-01T10:30:00Z");
    expect(fetchEnv.get("RESTORE_BACKUP")?.value).toBe("");
    expect(fetch.image).toMatch(/rclone/);
    expect(apply.image).toMatch(/postgres:15\./);
    expect(envOf(apply).get("SUPERUSER_PASSWORD_FILE")?.value).toBe(
      "/etc/postgresql-superuser/password",
    );
    expect(JSON.stringify(envOf(apply).get("RESTORE_FROM"))).toContain("2026-12-01T10:30:00Z");
  });

  it("the role reconcile, migrations and PgBouncer wait for the StatefulSet the restore is in", () => {
    const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8")) as {
      resources: { urn: string; type: string; name: string; dependencies: string[] }[];
    };
    const named = (type: string, name: RegExp) => {
      const found = plan.resources.filter(
        (r) => r.type === `kubernetes:${type}` && name.test(r.name),
      );
      expect(found, `${type} ${name}`).toHaveLength(1);
      return found[0];
    };
    const statefulSet = named("apps/v1:StatefulSet", /^postgres$/);
    const roles = named("batch/v1:Job", /^postgres-roles$/);
    expect(roles.dependencies).toContain(statefulSet.urn);
    for (const consumer of [
      named("batch/v1:Job", /^migrations-[0-9a-f]{8}$/),
      named("apps/v1:Deployment", /^pgbouncer$/),
    ]) {
      expect(consumer.dependencies, consumer.name).toContain(roles.urn);
    }
  });

  it("both backup CronJobs get a threshold, so both backup alerts judge them", () => {
    const rules = manifest(out, "configmap-prometheus-rules").data["backup-schedule.yaml"];
    const recorded = parse(rules).groups[0].rules as Props[];
    // Daily schedules: the longest gap (24 h) plus one run's deadline (6 h).
    expect(recorded.map((rule) => [rule.labels.cronjob, rule.expr])).toEqual([
      ["postgres-backup", "vector(108000)"],
      ["postgres-basebackup", "vector(108000)"],
    ]);
  });

  it("base backups run on their own schedule, keeping by count and age", () => {
    const cronJob = manifest(out, "cronjob-postgres-basebackup");
    expect(cronJob.spec.schedule).toBe("30 1 * * *");
    const pod = cronJob.spec.jobTemplate.spec.template.spec;
    expect(pod.initContainers[0].name).toBe("basebackup");
    const env = envOf(pod.containers[0]);
    expect([env.get("KEEP_BASE_BACKUPS")?.value, env.get("KEEP_DAYS")?.value]).toEqual(["2", "7"]);
  });

  it("the database pod may reach the target's port, and the base backup Postgres and the target", () => {
    const egress = (name: string) =>
      manifest(out, `networkpolicy-allow-${name}`).spec.egress as Props[];
    const outside = (rules: Props[]) =>
      rules.filter((rule) => rule.to.some((peer: Props) => peer.ipBlock)).map((r) => r.ports);
    expect(outside(egress("postgres"))).toEqual([[{ port: 8443, protocol: "TCP" }]]);
    expect(outside(egress("postgres-basebackup"))).toEqual([[{ port: 8443, protocol: "TCP" }]]);
    expect(JSON.stringify(egress("postgres-basebackup"))).toContain('"port":5432');
  });

  it("the checks pass on it", () => {
    const result = runTool("check", ["prod", "--stack-file", stackFile, "--out", out]);
    expect(result.stdout).toMatch(/policy\.+ ok/);
    expect(result.status).toBe(0);
  });
});

describe("the shipped stacks", () => {
  it("dev, without backups, archives nothing and runs no base backups", () => {
    const result = runTool("render", ["dev", "--out", plainOut]);
    expect(result.status).toBe(0);
    const conf = manifest(plainOut, "configmap-postgres-config").data["postgresql.conf"];
    expect(conf).not.toMatch(/archive_mode/);
    const pod = manifest(plainOut, "statefulset-postgres").spec.template.spec;
    expect((pod.containers as Props[]).map((c) => c.name)).toEqual(["postgres", "exporter"]);
    expect(pod.initContainers).toBeUndefined();
    expect(fs.readdirSync(path.join(plainOut, "manifests"))).not.toContain(
      "cronjob-postgres-basebackup.yaml",
    );
  });
});
