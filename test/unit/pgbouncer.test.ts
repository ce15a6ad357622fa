import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type * as PgBouncerModule from "../../components/pgbouncer";
import { scramSalt, scramSha256Verifier } from "../../components/lib/scram";
import { MOCK_SECRET_PREFIX, setupMocks, unwrap } from "../mocks";
import { optionRecorder, pick, registeredUnder, type Recorded } from "./recorded";
import { parsedStackConfig, stackConfigIssues } from "./stack-config";

const mocks = setupMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- container specs are plain JSON here
type Json = any;

let pgb: typeof PgBouncerModule;

beforeAll(async () => {
  pgb = await import("../../components/pgbouncer");
});

/** The pool settings of the stack config's defaults (both profiles). */
const devPool = (): PgBouncerModule.PoolSettings => ({
  maxClientConn: 1000,
  defaultPoolSize: 25,
  minPoolSize: 0,
  reservePoolSize: 5,
  reservePoolTimeoutSeconds: 3,
  serverIdleTimeoutSeconds: 600,
  serverLifetimeSeconds: 3600,
  queryWaitTimeoutSeconds: 120,
  maxPreparedStatements: 200,
});

/** `pgbouncer.ini` as `{section: {key: value}}`. */
function parseIni(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current = "";
  for (const line of text.split("\n")) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header) sections[(current = header[1])] = {};
    const setting = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (setting && current) sections[current][setting[1]] = setting[2];
  }
  return sections;
}

const renderIni = () =>
  parseIni(
    pgb.pgbouncerIni({
      pool: devPool(),
      databases: [{ name: "app", host: "postgres.platform.svc.cluster.local", port: 5432 }],
      authFile: "/etc/pgbouncer-auth/userlist.txt",
      statsUsers: [pgb.STATS_USER],
    }),
  );

describe("pgbouncer.ini", () => {
  it("pools in transaction mode with 1000 clients over 25 server connections", () => {
    const { pgbouncer } = renderIni();
    expect(pgbouncer).toMatchObject({
      pool_mode: "transaction",
      max_client_conn: "1000",
      default_pool_size: "25",
      reserve_pool_size: "5",
      reserve_pool_timeout: "3",
      min_pool_size: "0",
    });
  });

  it("caps server connections per database at the pool plus its reserve", () => {
    expect(renderIni().pgbouncer.max_db_connections).toBe("30");
  });

  it("authenticates clients with SCRAM against userlist.txt", () => {
    expect(renderIni().pgbouncer).toMatchObject({
      auth_type: "scram-sha-256",
      auth_file: "/etc/pgbouncer-auth/userlist.txt",
    });
  });

  it("serves only the app database, on the Postgres host and port it is given", () => {
    expect(renderIni().databases).toEqual({
      app: "host=postgres.platform.svc.cluster.local port=5432 dbname=app",
    });
  });

  it("sets the reset query, timeouts and prepared-statement tracking from the args", () => {
    expect(renderIni().pgbouncer).toMatchObject({
      server_reset_query: "DISCARD ALL",
      // Transaction pooling skips the reset query unless told to run it always.
      server_reset_query_always: "0",
      server_idle_timeout: "600",
      server_lifetime: "3600",
      query_wait_timeout: "120",
      server_login_retry: "1",
      max_prepared_statements: "200",
      ignore_startup_parameters: "extra_float_digits",
    });
  });

  it("serverResetQueryAlways turns on DISCARD ALL after every transaction", () => {
    const ini = pgb.pgbouncerIni({
      pool: { ...devPool(), serverResetQueryAlways: true },
      databases: [],
      authFile: "/x",
    });
    expect(parseIni(ini).pgbouncer.server_reset_query_always).toBe("1");
  });

  it("gives the exporter read-only console access and nobody admin rights", () => {
    expect(renderIni().pgbouncer).toMatchObject({
      stats_users: "pgbouncer_stats",
      admin_users: "",
    });
  });

  it("needs no writable path: no Unix socket, no pid file, logs to stderr", () => {
    const { pgbouncer } = renderIni();
    expect(pgbouncer.unix_socket_dir).toBe("");
    expect(pgbouncer.pidfile).toBeUndefined();
    expect(pgbouncer.logfile).toBeUndefined();
  });

  it("a min_pool_size above default_pool_size is refused, naming the field", () => {
    expect(() =>
      pgb.pgbouncerIni({
        pool: { ...devPool(), minPoolSize: 30 },
        databases: [],
        authFile: "/x",
      }),
    ).toThrow(
      expect.objectContaining({
        errors: [expect.objectContaining({ propertyPath: "pool.minPoolSize" })],
      }),
    );
  });
});

describe("userlist.txt", () => {
  it("holds SCRAM verifiers in PgBouncer's quoted format, never a plain password", () => {
    const verifier = scramSha256Verifier("s3cretPassw0rd", scramSalt("salt"));
    const text = pgb.userlistTxt([{ username: "app", scramVerifier: verifier }]);
    expect(text).toBe(`"app" "${verifier}"\n`);
    expect(text).not.toContain("s3cretPassw0rd");
  });

  it("a plain password in place of a verifier is refused", () => {
    expect(() => pgb.userlistTxt([{ username: "app", scramVerifier: "s3cretPassw0rd" }])).toThrow(
      /not a SCRAM-SHA-256 verifier/,
    );
  });

  it("a user name that would break the quoting is refused", () => {
    const verifier = scramSha256Verifier("p", scramSalt("s"));
    expect(() => pgb.userlistTxt([{ username: 'a" "b', scramVerifier: verifier }])).toThrow(
      /user name/,
    );
  });
});

const APP_VERIFIER = scramSha256Verifier("MOCK-app-password", scramSalt("MOCK-app-salt"));

function argsFor(replicas: number): PgBouncerModule.PgBouncerArgs {
  return {
    namespace: "platform",
    replicas,
    resources: { cpu: "25m", memory: "64Mi", cpuLimit: "250m", memoryLimit: "128Mi" },
    pool: devPool(),
    postgresHost: "postgres.platform.svc.cluster.local",
    postgresPort: 5432,
    credentials: {
      username: "app",
      password: `${MOCK_SECRET_PREFIX}app`,
      scramVerifier: APP_VERIFIER,
      database: "app",
    },
  };
}

async function build(
  name: string,
  replicas: number,
  extra: Partial<PgBouncerModule.PgBouncerArgs> = {},
) {
  const recorder = optionRecorder();
  const component = new pgb.PgBouncer(
    name,
    { ...argsFor(replicas), ...extra },
    {
      transformations: recorder.transformations,
    },
  );
  await unwrap(component.url);
  return { component, resources: await registeredUnder(mocks, name, recorder.opts) };
}

describe("PgBouncer (dev, one replica)", () => {
  let component: PgBouncerModule.PgBouncer;
  let resources: Recorded[];
  let pod: Json;

  beforeAll(async () => {
    ({ component, resources } = await build("pgb-dev", 1));
    pod = pick(resources, "Deployment", "pgb-dev").inputs.spec.template.spec;
  });

  it("url is the app's DATABASE_URL through PgBouncer, as a secret", async () => {
    expect(await pulumi.isSecret(component.url)).toBe(true);
    expect(await unwrap(component.url)).toBe(
      `postgres://app:${MOCK_SECRET_PREFIX}app@pgb-dev.platform.svc.cluster.local:6432/app`,
    );
    expect(await unwrap(component.host)).toBe("pgb-dev.platform.svc.cluster.local");
    expect(await unwrap(component.port)).toBe(6432);
  });

  it("the app gets that url from a Secret, by secretKeyRef", async () => {
    expect(component.appSecret.key("url").env("DATABASE_URL")).toMatchObject({
      valueFrom: { secretKeyRef: { key: "url" } },
    });
    const data = pick(resources, "Secret", "pgb-dev-app").inputs.stringData;
    expect(data.url).toBe(await unwrap(component.url));
  });

  it("userlist.txt lives in a Secret and holds the very verifier Postgres stores", () => {
    const userlist = pick(resources, "Secret", "pgb-dev-userlist").inputs.stringData[
      "userlist.txt"
    ];
    expect(userlist).toContain(`"app" "${APP_VERIFIER}"`);
    expect(userlist).toMatch(/^"pgbouncer_stats" "SCRAM-SHA-256\$4096:/m);
    expect(userlist).not.toContain(MOCK_SECRET_PREFIX);
  });

  it("no password or verifier appears in the ConfigMap", () => {
    const configMap = pick(resources, "ConfigMap", "pgb-dev-config").inputs;
    const text = JSON.stringify(configMap);
    expect(text).not.toContain(MOCK_SECRET_PREFIX);
    expect(text).not.toMatch(/SCRAM-SHA-256\$/);
    expect(configMap.data["pgbouncer.ini"]).toMatch(/^pool_mode = transaction$/m);
  });

  it("the exporter sidecar is scraped on 9127 and takes its connection string by secretKeyRef", () => {
    const exporter = pod.containers.find((c: Json) => c.name === "exporter");
    expect(exporter.ports).toEqual([{ name: "metrics", containerPort: 9127, protocol: "TCP" }]);
    expect(exporter.env).toEqual([
      {
        name: "PGBOUNCER_EXPORTER_CONNECTION_STRING",
        valueFrom: { secretKeyRef: { name: "pgb-dev-exporter", key: "url" } },
      },
    ]);
    const template = pick(resources, "Deployment", "pgb-dev").inputs.spec.template;
    expect(template.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9127",
    });
    expect(template.metadata.annotations["k3s-platform/config-hash"]).toMatch(/^[0-9a-f]{16}$/);
  });

  it("the exporter sidecar gets the nano preset unless told otherwise", () => {
    const exporter = pod.containers.find((c: Json) => c.name === "exporter");
    expect(exporter.resources).toEqual({
      requests: { cpu: "25m", memory: "64Mi" },
      limits: { cpu: "250m", memory: "128Mi" },
    });
  });

  it("runs the binary as UID 70 on a read-only root, with the config and userlist mounted", () => {
    expect(pod.securityContext).toMatchObject({ runAsUser: 70, runAsNonRoot: true });
    const [pgbouncer] = pod.containers;
    expect(pgbouncer.command).toEqual([
      "/bin/sh",
      "-c",
      pgb.PGBOUNCER_ENTRYPOINT,
      "pgbouncer",
      "/usr/bin/pgbouncer",
      "/etc/pgbouncer/pgbouncer.ini",
    ]);
    expect(pgbouncer.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.volumes.find((v: Json) => v.name === "auth").secret.secretName).toBe(
      "pgb-dev-userlist",
    );
  });

  it("probes PgBouncer's own port, so a Postgres outage never restarts it", () => {
    const [pgbouncer] = pod.containers;
    expect(pgbouncer.readinessProbe.tcpSocket).toEqual({ port: "pgbouncer" });
    expect(pgbouncer.livenessProbe.tcpSocket).toEqual({ port: "pgbouncer" });
    expect(pgbouncer.livenessProbe.failureThreshold).toBeGreaterThan(
      pgbouncer.readinessProbe.failureThreshold,
    );
  });

  it("the Service exposes 6432 and selects the Deployment's pods", () => {
    const service = pick(resources, "Service", "pgb-dev").inputs;
    const deployment = pick(resources, "Deployment", "pgb-dev").inputs;
    expect(service.spec.ports).toEqual([
      { name: "pgbouncer", port: 6432, targetPort: "pgbouncer", protocol: "TCP" },
    ]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  it("stops gracefully: the kubelet's preStop sleep, then SIGTERM turned into PgBouncer's SIGINT", () => {
    const [pgbouncer] = pod.containers;
    // The sleep runs in the kubelet: nothing runs in the container before the signal.
    expect(pgbouncer.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    expect(pgb.PGBOUNCER_ENTRYPOINT).toMatch(/^trap 'kill -INT "\$child"[^']*' TERM/);
    // The pause plus the default drain: Kubernetes' usual 30 s.
    expect(pod.terminationGracePeriodSeconds).toBe(30);
  });

  it("one replica gets no PodDisruptionBudget and no spread", () => {
    expect(resources.some((r) => r.type.endsWith(":PodDisruptionBudget"))).toBe(false);
    expect(pod.topologySpreadConstraints).toBeUndefined();
  });
});

describe("PgBouncer (prod, two replicas)", () => {
  let resources: Recorded[];

  beforeAll(async () => {
    ({ resources } = await build("pgb-prod", 2));
  });

  it("two or more replicas get a PodDisruptionBudget of maxUnavailable 1 and a spread across nodes", () => {
    const deployment = pick(resources, "Deployment", "pgb-prod").inputs;
    expect(deployment.spec.replicas).toBe(2);
    const pdb = pick(resources, "PodDisruptionBudget", "pgb-prod").inputs;
    expect(pdb.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: deployment.spec.selector.matchLabels },
    });
    expect(deployment.spec.template.spec.topologySpreadConstraints[0].topologyKey).toBe(
      "kubernetes.io/hostname",
    );
  });

  it("the spread prefers other nodes unless told the cluster has them (ScheduleAnyway)", () => {
    const deployment = pick(resources, "Deployment", "pgb-prod").inputs;
    const [spread] = deployment.spec.template.spec.topologySpreadConstraints;
    expect(spread.whenUnsatisfiable).toBe("ScheduleAnyway");
    expect(spread.nodeTaintsPolicy).toBeUndefined();
  });

  it("nodeSpread DoNotSchedule keeps two replicas off one node, tainted nodes not counted", async () => {
    const { resources: hard } = await build("pgb-hard", 2, { nodeSpread: "DoNotSchedule" });
    const deployment = pick(hard, "Deployment", "pgb-hard").inputs;
    expect(deployment.spec.template.spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "DoNotSchedule",
        nodeTaintsPolicy: "Honor",
        labelSelector: { matchLabels: deployment.spec.selector.matchLabels },
      },
    ]);
  });

  it("drainSeconds lengthens the grace period by as much", async () => {
    const { resources: slow } = await build("pgb-slow", 2, { drainSeconds: 115 });
    const pod = pick(slow, "Deployment", "pgb-slow").inputs.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(120);
  });

  it("a rollout never lowers capacity", () => {
    const deployment = pick(resources, "Deployment", "pgb-prod").inputs;
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
  });

  it("zero replicas are refused, naming the field", () => {
    expect(() => new pgb.PgBouncer("pgb-zero", argsFor(0))).toThrow(
      expect.objectContaining({ errors: [expect.objectContaining({ propertyPath: "replicas" })] }),
    );
  });
});

describe("PgBouncer wired to Postgres", () => {
  it("the userlist holds the verifier Postgres gives the app role, so SCRAM passes through", async () => {
    const { Postgres } = await import("../../components/postgres");
    const postgres = new Postgres("wired-pg", {
      namespace: "platform",
      storageSize: "5Gi",
      resources: { cpu: "250m", memory: "512Mi", memoryLimit: "1Gi" },
      maxConnections: 100,
      superuserReservedConnections: 3,
    });
    const bouncer = new pgb.PgBouncer("wired-pgb", {
      ...argsFor(1),
      postgresHost: postgres.host,
      postgresPort: postgres.port,
      credentials: postgres.appCredentials,
    });
    await unwrap(bouncer.url);
    const pgResources = await registeredUnder(mocks, "wired-pg");
    const pgbResources = await registeredUnder(mocks, "wired-pgb");
    const verifier = pick(pgResources, "Secret", "wired-pg-app").inputs.stringData.scramVerifier;
    const userlist = pick(pgbResources, "Secret", "wired-pgb-userlist").inputs.stringData[
      "userlist.txt"
    ];
    expect(userlist).toContain(`"app" "${verifier}"`);
    expect(
      pick(pgbResources, "ConfigMap", "wired-pgb-config").inputs.data["pgbouncer.ini"],
    ).toContain("app = host=wired-pg.platform.svc.cluster.local port=5432 dbname=app");
    expect(await unwrap(bouncer.url)).toBe(
      `postgres://app:${MOCK_SECRET_PREFIX}wired-pg-app-password@wired-pgb.platform.svc.cluster.local:6432/app`,
    );
  });
});

describe("PgBouncer wired to Postgres, the app on its second login", () => {
  it("admits both logins and hands the app the one in use, after its own rollout", async () => {
    const { Postgres } = await import("../../components/postgres");
    const postgres = new Postgres("rot-pg", {
      namespace: "platform",
      storageSize: "5Gi",
      resources: { cpu: "250m", memory: "512Mi", memoryLimit: "1Gi" },
      maxConnections: 100,
      superuserReservedConnections: 3,
      appLogin: "app2",
    });
    const recorder = optionRecorder();
    const bouncer = new pgb.PgBouncer(
      "rot-pgb",
      {
        ...argsFor(1),
        postgresHost: postgres.host,
        postgresPort: postgres.port,
        credentials: postgres.appCredentials,
        standbyLogin: postgres.appStandbyLogin,
      },
      { transformations: recorder.transformations },
    );
    await unwrap(bouncer.url);
    const pgResources = await registeredUnder(mocks, "rot-pg");
    const pgbResources = await registeredUnder(mocks, "rot-pgb", recorder.opts);
    const verifier = (role: string) =>
      pick(pgResources, "Secret", `rot-pg-${role}`).inputs.stringData.scramVerifier;
    const userlist = pick(pgbResources, "Secret", "rot-pgb-userlist").inputs.stringData[
      "userlist.txt"
    ];
    expect(userlist).toContain(`"app2" "${verifier("app2")}"`);
    expect(userlist).toContain(`"app" "${verifier("app")}"`);
    expect(await pulumi.isSecret(postgres.appStandbyLogin)).toBe(true);
    expect(await unwrap(bouncer.url)).toBe(
      `postgres://app2:${MOCK_SECRET_PREFIX}rot-pg-app2-password@rot-pgb.platform.svc.cluster.local:6432/app`,
    );
    expect(await unwrap(postgres.appSecret.name)).toBe("rot-pg-app2");
    // The app's Secret is written after the Deployment has rolled (its options name it).
    const deps = pick(pgbResources, "Secret", "rot-pgb-app").opts.dependsOn as unknown[];
    expect(deps.map((d) => (d as { __name?: string }).__name)).toContain("rot-pgb");
  });
});

describe("pgbouncerRules", () => {
  const settings = (
    overrides: Partial<PgBouncerModule.PgBouncerArgs> = {},
    pool: Partial<PgBouncerModule.PoolSettings> = {},
  ) => ({ replicas: 1, ...overrides, pool: { ...devPool(), ...pool } });

  it("valid args have no problem", () => {
    expect(pgb.pgbouncerRules(settings())).toEqual([]);
    expect(pgb.pgbouncerRules(settings({ replicas: 3 }, { minPoolSize: 25 }))).toEqual([]);
  });

  it.each([0, 1.5, -1])("replicas of %s are refused", (replicas) => {
    expect(pgb.pgbouncerRules(settings({ replicas }))).toEqual([
      { propertyPath: "replicas", reason: `must be a whole number ≥ 1 (got ${replicas})` },
    ]);
  });

  it.each([
    "minPoolSize",
    "reservePoolSize",
    "reservePoolTimeoutSeconds",
    "serverIdleTimeoutSeconds",
    "serverLifetimeSeconds",
    "queryWaitTimeoutSeconds",
    "maxPreparedStatements",
  ] as const)("a negative or fractional pool.%s is refused", (key) => {
    for (const value of [-1, 2.5]) {
      expect(pgb.pgbouncerRules(settings({}, { [key]: value }))).toEqual([
        { propertyPath: `pool.${key}`, reason: `must be a whole number ≥ 0 (got ${value})` },
      ]);
    }
  });

  it.each(["maxClientConn", "defaultPoolSize"] as const)("pool.%s must be at least 1", (key) => {
    expect(pgb.pgbouncerRules(settings({}, { [key]: 0, minPoolSize: 0 }))).toEqual([
      { propertyPath: `pool.${key}`, reason: "must be a whole number ≥ 1 (got 0)" },
    ]);
  });

  it.each([0, 2.5, 3601])("drainSeconds of %s is refused", (drainSeconds) => {
    expect(pgb.pgbouncerRules(settings({ drainSeconds }))).toEqual([
      {
        propertyPath: "drainSeconds",
        reason: `must be a whole number of seconds from 1 to 3600 (got ${drainSeconds})`,
      },
    ]);
  });

  it("a min_pool_size above default_pool_size is refused", () => {
    expect(pgb.pgbouncerRules(settings({}, { minPoolSize: 30 }))).toEqual([
      {
        propertyPath: "pool.minPoolSize",
        reason: "must not exceed defaultPoolSize (30 > 25)",
      },
    ]);
  });

  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const bad = { ...argsFor(0), pool: { ...devPool(), minPoolSize: 30 } };
    let error: unknown;
    try {
      new pgb.PgBouncer("pgb-bad", bad);
    } catch (caught) {
      error = caught;
    }
    expect(pulumi.InputPropertiesError.isInstance(error)).toBe(true);
    expect((error as pulumi.InputPropertiesError).errors).toEqual([
      expect.objectContaining({ propertyPath: "replicas" }),
      expect.objectContaining({ propertyPath: "pool.minPoolSize" }),
    ]);
    const registered = await registeredUnder(mocks, "pgb-bad");
    expect(registered.filter((r) => r.type !== "k3s-platform:data:PgBouncer")).toEqual([]);
  });
});

describe("pgbouncerCheck: the stack key of each argument", () => {
  it("a min_pool_size above default_pool_size is refused at pgbouncer.minPoolSize", () => {
    expect(stackConfigIssues({ pgbouncer: { minPoolSize: 30 } })).toEqual([
      {
        key: "k3s-platform:pgbouncer.minPoolSize",
        message: "must not exceed defaultPoolSize (30 > 25)",
      },
    ]);
  });

  it("every argument its rules report maps to the pgbouncer key of the same name", async () => {
    const { componentProblems } = await import("../../platform/validate");
    const { argsForPgBouncer } = await import("../../platform/args/pgbouncer");
    const config = parsedStackConfig({ pgbouncer: {} });
    // The schema refuses these first; the rules would name the same keys.
    const keyOf = (pgbouncer: Record<string, number>) =>
      componentProblems({ ...config, pgbouncer: { ...config.pgbouncer, ...pgbouncer } }).map(
        ({ key }) => key,
      );
    expect(keyOf({ replicas: 0 })).toEqual(["pgbouncer.replicas"]);
    expect(keyOf({ drainSeconds: 0 })).toEqual(["pgbouncer.drainSeconds"]);
    for (const key of Object.keys(argsForPgBouncer(config).pool)) {
      expect(keyOf({ [key]: -1 })).toContain(`pgbouncer.${key}`);
    }
  });
});

describe("argsForPgBouncer: the spread from cluster.nodes", () => {
  it("one node (the default) only prefers a spread; more than one requires it", async () => {
    const { argsForPgBouncer } = await import("../../platform/args/pgbouncer");
    // Whatever the profile: the key says what the cluster is.
    expect(argsForPgBouncer(parsedStackConfig({})).nodeSpread).toBe("ScheduleAnyway");
    const threeNodes = parsedStackConfig({ cluster: { nodes: 3 } });
    expect(argsForPgBouncer(threeNodes).nodeSpread).toBe("DoNotSchedule");
    expect(argsForPgBouncer(threeNodes).drainSeconds).toBe(25);
  });
});
