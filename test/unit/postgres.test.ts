import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type { Postgres, PostgresArgs, PostgresSettings } from "../../components/postgres";
import { memoryCeiling } from "../../components/lib/resources";
import { cataloguePostgresMajor } from "../../core/images";
import { POSTGRES_MAX_CONNECTIONS, postgresRules } from "../../components/postgres/args";
import { backupDumpScript, backupUploadScript } from "../../components/postgres/backup";
import { memorySettings, pgHbaConf, postgresqlConf } from "../../components/postgres/config";
import { APP_ROLE, initSql, platformRoles, TEMPORAL_ROLE } from "../../components/postgres/init";
import {
  ROLES_JOB_SQL_ENV,
  rolesJobName,
  rolesJobScript,
} from "../../components/postgres/roles-job";
import type { PlatformSettings } from "../../stack-config/types";
import { MOCK_SECRET_PREFIX, registeredOfType, setupMocks, unwrap } from "../mocks";
import { optionRecorder, pick, registeredUnder, type Recorded } from "./recorded";
import {
  APP_IMAGE_BY_DIGEST,
  issuesByKey,
  parsedStackConfig,
  stackConfigIssues,
} from "./stack-config";

const mocks = setupMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- container specs are plain JSON here
type Json = any;

const conf = (overrides: Partial<Parameters<typeof postgresqlConf>[0]> = {}) =>
  postgresqlConf({
    maxConnections: 100,
    superuserReservedConnections: 3,
    memoryLimit: "1Gi",
    hbaFile: "/etc/postgresql/pg_hba.conf",
    ...overrides,
  });

describe("postgresql.conf", () => {
  it("shared_buffers is a quarter of the memory limit, effective_cache_size three quarters", () => {
    const text = conf({ memoryLimit: "4Gi" });
    expect(text).toMatch(/^shared_buffers = '1024MB'$/m);
    expect(text).toMatch(/^effective_cache_size = '3072MB'$/m);
  });

  it("work_mem leaves room for two sorts per connection beside shared_buffers", () => {
    // (1024 − 256) MiB over 2 × 100 connections.
    expect(memorySettings("1Gi", 100).workMemMiB).toBe(3);
    expect(memorySettings("4Gi", 200).workMemMiB).toBe(7);
    expect(memorySettings("256Mi", 1000).workMemMiB).toBe(1);
  });

  it("listens on every address, stores SCRAM verifiers and logs to stderr", () => {
    const text = conf();
    expect(text).toMatch(/^listen_addresses = '\*'$/m);
    expect(text).toMatch(/^password_encryption = 'scram-sha-256'$/m);
    expect(text).toMatch(/^logging_collector = off$/m);
    expect(text).toMatch(/^log_destination = 'stderr'$/m);
    expect(text).toMatch(/^hba_file = '\/etc\/postgresql\/pg_hba.conf'$/m);
  });

  it("max_connections and the superuser reserve come from the args", () => {
    const text = conf({ maxConnections: 200, superuserReservedConnections: 5 });
    expect(text).toMatch(/^max_connections = 200$/m);
    expect(text).toMatch(/^superuser_reserved_connections = 5$/m);
  });

  it("extra settings win over derived ones", () => {
    const text = conf({ settings: { work_mem: "16MB", jit: false } });
    expect(text).toMatch(/^work_mem = '16MB'$/m);
    expect(text).not.toMatch(/^work_mem = '3MB'$/m);
    expect(text).toMatch(/^jit = off$/m);
  });
});

describe("pg_hba.conf", () => {
  it("admits every network client by SCRAM only: no trust, no md5, no password", () => {
    const rules = pgHbaConf()
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#"));
    expect(rules.filter((r) => r.startsWith("host"))).toHaveLength(2);
    for (const rule of rules.filter((r) => r.startsWith("host"))) {
      expect(rule).toMatch(/scram-sha-256$/);
    }
    expect(pgHbaConf()).not.toMatch(/\b(trust|md5|password)\b/);
  });
});

describe("init SQL", () => {
  const sql = initSql(platformRoles(), "/etc/postgresql-roles");

  it("the app role owns only the app database", () => {
    expect(sql.match(/OWNER app\b/g)).toHaveLength(1);
    expect(sql).toMatch(/CREATE DATABASE app OWNER app'/);
    expect(APP_ROLE.owns).toEqual(["app"]);
  });

  it("the temporal role owns temporal and temporal_visibility", () => {
    expect(TEMPORAL_ROLE.owns).toEqual(["temporal", "temporal_visibility"]);
    expect(sql).toMatch(/ALTER DATABASE temporal OWNER TO temporal;/);
    expect(sql).toMatch(/ALTER DATABASE temporal_visibility OWNER TO temporal;/);
  });

  it("the app role cannot connect to the temporal databases", () => {
    for (const db of ["temporal", "temporal_visibility", "postgres"]) {
      expect(sql).toContain(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC;`);
      expect(sql).not.toMatch(new RegExp(`GRANT CONNECT ON DATABASE ${db} TO app;`));
    }
  });

  it("holds no password: each verifier is read from the role's mounted Secret file", () => {
    for (const role of ["app", "app2", "temporal", "exporter", "backup"]) {
      expect(sql).toContain(
        `\\set ${role}_verifier \`cat /etc/postgresql-roles/${role}/scramVerifier\``,
      );
      expect(sql).toMatch(
        new RegExp(`ALTER ROLE ${role} WITH LOGIN .* PASSWORD :'${role}_verifier';`),
      );
    }
    expect(sql).not.toMatch(/SCRAM-SHA-256\$/);
    expect(sql).not.toMatch(/PASSWORD '/);
  });

  it("every CREATE is guarded, so the file can run again on an initialised server", () => {
    const creates = sql.split("\n").filter((line) => /CREATE (ROLE|DATABASE)/.test(line));
    expect(creates.length).toBe(8);
    for (const line of creates) expect(line).toMatch(/WHERE NOT EXISTS .*\\gexec$/);
  });

  it("app2 logs in to the app database and acts as app, which owns it and what it creates", () => {
    expect(sql).toContain("GRANT app TO app2;");
    expect(sql).toContain("ALTER ROLE app2 SET role = 'app';");
    expect(sql).toContain("GRANT CONNECT ON DATABASE app TO app2;");
    expect(sql).not.toMatch(/OWNER (TO )?app2/);
    expect(sql.match(/SET role/g)).toHaveLength(1);
  });

  it("monitoring and backup roles get predefined roles, not ownership", () => {
    expect(sql).toContain("GRANT pg_monitor TO exporter;");
    expect(sql).toContain("GRANT pg_read_all_data TO backup;");
    expect(sql).toMatch(
      /ALTER ROLE app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION/,
    );
  });

  it("names that would need quoting are refused", () => {
    expect(() => initSql([{ name: "App; DROP", owns: ["x"] }], "/r")).toThrow(/role name/);
    expect(() =>
      initSql(
        [
          { name: "a", owns: ["b"] },
          { name: "c", owns: ["b"] },
        ],
        "/r",
      ),
    ).toThrow(/two owners/);
  });
});

describe("backup scripts", () => {
  it("dump every database that allows connections, compressed, in custom format", () => {
    const script = backupDumpScript();
    expect(script).toMatch(/^set -euo pipefail$/m);
    expect(script).toContain("WHERE datallowconn AND NOT datistemplate");
    expect(script).toMatch(/pg_dump --format=custom --compress=6/);
    expect(script).toMatch(/pg_restore --list/);
  });

  it("the upload deletes all but the newest BACKUP_RETAIN backups, and only stamped folders", () => {
    const script = backupUploadScript();
    expect(script).toContain("excess=$((count - BACKUP_RETAIN))");
    expect(script).toContain(
      "[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z/)",
    );
    expect(script).toContain('rclone purge "${target}/${name%/}"');
    // Credentials reach rclone from the environment (secretKeyRef), never through the script.
    expect(script).not.toMatch(/KEY|SECRET|PASSWORD/);
  });
});

/** What Platform passes for each profile (the profile defaults of the stack config). */
function postgresArgs(profile: "dev" | "prod"): PostgresArgs {
  const dev = profile === "dev";
  return {
    namespace: "platform",
    storageSize: dev ? "5Gi" : "50Gi",
    storageClass: "local-path",
    resources: dev
      ? { cpu: "250m", memory: "512Mi", memoryLimit: "1Gi" }
      : { cpu: "1", memory: "4Gi", cpuLimit: "4", memoryLimit: "4Gi" },
    maxConnections: dev ? 100 : 200,
    superuserReservedConnections: 3,
    protect: !dev,
  };
}

const containersOf = (podSpec: Json): Json[] => [
  ...(podSpec.initContainers ?? []),
  ...podSpec.containers,
];

describe("Postgres (dev)", () => {
  let resources: Recorded[];
  let component: Postgres;
  let sts: Json;
  let pod: Json;

  beforeAll(async () => {
    const { Postgres } = await import("../../components/postgres");
    const recorder = optionRecorder();
    component = new Postgres("pg-dev", postgresArgs("dev"), {
      transformations: recorder.transformations,
    });
    await unwrap(component.directUrl);
    resources = await registeredUnder(mocks, "pg-dev", recorder.opts);
    sts = pick(resources, "StatefulSet", "pg-dev").inputs;
    pod = sts.spec.template.spec;
  });

  it("every object has an explicit name and the namespace from the args", () => {
    for (const r of resources.filter((r) => r.type.startsWith("kubernetes:"))) {
      // The role-reconcile Job's name carries the hash of what it applies.
      if (r.type.endsWith(":Job"))
        expect(r.inputs.metadata.name).toMatch(/^pg-dev-roles-[0-9a-f]{8}$/);
      else expect(r.inputs.metadata.name, r.name).toBe(r.name);
      expect(r.inputs.metadata.namespace, r.name).toBe("platform");
    }
  });

  it("no password appears in any ConfigMap", () => {
    const configMaps = resources.filter((r) => r.type === "kubernetes:core/v1:ConfigMap");
    expect(configMaps.map((c) => c.name).sort()).toEqual([
      "pg-dev-config",
      "pg-dev-init",
      "pg-dev-topology",
    ]);
    const text = JSON.stringify(configMaps.map((c) => c.inputs));
    expect(text).not.toContain(MOCK_SECRET_PREFIX);
    expect(text).not.toMatch(/SCRAM-SHA-256\$/);
  });

  it("every credential reaches a container through secretKeyRef or a mounted Secret", () => {
    for (const c of containersOf(pod)) {
      for (const env of c.env ?? []) {
        expect(JSON.stringify(env), `${c.name} ${env.name}`).not.toContain(MOCK_SECRET_PREFIX);
        if (/PASS/.test(env.name) && !env.name.endsWith("_FILE"))
          expect(env.valueFrom?.secretKeyRef).toBeDefined();
      }
    }
    expect(pod.containers[0].env.find((e: Json) => e.name === "POSTGRES_PASSWORD_FILE").value).toBe(
      "/etc/postgresql-superuser/password",
    );
  });

  it("each consumer role has its own Secret with username, password and a ready url", () => {
    for (const [role, db] of [
      ["app", "app"],
      ["temporal", "temporal"],
    ]) {
      const data = pick(resources, "Secret", `pg-dev-${role}`).inputs.stringData;
      expect(data).toMatchObject({ username: role, database: db });
      expect(data.password).toBe(`${MOCK_SECRET_PREFIX}pg-dev-${role}-password`);
      expect(data.url).toBe(
        `postgres://${role}:${data.password}@pg-dev.platform.svc.cluster.local:5432/${db}`,
      );
    }
  });

  it("the role Secrets' verifiers are what the database is given at first start", async () => {
    const app = pick(resources, "Secret", "pg-dev-app").inputs.stringData;
    const credentials = await unwrap(component.appCredentials);
    expect(credentials.scramVerifier).toBe(app.scramVerifier);
    expect(app.scramVerifier).toMatch(/^SCRAM-SHA-256\$4096:/);
    const volume = pod.volumes.find((v: Json) => v.name === "role-app");
    expect(volume.secret).toMatchObject({
      secretName: "pg-dev-app",
      items: [{ key: "scramVerifier", path: "scramVerifier" }],
    });
  });

  it("host is the client Service's DNS name and directUrl, a secret, connects as app to app", async () => {
    expect(await unwrap(component.host)).toBe("pg-dev.platform.svc.cluster.local");
    expect(await unwrap(component.headlessHost)).toBe("pg-dev-headless.platform.svc.cluster.local");
    expect(await unwrap(component.port)).toBe(5432);
    expect(await pulumi.isSecret(component.directUrl)).toBe(true);
    expect(await unwrap(component.directUrl)).toBe(
      `postgres://app:${MOCK_SECRET_PREFIX}pg-dev-app-password@pg-dev.platform.svc.cluster.local:5432/app`,
    );
  });

  it("the data volume uses the storage class and size from the args; PGDATA is a subdirectory", () => {
    const [claim] = sts.spec.volumeClaimTemplates;
    expect(claim.spec).toMatchObject({
      storageClassName: "local-path",
      resources: { requests: { storage: "5Gi" } },
    });
    const postgres = pod.containers[0];
    const mount = postgres.volumeMounts.find((m: Json) => m.name === claim.metadata.name);
    const pgdata = postgres.env.find((e: Json) => e.name === "PGDATA").value;
    expect(pgdata.startsWith(`${mount.mountPath}/`)).toBe(true);
  });

  it("runs as the image's postgres user with a read-only root; socket and /tmp are emptyDirs", () => {
    expect(pod.securityContext).toMatchObject({ runAsUser: 999, runAsNonRoot: true });
    const postgres = pod.containers[0];
    expect(postgres.securityContext.readOnlyRootFilesystem).toBe(true);
    for (const path of ["/var/run/postgresql", "/tmp", "/dev/shm"]) {
      const mount = postgres.volumeMounts.find((m: Json) => m.mountPath === path);
      expect(pod.volumes.find((v: Json) => v.name === mount.name).emptyDir, path).toBeDefined();
    }
  });

  it("the config file and the init SQL are mounted where the server and the entrypoint read them", () => {
    const postgres = pod.containers[0];
    expect(postgres.args).toEqual([
      "postgres",
      "-c",
      "config_file=/etc/postgresql/postgresql.conf",
    ]);
    const init = postgres.volumeMounts.find((m: Json) => m.name === "init");
    expect(init.mountPath).toBe("/docker-entrypoint-initdb.d");
    expect(pod.volumes.find((v: Json) => v.name === "init").configMap.name).toBe("pg-dev-init");
  });

  it("probes run pg_isready: readiness over TCP, liveness over the socket", () => {
    const { readinessProbe, livenessProbe, startupProbe } = pod.containers[0];
    expect(readinessProbe.exec.command).toEqual([
      "pg_isready",
      "--quiet",
      "--host=127.0.0.1",
      "--port=5432",
    ]);
    expect(livenessProbe.exec.command[0]).toBe("pg_isready");
    expect(livenessProbe.exec.command).toContain("--host=/var/run/postgresql");
    expect(startupProbe).toBeDefined();
  });

  it("the exporter sidecar is scraped on 9187 and logs in as the pg_monitor role", () => {
    const exporter = pod.containers.find((c: Json) => c.name === "exporter");
    expect(exporter.ports).toEqual([{ name: "metrics", containerPort: 9187, protocol: "TCP" }]);
    expect(sts.spec.template.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9187",
    });
    const pass = exporter.env.find((e: Json) => e.name === "DATA_SOURCE_PASS");
    expect(pass.valueFrom.secretKeyRef).toEqual({ name: "pg-dev-exporter", key: "password" });
  });

  it("the exporter sidecar gets the nano preset unless told otherwise", () => {
    const exporter = pod.containers.find((c: Json) => c.name === "exporter");
    expect(exporter.resources).toEqual({
      requests: { cpu: "25m", memory: "64Mi" },
      limits: { cpu: "250m", memory: "128Mi" },
    });
  });

  it("the pod template carries a config hash, so a config change rolls the pod", () => {
    expect(sts.spec.template.metadata.annotations["k3s-platform/config-hash"]).toMatch(
      /^[0-9a-f]{16}$/,
    );
  });

  it("the headless Service is the StatefulSet's serviceName and publishes not-ready pods", () => {
    const headless = pick(resources, "Service", "pg-dev-headless").inputs;
    expect(sts.spec.serviceName).toBe("pg-dev-headless");
    expect(headless.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect(headless.spec.selector).toEqual(sts.spec.selector.matchLabels);
    expect(pick(resources, "Service", "pg-dev").inputs.spec.ports).toEqual([
      { name: "postgres", port: 5432, targetPort: "postgres", protocol: "TCP" },
    ]);
  });

  it("dev StatefulSet is not protected, and dev has no backup CronJob", () => {
    expect(pick(resources, "StatefulSet", "pg-dev").opts.protect).toBeFalsy();
    expect(resources.some((r) => r.type.endsWith(":CronJob"))).toBe(false);
  });

  it("shared_buffers in the rendered ConfigMap follows the container's memory limit", () => {
    const rendered = pick(resources, "ConfigMap", "pg-dev-config").inputs.data["postgresql.conf"];
    expect(memoryCeiling(postgresArgs("dev").resources)).toBe("1Gi");
    expect(rendered).toMatch(/^shared_buffers = '256MB'$/m);
    expect(rendered).toMatch(/^max_connections = 100$/m);
  });
});

describe("the role-reconcile Job", () => {
  let resources: Recorded[];
  let component: Postgres;
  let job: Recorded;
  let pod: Json;
  let sts: Json;

  beforeAll(async () => {
    const { Postgres } = await import("../../components/postgres");
    const recorder = optionRecorder();
    component = new Postgres("pgr", postgresArgs("dev"), {
      transformations: recorder.transformations,
    });
    await unwrap(component.directUrl);
    resources = await registeredUnder(mocks, "pgr", recorder.opts);
    job = pick(resources, "Job", "pgr-roles");
    pod = job.inputs.spec.template.spec;
    sts = pick(resources, "StatefulSet", "pgr").inputs.spec.template.spec;
  });

  it("is named by a hash of the init SQL and every role's verifier, nothing else secret", () => {
    const verifiers = Object.fromEntries(
      platformRoles().map((role) => [
        role.name,
        pick(resources, "Secret", `pgr-${role.name}`).inputs.stringData.scramVerifier,
      ]),
    );
    const sql = pick(resources, "ConfigMap", "pgr-init").inputs.data["10-platform.sql"];
    const image = pod.containers[0].image;
    expect(job.inputs.metadata.name).toBe(rolesJobName("pgr-roles", { sql, verifiers, image }));
    const text = JSON.stringify(job.inputs);
    expect(text).not.toContain(MOCK_SECRET_PREFIX);
    expect(text).not.toMatch(/SCRAM-SHA-256\$/);
  });

  it("a changed password or SQL is a new name; the same inputs the same name", () => {
    const inputs = { sql: "SELECT 1;", verifiers: { app: "v1", exporter: "e" }, image: "pg:15" };
    const name = rolesJobName("r", inputs);
    expect(rolesJobName("r", { ...inputs, verifiers: { exporter: "e", app: "v1" } })).toBe(name);
    expect(rolesJobName("r", { ...inputs, verifiers: { app: "v2", exporter: "e" } })).not.toBe(
      name,
    );
    expect(rolesJobName("r", { ...inputs, sql: "SELECT 2;" })).not.toBe(name);
  });

  it("runs after the StatefulSet is ready, and a failed run is rerun by the next up", () => {
    expect(job.opts.dependsOn).toContain(component.statefulSet);
    expect(job.opts.deleteBeforeReplace).toBe(true);
    expect(job.inputs.metadata.annotations["pulumi.com/replaceUnready"]).toBe("true");
  });

  it("mounts the role Secrets exactly as the database pod does, and the init SQL", () => {
    const roleVolumes = (volumes: Json[]) => volumes.filter((v) => v.name.startsWith("role-"));
    const roleMounts = (c: Json) => c.volumeMounts.filter((m: Json) => m.name.startsWith("role-"));
    expect(roleVolumes(pod.volumes)).toEqual(roleVolumes(sts.volumes));
    expect(roleVolumes(pod.volumes)).toHaveLength(platformRoles().length);
    expect(roleMounts(pod.containers[0])).toEqual(roleMounts(sts.containers[0]));
    const init = pod.volumes.find((v: Json) => v.name === "init");
    expect(init.configMap.name).toBe("pgr-init");
    const sqlEnv = pod.containers[0].env.find((e: Json) => e.name === ROLES_JOB_SQL_ENV);
    expect(sqlEnv.value).toBe("/etc/postgresql-init/10-platform.sql");
  });

  it("logs in as the superuser over the Service, the password by secretKeyRef", () => {
    const env = Object.fromEntries(pod.containers[0].env.map((e: Json) => [e.name, e]));
    expect(env.PGHOST.value).toBe("pgr.platform.svc.cluster.local");
    expect(env.PGPORT.value).toBe("5432");
    expect(env.PGPASSWORD.valueFrom.secretKeyRef).toEqual({
      name: "pgr-superuser",
      key: "password",
    });
    expect(env.PGUSER.valueFrom.secretKeyRef).toEqual({ name: "pgr-superuser", key: "username" });
  });

  it("is bounded: few retries, a deadline, a TTL; and waits for the server a limited time", () => {
    const spec = job.inputs.spec;
    expect(spec.backoffLimit).toBeLessThanOrEqual(3);
    expect(spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(pod.restartPolicy).toBe("Never");
    const script = rolesJobScript(7);
    expect(script).toMatch(/until pg_isready/);
    expect(script).toMatch(/-ge 7 \]/);
    expect(script).toMatch(/ON_ERROR_STOP=1/);
  });

  it("has the secure pod defaults: non-root, read-only root, resources, no API token", () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999 });
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
  });
});

describe("Postgres (prod)", () => {
  let resources: Recorded[];

  beforeAll(async () => {
    const { Postgres } = await import("../../components/postgres");
    const { SecretKey } = await import("../../components/lib/secrets");
    const recorder = optionRecorder();
    const component = new Postgres(
      "pg-prod",
      {
        ...postgresArgs("prod"),
        backup: {
          schedule: "0 3 * * *",
          retain: 14,
          bucket: "backups",
          endpoint: "http://minio.platform.svc.cluster.local:9000",
          credentials: {
            accessKey: new SecretKey("minio-backups", "accessKey"),
            secretKey: new SecretKey("minio-backups", "secretKey"),
          },
        },
      },
      { transformations: recorder.transformations },
    );
    await unwrap(component.directUrl);
    resources = await registeredUnder(mocks, "pg-prod", recorder.opts);
  });

  it("prod StatefulSet is protected and retained on delete", () => {
    expect(pick(resources, "StatefulSet", "pg-prod").opts).toMatchObject({
      protect: true,
      retainOnDelete: true,
    });
  });

  it("prod generated passwords are protected: the database keeps them after its first start", () => {
    const passwords = resources.filter((r) => r.type.endsWith(":RandomPassword"));
    expect(passwords.length).toBeGreaterThan(0);
    for (const password of passwords) expect(password.opts.protect, password.name).toBe(true);
  });

  it("the backup CronJob never overlaps itself and keeps a short history", () => {
    const spec = pick(resources, "CronJob", "pg-prod-backup").inputs.spec;
    expect(spec).toMatchObject({
      schedule: "0 3 * * *",
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    const pod = spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.initContainers[0].image).toMatch(/postgres:15/);
    expect(pod.containers[0].image).toBe("docker.io/rclone/rclone:1.68.2");
    for (const c of containersOf(pod)) {
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
    }
  });

  it("the backup CronJob waits for the roles, so its role holds its current verifier", () => {
    const deps = pick(resources, "CronJob", "pg-prod-backup").opts.dependsOn as unknown[];
    const rolesJob = pick(resources, "Job", "pg-prod-roles");
    expect(deps.map((d) => (d as { __name?: string }).__name)).toContain(rolesJob.name);
  });

  it("backups go under the `postgres/` prefix, through a scratch folder the database volume's size", () => {
    const pod = pick(resources, "CronJob", "pg-prod-backup").inputs.spec.jobTemplate.spec.template
      .spec;
    const upload = pod.containers[0];
    expect(upload.env.find((e: Json) => e.name === "S3_PREFIX").value).toBe("postgres");
    expect(pod.volumes.find((v: Json) => v.name === "backup").emptyDir.sizeLimit).toBe(
      postgresArgs("prod").storageSize,
    );
    expect(upload.resources).toEqual({
      requests: { cpu: "100m", memory: "256Mi" },
      limits: { cpu: "1", memory: "512Mi" },
    });
  });

  it("backup credentials come from the object store's keys and the backup role by secretKeyRef", () => {
    const pod = pick(resources, "CronJob", "pg-prod-backup").inputs.spec.jobTemplate.spec.template
      .spec;
    const env = (c: Json, name: string) => c.env.find((e: Json) => e.name === name);
    expect(env(pod.initContainers[0], "PGPASSWORD").valueFrom.secretKeyRef).toEqual({
      name: "pg-prod-backup",
      key: "password",
    });
    expect(
      env(pod.containers[0], "RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY").valueFrom.secretKeyRef,
    ).toEqual({
      name: "minio-backups",
      key: "secretKey",
    });
    expect(env(pod.containers[0], "BACKUP_RETAIN").value).toBe("14");
  });
});

describe("Postgres backups to an external target", () => {
  let resources: Recorded[];
  const CA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";

  beforeAll(async () => {
    const { Postgres } = await import("../../components/postgres");
    const recorder = optionRecorder();
    const component = new Postgres(
      "pg-ext",
      {
        ...postgresArgs("prod"),
        backup: {
          schedule: "0 3 * * *",
          retain: 14,
          bucket: "acme-backups",
          endpoint: "https://s3.eu-central-1.amazonaws.com",
          region: "eu-central-1",
          pathStyle: false,
          prefix: "prod/postgres",
          caBundle: CA,
          credentials: {
            accessKeyId: pulumi.secret("AKIAEXAMPLE"),
            secretAccessKey: pulumi.secret("secret-access-key-example"),
          },
        },
      },
      { transformations: recorder.transformations },
    );
    await unwrap(component.directUrl);
    resources = await registeredUnder(mocks, "pg-ext", recorder.opts);
  });

  const upload = () =>
    pick(resources, "CronJob", "pg-ext-backup").inputs.spec.jobTemplate.spec.template.spec;
  const env = (name: string) => upload().containers[0].env.find((e: Json) => e.name === name);

  it("keeps the given keys in a Secret of its own and reads them by secretKeyRef", () => {
    const secret = pick(resources, "Secret", "pg-ext-backup-s3").inputs;
    expect(Object.keys(secret.stringData)).toEqual(["accessKeyId", "secretAccessKey"]);
    expect(env("RCLONE_CONFIG_TARGET_ACCESS_KEY_ID")).toEqual({
      name: "RCLONE_CONFIG_TARGET_ACCESS_KEY_ID",
      valueFrom: { secretKeyRef: { name: "pg-ext-backup-s3", key: "accessKeyId" } },
    });
    expect(env("RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY").valueFrom.secretKeyRef).toEqual({
      name: "pg-ext-backup-s3",
      key: "secretAccessKey",
    });
    expect(JSON.stringify(upload())).not.toContain("secret-access-key-example");
  });

  it("addresses the target as configured", () => {
    const value = (name: string) => env(name).value;
    expect(value("RCLONE_CONFIG_TARGET_ENDPOINT")).toBe("https://s3.eu-central-1.amazonaws.com");
    expect(value("RCLONE_CONFIG_TARGET_REGION")).toBe("eu-central-1");
    expect(value("RCLONE_CONFIG_TARGET_FORCE_PATH_STYLE")).toBe("false");
    expect(value("S3_BUCKET")).toBe("acme-backups");
    expect(value("S3_PREFIX")).toBe("prod/postgres");
  });

  it("trusts the private CA from a ConfigMap it mounts", () => {
    expect(pick(resources, "ConfigMap", "pg-ext-backup-ca").inputs.data).toEqual({ "ca.crt": CA });
    const pod = upload();
    expect(pod.volumes).toContainEqual({ name: "ca", configMap: { name: "pg-ext-backup-ca" } });
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: "ca",
      mountPath: "/etc/backup-ca",
      readOnly: true,
    });
    expect(env("RCLONE_CA_CERT").value).toBe("/etc/backup-ca/ca.crt");
  });
});

describe("Postgres rules", () => {
  /** The dev settings with a backup, as a stack config with backups on gives them. */
  const settings = (overrides: Partial<PostgresSettings> = {}): PostgresSettings => ({
    ...postgresArgs("dev"),
    backup: { schedule: "0 3 * * *", retain: 7 },
    ...overrides,
  });

  it("valid settings, with or without a backup, have no problem", () => {
    expect(postgresRules(settings())).toEqual([]);
    expect(postgresRules(postgresArgs("prod"))).toEqual([]);
    expect(postgresRules(settings({ superuserReservedConnections: 0 }))).toEqual([]);
  });

  it("a storage size that is not a positive quantity is refused", () => {
    for (const storageSize of ["5 GB", "0Gi", ""]) {
      expect(postgresRules(settings({ storageSize })), storageSize).toEqual([
        { propertyPath: "storageSize", reason: expect.stringMatching(/positive quantity.*5Gi/) },
      ]);
    }
  });

  it("max_connections must be a whole number PostgreSQL accepts", () => {
    for (const maxConnections of [0, 2.5, POSTGRES_MAX_CONNECTIONS + 1]) {
      expect(postgresRules(settings({ maxConnections })), String(maxConnections)).toContainEqual({
        propertyPath: "maxConnections",
        reason: expect.stringMatching(new RegExp(`from 1 to ${POSTGRES_MAX_CONNECTIONS}`)),
      });
    }
    expect(postgresRules(settings({ maxConnections: POSTGRES_MAX_CONNECTIONS }))).toEqual([]);
  });

  it("the superuser reserve must be a whole number", () => {
    expect(postgresRules(settings({ superuserReservedConnections: -1 }))).toEqual([
      {
        propertyPath: "superuserReservedConnections",
        reason: expect.stringMatching(/whole number ≥ 0 \(got -1\)/),
      },
    ]);
  });

  it("a superuser reserve as large as max_connections is refused", () => {
    expect(
      postgresRules(settings({ maxConnections: 20, superuserReservedConnections: 20 })),
    ).toEqual([
      {
        propertyPath: "superuserReservedConnections",
        reason: expect.stringMatching(/must be below maxConnections.*\(20 ≥ 20\)/),
      },
    ]);
  });

  it("a backup that keeps nothing is refused, by its path inside backup", () => {
    for (const retain of [0, 1.5]) {
      expect(postgresRules(settings({ backup: { schedule: "0 3 * * *", retain } }))).toEqual([
        { propertyPath: "backup.retain", reason: expect.stringMatching(/at least one backup/) },
      ]);
    }
  });

  it("a postgres image of another major is refused at image: no upgrade path exists", () => {
    for (const image of [
      "docker.io/library/postgres:16.6-bookworm",
      "mirror.example/postgres:17",
    ]) {
      expect(postgresRules(settings({ image })), image).toEqual([
        {
          propertyPath: "image",
          reason: expect.stringMatching(
            new RegExp(`PostgreSQL ${cataloguePostgresMajor()}'s and no upgrade path`),
          ),
        },
      ]);
    }
  });

  it("a postgres image of the catalogue's major, another image, or one known later passes", () => {
    const major = cataloguePostgresMajor();
    for (const image of [
      `mirror.example:5000/library/postgres:${major}.3-bookworm`,
      `postgres:${major}@sha256:${"a".repeat(64)}`,
      "acme/pg-with-extensions:2.1",
      "postgres:latest-custom",
      pulumi.output(`postgres:${major + 1}`),
    ]) {
      expect(postgresRules(settings({ image })), String(image)).toEqual([]);
    }
  });

  it("every problem is reported at once", () => {
    const problems = postgresRules(
      settings({ storageSize: "big", maxConnections: 0, backup: { schedule: "x", retain: 0 } }),
    );
    expect(problems.map((p) => p.propertyPath)).toEqual([
      "storageSize",
      "maxConnections",
      "superuserReservedConnections",
      "backup.schedule",
      "backup.retain",
    ]);
  });
});

describe("Postgres args", () => {
  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const { Postgres } = await import("../../components/postgres");
    const before = (await registeredOfType(mocks, "random:index/randomPassword:RandomPassword"))
      .length;
    let thrown: unknown;
    try {
      new Postgres("pg-bad", { ...postgresArgs("dev"), storageSize: "5 GB", maxConnections: 0 });
    } catch (error) {
      thrown = error;
    }
    expect(pulumi.InputPropertiesError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({
      errors: [
        { propertyPath: "storageSize", reason: expect.stringMatching(/5Gi/) },
        { propertyPath: "maxConnections", reason: expect.stringMatching(/whole number/) },
        { propertyPath: "superuserReservedConnections", reason: expect.any(String) },
      ],
    });
    const after = await registeredOfType(mocks, "random:index/randomPassword:RandomPassword");
    expect(after.length).toBe(before);
    expect(after.some((r) => r.name.startsWith("pg-bad"))).toBe(false);
  });
});

/** The default backup target, as the stack config gives it. */
const IN_CLUSTER = { type: "in-cluster", prefix: "postgres" } as const;
const WAL = {
  enabled: false,
  archiveTimeoutSeconds: 60,
  uploadIntervalSeconds: 30,
  baseBackupSchedule: "30 1 * * *",
  keepBaseBackups: 2,
  keepDays: 7,
};

/**
 * Problems the components' rules find in a parsed dev stack config with these Postgres settings:
 * for values the schema already refuses, so that the rules' own key mapping is still seen.
 */
async function componentIssues(
  postgres: Partial<PlatformSettings["postgres"]>,
): Promise<Map<string, string>> {
  const { componentProblems } = await import("../../platform/validate");
  const config = parsedStackConfig();
  const problems = componentProblems({ ...config, postgres: { ...config.postgres, ...postgres } });
  return new Map(problems.map(({ key, reason }) => [`k3s-platform:${key}`, reason]));
}

describe("Postgres's stack keys", () => {
  it("the shipped profiles' settings pass Postgres's rules", async () => {
    const { argsForPostgres } = await import("../../platform/args/postgres");
    for (const profile of ["dev", "prod"]) {
      // Both pin the image by digest; prod also names its TLS Secret.
      const config = parsedStackConfig({ profile, app: { image: APP_IMAGE_BY_DIGEST } });
      const settings = argsForPostgres(config);
      expect(postgresRules(settings), profile).toEqual([]);
      expect(Boolean(settings.backup), profile).toBe(profile === "prod");
    }
  });

  it("a superuser reserve past max_connections is reported at its stack key", () => {
    const issues = issuesByKey(
      stackConfigIssues({
        postgres: { maxConnections: 20, superuserReservedConnections: 25, directConnections: 0 },
      }),
    );
    expect(issues.get("k3s-platform:postgres.superuserReservedConnections")).toMatch(
      /must be below maxConnections.*\(25 ≥ 20\)/,
    );
  });

  it("each argument the rules can report maps to the stack key it comes from", async () => {
    const cases: [Partial<PlatformSettings["postgres"]>, string, RegExp][] = [
      [{ storageSize: "0Gi" }, "k3s-platform:postgres.storageSize", /positive quantity/],
      [
        { maxConnections: POSTGRES_MAX_CONNECTIONS + 1 },
        "k3s-platform:postgres.maxConnections",
        /whole number/,
      ],
      [
        { superuserReservedConnections: -1 },
        "k3s-platform:postgres.superuserReservedConnections",
        /whole number ≥ 0/,
      ],
      [
        {
          backup: { enabled: true, schedule: "0 3 * * *", retain: 0, target: IN_CLUSTER, wal: WAL },
        },
        "k3s-platform:postgres.backup.retain",
        /at least one backup/,
      ],
      [
        {
          backup: {
            enabled: true,
            schedule: "0 3 * * *",
            retain: 7,
            target: { ...IN_CLUSTER, prefix: "/postgres" },
            wal: WAL,
          },
        },
        "k3s-platform:postgres.backup.target.prefix",
        /without a leading, trailing or doubled/,
      ],
      [
        {
          backup: {
            enabled: true,
            schedule: "0 3 * * *",
            retain: 7,
            target: IN_CLUSTER,
            wal: { ...WAL, enabled: true },
          },
          restoreFrom: "2999-01-01T00:00:00Z",
        },
        "k3s-platform:postgres.restoreFrom",
        /is in the future \(2999-01-01T00:00:00Z, now 20\d\d-.*nothing is archived after now/,
      ],
      [
        { restoreFrom: "latest" },
        "k3s-platform:postgres.restoreFrom",
        /needs backups: the restore reads base backups and WAL from the backup target/,
      ],
      [
        {
          backup: {
            enabled: true,
            schedule: "0 3 * * *",
            retain: 7,
            target: IN_CLUSTER,
            wal: WAL,
          },
          restoreFrom: "yesterday",
        },
        "k3s-platform:postgres.restoreFrom",
        /must be "latest", a base backup's name .* \(got "yesterday"\)/,
      ],
    ];
    for (const [postgres, key, reason] of cases) {
      const issues = await componentIssues(postgres);
      const postgresKeys = [...issues.keys()].filter((k) => k.startsWith("k3s-platform:postgres."));
      expect(postgresKeys, key).toEqual([key]);
      expect(issues.get(key), key).toMatch(reason);
    }
  });

  it("a backup that is off is not judged", async () => {
    const issues = await componentIssues({
      backup: { enabled: false, schedule: "0 3 * * *", retain: 0, target: IN_CLUSTER, wal: WAL },
    });
    expect([...issues.keys()].filter((k) => k.startsWith("k3s-platform:postgres."))).toEqual([]);
  });
});
