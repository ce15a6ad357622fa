import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, describe, expect, it } from "vitest";
import { writeSumFile } from "../../core/atlas-sum";
import { registeredOfType, setupMocks, unwrap } from "../mocks";
import { registeredUnder } from "./recorded";
import { parsedStackConfig, REQUIRED_STACK_VALUES } from "./stack-config";

const mocks = setupMocks();

const tempDirs: string[] = [];
/** A fresh copy of the repository's migration directory. */
function copyOfMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  tempDirs.push(dir);
  cpSync(join(__dirname, "..", "..", "atlas", "migrations"), dir, { recursive: true });
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const NEW_MIGRATION = "20990101000000_add_notes.sql";

async function lib() {
  const migrations = await import("../../components/migrations");
  const { PlatformSecret } = await import("../../components/lib/secrets");
  return { ...migrations, PlatformSecret };
}

/** The direct Postgres URL and the PgBouncer URL, each in its owner's Secret. */
async function databaseSecrets(prefix: string) {
  const { PlatformSecret } = await lib();
  const postgres = new PlatformSecret(
    `${prefix}-postgres-app`,
    {
      namespace: "platform",
      labels: {},
      data: { url: "postgres://app:pw@postgres.platform.svc:5432/app?sslmode=disable" },
    },
    {},
  );
  const pgbouncer = new PlatformSecret(
    `${prefix}-pgbouncer-app`,
    {
      namespace: "platform",
      labels: {},
      data: { url: "postgres://app:pw@pgbouncer.platform.svc:6432/app?sslmode=disable" },
    },
    {},
  );
  return { direct: postgres.key("url"), pooled: pgbouncer.key("url") };
}

interface JobInputs {
  metadata: { name: string; annotations: Record<string, string> };
  spec: {
    backoffLimit: number;
    activeDeadlineSeconds: number;
    template: {
      spec: {
        restartPolicy: string;
        containers: {
          image: string;
          args: string[];
          env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }[];
        }[];
        volumes: { name: string; configMap?: { name: string } }[];
      };
    };
  };
}

describe("Migrations", () => {
  it("the ConfigMap name changes with the migration files, and only then", async () => {
    const { migrationsConfigMapName, readMigrationBundle } = await lib();
    const first = copyOfMigrations();
    const second = copyOfMigrations();
    const name = (dir: string) => migrationsConfigMapName("migrations", readMigrationBundle(dir));
    expect(name(first)).toBe(name(second));
    expect(readMigrationBundle(first)).toEqual(readMigrationBundle(second));

    writeFileSync(join(second, NEW_MIGRATION), 'ALTER TABLE "users" ADD COLUMN "notes" text;\n');
    writeSumFile(second);
    expect(name(second)).not.toBe(name(first));
    expect(name(second)).toMatch(/^migrations-files-[0-9a-f]{8}$/);
  });

  it("refuses a directory whose atlas.sum does not match, naming the directory and the file", async () => {
    const { Migrations } = await lib();
    const { direct } = await databaseSecrets("tampered");
    const dir = copyOfMigrations();
    appendFileSync(join(dir, "20261126030415_initial.sql"), "\n-- edited after hashing\n");
    expect(
      () => new Migrations("tampered", { namespace: "platform", databaseUrl: direct, dir }),
    ).toThrow(new RegExp(`${dir}[\\s\\S]*20261126030415_initial\\.sql: was edited`));
    expect(
      () => new Migrations("tampered2", { namespace: "platform", databaseUrl: direct, dir }),
    ).toThrow(
      expect.objectContaining({ errors: [expect.objectContaining({ propertyPath: "dir" })] }),
    );
  });

  it("puts every migration file and atlas.sum in an immutable ConfigMap the Job mounts", async () => {
    const { Migrations } = await lib();
    const { direct } = await databaseSecrets("files");
    const migrations = new Migrations("files", { namespace: "platform", databaseUrl: direct });
    const configMapName = await unwrap(migrations.configMapName);
    const configMap = (await registeredOfType(mocks, "kubernetes:core/v1:ConfigMap")).find(
      (r) => r.name === configMapName,
    );
    expect(configMap?.inputs).toMatchObject({ immutable: true });
    expect(Object.keys(configMap?.inputs.data as object).sort()).toEqual([
      "20261126030415_initial.sql",
      "atlas.sum",
    ]);
    const jobName = await unwrap(migrations.jobName);
    const job = (await registeredOfType(mocks, "kubernetes:batch/v1:Job")).find(
      (r) => r.name === jobName,
    );
    const inputs = job?.inputs as unknown as JobInputs;
    expect(inputs.spec.template.spec.volumes).toContainEqual({
      name: "migrations",
      configMap: { name: configMapName, defaultMode: 0o444 },
    });
  });

  it("runs atlas migrate apply against the direct Postgres URL from a Secret, never PgBouncer", async () => {
    const { Migrations, MIGRATIONS_URL_ENV } = await lib();
    const { direct, pooled } = await databaseSecrets("apply");
    const migrations = new Migrations("apply", { namespace: "platform", databaseUrl: direct });
    const jobName = await unwrap(migrations.jobName);
    const job = (await registeredOfType(mocks, "kubernetes:batch/v1:Job")).find(
      (r) => r.name === jobName,
    );
    const inputs = job?.inputs as unknown as JobInputs;
    const [atlas] = inputs.spec.template.spec.containers;
    expect(atlas.image).toMatch(/^docker\.io\/arigaio\/atlas:\d+\.\d+\.\d+/);
    expect(atlas.args.join(" ")).toBe(
      "migrate apply --dir file:///migrations --url $(DATABASE_URL) --revisions-schema public " +
        "--tx-mode file --lock-timeout 30s",
    );
    const url = atlas.env.find((e) => e.name === MIGRATIONS_URL_ENV);
    expect(url?.value).toBeUndefined();
    expect(url?.valueFrom?.secretKeyRef?.name).toBe(await unwrap(pulumi.output(direct.secretName)));
    expect(url?.valueFrom?.secretKeyRef?.name).not.toBe(
      await unwrap(pulumi.output(pooled.secretName)),
    );
    const urlValue = await unwrap(direct.content!);
    expect(urlValue.url).toMatch(/@postgres\.platform\.svc:5432\//);
  });

  it("the Job waits for Postgres and its ConfigMap (the engine sees both in dependsOn)", async () => {
    const { Migrations } = await lib();
    const k8s = await import("@pulumi/kubernetes");
    const dependsOn = new Map<string, unknown[]>();
    let postgres: unknown;
    let configMapName = "";
    await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation((resource) => {
        const deps = resource.opts.dependsOn;
        dependsOn.set(`${resource.type}::${resource.name}`, Array.isArray(deps) ? deps : []);
        return undefined;
      });
      const { direct } = await databaseSecrets("ordered");
      postgres = new k8s.apps.v1.StatefulSet("ordered-postgres", {
        metadata: { name: "postgres", namespace: "platform" },
        spec: { selector: {}, serviceName: "postgres", template: {} },
      });
      const migrations = new Migrations("ordered", {
        namespace: "platform",
        databaseUrl: direct,
        dependsOn: [postgres as pulumi.Resource],
      });
      configMapName = await unwrap(migrations.configMapName);
      return {};
    });
    const job = [...dependsOn.entries()].find(([key]) =>
      key.startsWith("kubernetes:batch/v1:Job::ordered-"),
    );
    expect(job?.[1]).toContain(postgres);
    expect((job?.[1] as { __name?: string }[]).map((resource) => resource.__name)).toContain(
      configMapName,
    );
  });

  it("retries a failed Job on the next up, within a bounded run", async () => {
    const { Migrations } = await lib();
    const { direct } = await databaseSecrets("bounded");
    const migrations = new Migrations("bounded", {
      namespace: "platform",
      databaseUrl: direct,
      backoffLimit: 1,
      activeDeadlineSeconds: 300,
    });
    const jobName = await unwrap(migrations.jobName);
    const job = (await registeredOfType(mocks, "kubernetes:batch/v1:Job")).find(
      (r) => r.name === jobName,
    );
    const inputs = job?.inputs as unknown as JobInputs;
    expect(inputs.metadata.annotations).toMatchObject({
      "pulumi.com/replaceUnready": "true",
      "pulumi.com/timeoutSeconds": "360",
    });
    expect(inputs.spec).toMatchObject({ backoffLimit: 1, activeDeadlineSeconds: 300 });
    expect(inputs.spec.template.spec.restartPolicy).toBe("Never");
  });

  it("names the Job after the ConfigMap and the image: same inputs, same Job; else a new one", async () => {
    const { migrationsJobName, migrationsConfigMapName, readMigrationBundle, PlatformSecret } =
      await lib();
    const url = new PlatformSecret(
      "naming-postgres",
      { namespace: "platform", labels: {}, data: { url: "postgres://x" } },
      {},
    ).key("url");
    const dir = copyOfMigrations();
    const inputs = {
      configMapName: migrationsConfigMapName("migrations", readMigrationBundle(dir)),
      image: "docker.io/arigaio/atlas:1.3.3-community",
      options: { revisionsSchema: "public", lockTimeoutSeconds: 30 },
      backoffLimit: 2,
      activeDeadlineSeconds: 600,
      resources: { cpu: "25m", memory: "64Mi" },
      databaseUrl: url,
    };
    const name = migrationsJobName("migrations", inputs);
    expect(migrationsJobName("migrations", { ...inputs })).toBe(name);
    expect(
      migrationsJobName("migrations", {
        ...inputs,
        image: "docker.io/arigaio/atlas:1.3.2-community",
      }),
    ).not.toBe(name);
    writeFileSync(join(dir, NEW_MIGRATION), "SELECT 1;\n");
    writeSumFile(dir);
    const configMapName = migrationsConfigMapName("migrations", readMigrationBundle(dir));
    expect(migrationsJobName("migrations", { ...inputs, configMapName })).not.toBe(name);
  });
});

describe("migrationsRules", () => {
  it("no args but the URL, or sensible ones, have no problem", async () => {
    const { migrationsRules } = await lib();
    expect(migrationsRules({})).toEqual([]);
    expect(migrationsRules({ backoffLimit: 0, activeDeadlineSeconds: 30 })).toEqual([]);
  });

  it.each([-1, 1.5])("a backoffLimit of %s is refused", async (backoffLimit) => {
    const { migrationsRules } = await lib();
    expect(migrationsRules({ backoffLimit })).toEqual([
      { propertyPath: "backoffLimit", reason: `must be a whole number ≥ 0 (got ${backoffLimit})` },
    ]);
  });

  it.each([29, 60.5])(
    "an activeDeadlineSeconds of %s is refused",
    async (activeDeadlineSeconds) => {
      const { migrationsRules } = await lib();
      expect(migrationsRules({ activeDeadlineSeconds })).toEqual([
        {
          propertyPath: "activeDeadlineSeconds",
          reason: `must be a whole number ≥ 30 (got ${activeDeadlineSeconds})`,
        },
      ]);
    },
  );

  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const { Migrations } = await lib();
    const { direct } = await databaseSecrets("refused");
    let error: unknown;
    try {
      new Migrations("refused", {
        namespace: "platform",
        databaseUrl: direct,
        backoffLimit: -1,
        activeDeadlineSeconds: 10,
      });
    } catch (caught) {
      error = caught;
    }
    expect(pulumi.InputPropertiesError.isInstance(error)).toBe(true);
    expect((error as pulumi.InputPropertiesError).errors).toEqual([
      expect.objectContaining({ propertyPath: "backoffLimit" }),
      expect.objectContaining({ propertyPath: "activeDeadlineSeconds" }),
    ]);
    // Only the test's own URL Secrets exist: no ConfigMap, no Job.
    const registered = await registeredUnder(mocks, "refused");
    expect(registered.filter((r) => !r.type.endsWith(":Secret")).map((r) => r.type)).toEqual([
      "k3s-platform:app:Migrations",
    ]);
  });
});

describe("migrationDirErrors", () => {
  it("a directory whose atlas.sum matches its files has no problem", async () => {
    const { migrationDirErrors } = await lib();
    expect(migrationDirErrors(copyOfMigrations())).toEqual([]);
  });

  it("an edited migration is refused at dir, naming the file", async () => {
    const { migrationDirErrors } = await lib();
    const dir = copyOfMigrations();
    appendFileSync(join(dir, "20261126030415_initial.sql"), "\n-- edited after hashing\n");
    expect(migrationDirErrors(dir)).toEqual([
      {
        propertyPath: "dir",
        reason: expect.stringMatching(/20261126030415_initial\.sql: was edited/),
      },
    ]);
  });

  it("migrations too large for a ConfigMap are refused at dir", async () => {
    const { migrationDirErrors, MAX_CONFIGMAP_BYTES } = await lib();
    const dir = copyOfMigrations();
    writeFileSync(join(dir, NEW_MIGRATION), `-- ${"x".repeat(MAX_CONFIGMAP_BYTES)}\nSELECT 1;\n`);
    writeSumFile(dir);
    expect(migrationDirErrors(dir)).toEqual([
      { propertyPath: "dir", reason: expect.stringMatching(/more than a ConfigMap can/) },
    ]);
  });
});

describe("migrationsCheck", () => {
  it("the stack config sets no Migrations argument, and the defaults pass the rules", async () => {
    const { argsForMigrations, migrationsCheck } = await import("../../platform/args/migrations");
    for (const profile of ["dev", "prod"]) {
      // Both with what prod requires: the image by digest and the TLS Secret.
      const config = parsedStackConfig({ ...REQUIRED_STACK_VALUES.prod, profile });
      expect(argsForMigrations(config)).toEqual({});
      expect(migrationsCheck.rules(config)).toEqual([]);
      expect(migrationsCheck.keys).toEqual({});
    }
  });
});
