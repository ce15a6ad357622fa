import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { TemporalArgs } from "../../components/temporal";
import { registeredOfType, setupMocks, unwrap } from "../mocks";
import { issuesByKey, parsedStackConfig, stackConfigIssues } from "./stack-config";

const mocks = setupMocks();

const PG_HOST = "platform-postgres.platform.svc";
const PASSWORD = "temporal-role-password-value";

type Inputs = Record<string, unknown>;
// Parsed YAML, asserted field by field against the server's config structs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = Record<string, any>;
interface Recorded {
  type: string;
  name: string;
  opts: pulumi.ResourceOptions;
}

const temporal = () => import("../../components/temporal");

const ISSUER = "https://login.example.com/realms/platform";
const CLIENT_SECRET = "oidc-client-secret-that-must-stay-in-a-secret";
/** A whole OIDC login, as the Platform passes it (the secret a secret output). */
const OIDC = {
  issuerUrl: ISSUER,
  clientId: "temporal-ui",
  clientSecret: pulumi.secret(CLIENT_SECRET),
};

/** Args as the Platform passes them, with the Temporal role's Secret made here. */
async function argsFor(overrides: Partial<TemporalArgs> = {}): Promise<TemporalArgs> {
  const { SecretKey } = await import("../../components/lib/secrets");
  return {
    namespace: "platform",
    instance: "platform",
    postgres: {
      host: PG_HOST,
      port: 5432,
      user: new SecretKey("postgres-temporal", "username"),
      password: new SecretKey("postgres-temporal", "password"),
      database: "temporal",
      visibilityDatabase: "temporal_visibility",
    },
    numHistoryShards: 4,
    resources: { cpu: "250m", memory: "512Mi" },
    ui: { ingress: { host: "temporal.platform.localhost", ingressClassName: "traefik" } },
    appNamespace: { name: "app", retentionDays: 3 },
    ...overrides,
  };
}

/** Creates the component and records every child's type, name and resource options. */
async function create(name: string, overrides: Partial<TemporalArgs> = {}) {
  const { Temporal } = await temporal();
  const recorded: Recorded[] = [];
  const component = new Temporal(name, await argsFor(overrides), {
    transformations: [
      (child) => {
        recorded.push({ type: child.type, name: child.name, opts: child.opts });
        return undefined;
      },
    ],
  });
  return { component, recorded };
}

function dependsOn(recorded: Recorded[], type: string, name: string): unknown[] {
  const entry = recorded.find((child) => child.type === type && child.name === name);
  if (!entry) throw new Error(`no ${type} named ${name}`);
  const deps = entry.opts.dependsOn;
  return Array.isArray(deps) ? deps : [deps];
}

async function registered(type: string, name: string): Promise<Inputs> {
  const found = (await registeredOfType(mocks, type)).find((resource) => resource.name === name);
  if (!found) throw new Error(`no ${type} named ${name} registered`);
  return found.inputs;
}

/** The pod spec of a registered workload. */
function podSpec(workload: Inputs): Inputs {
  const spec = workload.spec as { template: { spec: Inputs } };
  return spec.template.spec;
}

function firstContainer(workload: Inputs): Inputs {
  return (podSpec(workload).containers as Inputs[])[0];
}

/** The static config as the server sees it after rendering its templates. */
async function renderedConfig(overrides: Partial<TemporalArgs> = {}) {
  const { temporalServerConfig, renderConfigTemplate } = await temporal();
  const args = await argsFor(overrides);
  const text = temporalServerConfig({
    numHistoryShards: args.numHistoryShards,
    postgres: {
      host: PG_HOST,
      port: 5432,
      database: "temporal",
      visibilityDatabase: "temporal_visibility",
    },
    frontendAddress: "platform-temporal-frontend.platform.svc:7233",
  });
  const env = { SQL_USER: "temporal", SQL_PASSWORD: PASSWORD, POD_IP: "10.42.0.7" };
  return { text, config: parse(renderConfigTemplate(text, env)) as Yaml };
}

describe("Temporal rollout order", () => {
  it("runs the schema Job before the server and registers the namespace after the frontend", async () => {
    const { component, recorded } = await create("order");
    const deployment = "kubernetes:apps/v1:Deployment";
    expect(dependsOn(recorded, deployment, "order-server")).toContain(component.schemaJob);
    const namespaceJob = await unwrap(component.namespaceJob.metadata.name);
    expect(dependsOn(recorded, "kubernetes:batch/v1:Job", namespaceJob)).toContain(
      component.frontend,
    );
    expect(component.frontend).toBe(component.deployments[0]);
  });

  it("in prod every service waits for the schema Job, the namespace Job for the frontend", async () => {
    const { component, recorded } = await create("ordered", { separateServices: true });
    for (const service of ["frontend", "history", "matching", "worker"]) {
      expect(dependsOn(recorded, "kubernetes:apps/v1:Deployment", `ordered-${service}`)).toContain(
        component.schemaJob,
      );
    }
    const frontend = await unwrap(component.frontend.metadata.name);
    expect(frontend).toBe("ordered-frontend");
    const namespaceJob = await unwrap(component.namespaceJob.metadata.name);
    expect(dependsOn(recorded, "kubernetes:batch/v1:Job", namespaceJob)).toEqual([
      component.frontend,
    ]);
  });

  it("the schema Job waits for what the data tier says, and is retried when it failed", async () => {
    const { component, recorded } = await create("retry");
    const name = await unwrap(component.schemaJob.metadata.name);
    const job = recorded.find((child) => child.name === name)!;
    expect((job.opts as pulumi.CustomResourceOptions).deleteBeforeReplace).toBe(true);
    const inputs = await registered("kubernetes:batch/v1:Job", name);
    expect(inputs).toMatchObject({
      metadata: { annotations: { "pulumi.com/replaceUnready": "true" } },
      spec: { backoffLimit: expect.any(Number), activeDeadlineSeconds: expect.any(Number) },
    });
  });
});

describe("Temporal and Postgres", () => {
  it("Temporal connects to Postgres directly, never through PgBouncer", async () => {
    const { component } = await create("direct");
    const config = await registered("kubernetes:core/v1:ConfigMap", "direct-config");
    const text = (config.data as Record<string, string>)["config.yaml"];
    const stores = (parse(text.replace(/\{\{[^}]*\}\}/g, "x")) as Yaml).persistence.datastores;
    for (const store of Object.values(stores) as { sql: { connectAddr: string } }[]) {
      expect(store.sql.connectAddr).toBe(`${PG_HOST}:5432`);
    }
    const job = await registered(
      "kubernetes:batch/v1:Job",
      await unwrap(component.schemaJob.metadata.name),
    );
    const script = (firstContainer(job).command as string[]).join(" ");
    expect(script).toContain(`--ep ${PG_HOST} --port 5432`);
    expect(`${text}\n${script}`).not.toMatch(/pgbouncer|6432/i);
  });

  it("the schema Job is renamed when the Temporal version changes", async () => {
    const same = async (name: string, version: string) => {
      const images = {
        server: `docker.io/temporalio/server:${version}`,
        adminTools: `docker.io/temporalio/admin-tools:${version}`,
      };
      const { component } = await create(name, { images });
      return (await unwrap(component.schemaJob.metadata.name)).replace(name, "x");
    };
    const current = await same("v1", "1.32.1");
    expect(await same("v2", "1.32.1")).toBe(current);
    expect(await same("v3", "1.32.2")).not.toBe(current);
    expect(current).toMatch(/^x-schema-[0-9a-f]{8}$/);
  });

  it("refuses admin-tools of another release than the server", async () => {
    const { temporalRules } = await temporal();
    const images = { adminTools: "docker.io/temporalio/admin-tools:1.31.0" };
    expect(temporalRules(await argsFor({ images }))).toEqual([
      {
        propertyPath: "images.adminTools",
        reason: expect.stringMatching(
          /^must be the server's release \(server 1\.32\.1, admin-tools 1\.31\.0\)/,
        ),
      },
    ]);
    await expect(create("mismatch", { images })).rejects.toThrow(
      /images\.adminTools: must be the server's release \(server 1\.32\.1, admin-tools 1\.31\.0\)/,
    );
  });

  it("sets up both schemas idempotently: version tables, then versioned updates", async () => {
    const { temporalSchemaScript } = await temporal();
    const script = temporalSchemaScript({
      host: PG_HOST,
      port: 5432,
      database: "temporal",
      visibilityDatabase: "temporal_visibility",
    });
    const tool = `temporal-sql-tool --plugin postgres12 --ep ${PG_HOST} --port 5432`;
    for (const [db, schema] of [
      ["temporal", "postgresql/v12/temporal"],
      ["temporal_visibility", "postgresql/v12/visibility"],
    ]) {
      const setup = script.indexOf(`if ! ${tool} --db ${db} setup-schema -v 0.0; then`);
      const create = script.indexOf(`  ${tool} --db ${db} create-database\n`);
      const update = script.indexOf(`\n${tool} --db ${db} update-schema --schema-name ${schema}\n`);
      expect(setup).toBeGreaterThanOrEqual(0);
      expect(create).toBeGreaterThan(setup);
      expect(update).toBeGreaterThan(create);
    }
    expect(script.startsWith("set -eu\n")).toBe(true);
    // No credential on a command line: the tool reads SQL_USER and SQL_PASSWORD.
    expect(script).not.toMatch(/--user|--password|--pw\b|-u /);
  });
});

describe("Temporal credentials", () => {
  it("no password in the Temporal ConfigMap", async () => {
    const { PlatformSecret } = await import("../../components/lib/secrets");
    const secret = new PlatformSecret(
      "creds-temporal",
      { namespace: "platform", labels: {}, data: { username: "temporal", password: PASSWORD } },
      {},
    );
    const { Temporal } = await temporal();
    const args = await argsFor();
    new Temporal("secret", {
      ...args,
      postgres: {
        ...args.postgres,
        user: secret.key("username"),
        password: secret.key("password"),
      },
    });
    const config = await registered("kubernetes:core/v1:ConfigMap", "secret-config");
    const text = JSON.stringify(config.data);
    expect(text).not.toContain(PASSWORD);
    expect(text).toContain('password: {{ env \\"SQL_PASSWORD\\" | quote }}');
    const server = firstContainer(
      await registered("kubernetes:apps/v1:Deployment", "secret-server"),
    );
    expect(server.env).toContainEqual({
      name: "SQL_PASSWORD",
      valueFrom: { secretKeyRef: { name: "creds-temporal", key: "password" } },
    });
  });
});

describe("Temporal server layout", () => {
  it("dev runs all four services in one Deployment", async () => {
    await create("dev");
    const server = firstContainer(await registered("kubernetes:apps/v1:Deployment", "dev-server"));
    expect(server.command).toEqual([
      "temporal-server",
      "--config-file",
      "/etc/temporal/config/config.yaml",
      "--allow-no-auth",
      "start",
      ...["frontend", "history", "matching", "worker"].flatMap((s) => ["--service", s]),
    ]);
  });

  it("prod runs each service in its own Deployment with a PDB", async () => {
    const replicas = { frontend: 2, history: 2, matching: 2, worker: 2 };
    await create("prod", { separateServices: true, replicas });
    const pdbs = await registeredOfType(mocks, "kubernetes:policy/v1:PodDisruptionBudget");
    for (const service of Object.keys(replicas)) {
      const deployment = await registered("kubernetes:apps/v1:Deployment", `prod-${service}`);
      const command = firstContainer(deployment).command as string[];
      expect(command.slice(-2)).toEqual(["--service", service]);
      expect(command.filter((word) => word === "--service")).toHaveLength(1);
      const spec = deployment.spec as { replicas: number; selector: { matchLabels: Inputs } };
      expect(spec.replicas).toBe(2);
      expect(podSpec(deployment).topologySpreadConstraints).toBeDefined();
      const pdb = pdbs.find((budget) => budget.name === `prod-${service}`);
      expect(pdb?.inputs.spec).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: spec.selector.matchLabels },
      });
    }
    expect(pdbs.some((budget) => budget.name === "prod-server")).toBe(false);
  });

  it("a server rollout never adds a pod: Recreate for one pod, RollingUpdate without surge for more", async () => {
    const strategyOf = async (name: string) =>
      ((await registered("kubernetes:apps/v1:Deployment", name)).spec as Inputs).strategy;
    await create("roll-dev");
    expect(await strategyOf("roll-dev-server")).toEqual({ type: "Recreate" });
    await create("roll-one", { separateServices: true });
    expect(await strategyOf("roll-one-history")).toEqual({ type: "Recreate" });
    await create("roll-ha", {
      separateServices: true,
      replicas: { frontend: 2, history: 3, matching: 2, worker: 1 },
    });
    for (const service of ["frontend", "history", "matching"]) {
      expect(await strategyOf(`roll-ha-${service}`)).toEqual({
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
      });
    }
    expect(await strategyOf("roll-ha-worker")).toEqual({ type: "Recreate" });
  });

  it("the frontend Service is the clients' address, and Prometheus scrapes every server pod", async () => {
    const { component } = await create("addr", { separateServices: true });
    expect(await unwrap(component.frontendAddress)).toBe("addr-frontend.platform.svc:7233");
    const service = await registered("kubernetes:core/v1:Service", "addr-frontend");
    expect(service.spec).toMatchObject({
      ports: [{ port: 7233, targetPort: "grpc-frontend" }],
      selector: { "app.kubernetes.io/component": "temporal-frontend" },
    });
    for (const service of ["frontend", "history", "matching", "worker"]) {
      const members = await registered("kubernetes:core/v1:Service", `addr-${service}-members`);
      expect(members.spec).toMatchObject({
        clusterIP: "None",
        publishNotReadyAddresses: true,
        selector: { "app.kubernetes.io/component": `temporal-${service}` },
        ports: [{ targetPort: `grpc-${service}` }, { targetPort: `memb-${service}` }],
      });
      const deployment = await registered("kubernetes:apps/v1:Deployment", `addr-${service}`);
      const template = (deployment.spec as { template: { metadata: Inputs } }).template;
      expect(template.metadata.annotations).toMatchObject({
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
      });
    }
  });

  it("probes the frontend over gRPC health and runs as the image's non-root user", async () => {
    await create("probe");
    const deployment = await registered("kubernetes:apps/v1:Deployment", "probe-server");
    const server = firstContainer(deployment);
    expect(server.readinessProbe).toMatchObject({
      grpc: { port: 7233, service: "temporal.api.workflowservice.v1.WorkflowService" },
    });
    expect(server.livenessProbe).toMatchObject({ tcpSocket: { port: "grpc-frontend" } });
    expect(podSpec(deployment).securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
    });
    expect(server.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
  });
});

describe("Temporal static config", () => {
  it("the static config has numHistoryShards and membership ports below 32768", async () => {
    const { config } = await renderedConfig({ numHistoryShards: 8 });
    expect(config.persistence.numHistoryShards).toBe(8);
    const services = config.services as Record<string, { rpc: { membershipPort: number } }>;
    expect(Object.keys(services).sort()).toEqual(["frontend", "history", "matching", "worker"]);
    for (const { rpc } of Object.values(services)) {
      expect(rpc.membershipPort).toBeGreaterThan(0);
      expect(rpc.membershipPort).toBeLessThan(32768);
    }
  });

  it("has every field the pinned server (1.32) requires, and only keys it knows", async () => {
    const { text, config } = await renderedConfig();
    // Templating is on only when this comment is within the file's first KiB (config/loader.go).
    expect(text.slice(0, 1024).split("\n")).toContain("# enable-template");
    // The only template expressions are env lookups, which renderConfigTemplate mirrors.
    expect(text.replace(/\{\{ env "[A-Z_]+" \| quote \}\}/g, "")).not.toContain("{{");
    // Top-level keys of config.Config (common/config/config.go).
    const known = [
      "global",
      "persistence",
      "log",
      "clusterMetadata",
      "dcRedirectionPolicy",
      "services",
      "archival",
      "publicClient",
      "dynamicConfigClient",
      "namespaceDefaults",
      "otel",
      "visibility",
    ];
    expect(known).toEqual(expect.arrayContaining(Object.keys(config)));

    // persistence: nonzero defaultStore and numHistoryShards, stores that exist, SQL fields.
    const { persistence } = config;
    expect(persistence.numHistoryShards).toBe(4);
    const stores = persistence.datastores as Record<string, { sql: Record<string, unknown> }>;
    expect(Object.keys(stores).sort()).toEqual(
      [persistence.defaultStore, persistence.visibilityStore].sort(),
    );
    for (const [store, database] of [
      [persistence.defaultStore, "temporal"],
      [persistence.visibilityStore, "temporal_visibility"],
    ]) {
      expect(stores[store].sql).toMatchObject({
        pluginName: "postgres12",
        databaseName: database,
        connectAddr: `${PG_HOST}:5432`,
        connectProtocol: "tcp",
        user: "temporal",
        password: PASSWORD,
        maxConns: expect.any(Number),
        maxIdleConns: expect.any(Number),
        maxConnLifetime: "1h",
      });
    }

    // global: membership broadcasts the pod IP; Prometheus metrics on all interfaces.
    expect(config.global.membership).toEqual({
      maxJoinDuration: "30s",
      broadcastAddress: "10.42.0.7",
    });
    expect(config.global.metrics.prometheus.listenAddress).toBe("0.0.0.0:9090");

    // services: each binds all interfaces on Temporal's ports; the frontend also serves HTTP.
    const ports = {
      frontend: [7233, 6933],
      history: [7234, 6934],
      matching: [7235, 6935],
      worker: [7239, 6939],
    };
    for (const [service, [grpc, membership]] of Object.entries(ports)) {
      expect(config.services[service].rpc).toMatchObject({
        grpcPort: grpc,
        membershipPort: membership,
        bindOnIP: "0.0.0.0",
      });
    }
    expect(config.services.frontend.rpc.httpPort).toBe(7243);

    // clusterMetadata: the current cluster is described, enabled, with an RPC address.
    const cluster = config.clusterMetadata;
    expect(cluster.masterClusterName).toBe(cluster.currentClusterName);
    expect(cluster.clusterInformation[cluster.currentClusterName]).toMatchObject({
      enabled: true,
      initialFailoverVersion: 1,
      rpcName: "frontend",
      rpcAddress: "platform-temporal-frontend.platform.svc:7233",
    });
    expect(config.dcRedirectionPolicy).toEqual({ policy: "noop" });

    // archival off as the validator requires: not enabled, no reads, no provider, no URI.
    for (const kind of ["history", "visibility"]) {
      expect(config.archival[kind]).toEqual({ state: "disabled", enableRead: false });
      expect(config.namespaceDefaults.archival[kind]).toEqual({ state: "disabled" });
    }
    expect(config.dynamicConfigClient).toEqual({
      filepath: "/etc/temporal/config/dynamic-config.yaml",
      pollInterval: "60s",
    });
    // No publicClient: the worker service finds the frontend through membership.
    expect(config.publicClient).toBeUndefined();
  });

  it("the dynamic config keeps IDs within the visibility schema's VARCHAR(255)", async () => {
    const { temporalDynamicConfig } = await temporal();
    expect(parse(temporalDynamicConfig())).toEqual({
      "limit.maxIDLength": [{ value: 255, constraints: {} }],
    });
  });

  it("numHistoryShards can never change, and the refusal says why", async () => {
    const { temporalRules } = await temporal();
    const shards = async (recordedNumHistoryShards: number | undefined, numHistoryShards: number) =>
      temporalRules(await argsFor({ recordedNumHistoryShards, numHistoryShards }));
    expect(await shards(undefined, 4)).toEqual([]);
    expect(await shards(4, 4)).toEqual([]);
    expect(await shards(4, 8)).toEqual([
      {
        propertyPath: "numHistoryShards",
        reason: expect.stringMatching(
          /cannot change from 4 to 8: .*hashing its ID with that count.*only logs a warning/s,
        ),
      },
    ]);
    await expect(
      create("reshard", { recordedNumHistoryShards: 4, numHistoryShards: 8 }),
    ).rejects.toThrow(/numHistoryShards: cannot change from 4 to 8/);
  });

  it("counts the Postgres connections the server may hold, per service and pod", async () => {
    const { temporalConnectionCount } = await temporal();
    const dev = { frontend: 1, history: 1, matching: 1, worker: 1 };
    expect(temporalConnectionCount(dev)).toBe(4 * (5 + 2));
    const prod = { frontend: 2, history: 2, matching: 2, worker: 1 };
    expect(temporalConnectionCount(prod, { maxConns: 10, visibilityMaxConns: 4 })).toBe(7 * 14);
  });

  it("refuses a shard count that is not a positive whole number", async () => {
    await expect(create("shards", { numHistoryShards: 0 })).rejects.toThrow(/numHistoryShards/);
    await expect(create("shards2", { numHistoryShards: 2.5 })).rejects.toThrow(/whole number/);
  });
});

describe("Temporal namespace and UI", () => {
  it("registers the app's namespace idempotently, with its retention", async () => {
    const { namespaceScript } = await temporal();
    const script = namespaceScript({ name: "app", retentionDays: 3 });
    const describeAt = script.indexOf("temporal operator namespace describe --namespace app");
    expect(describeAt).toBeGreaterThan(script.indexOf("temporal operator cluster health"));
    expect(script).toContain("temporal operator namespace update --namespace app --retention 72h");
    expect(script).toContain("temporal operator namespace create --namespace app --retention 72h");
    expect(script.indexOf("namespace create")).toBeGreaterThan(describeAt);
  });

  it("the namespace output resolves to the app's namespace", async () => {
    const { component } = await create("nsout");
    expect(await unwrap(component.namespaceName)).toBe("app");
    const job = await registered(
      "kubernetes:batch/v1:Job",
      await unwrap(component.namespaceJob.metadata.name),
    );
    expect(firstContainer(job).env).toContainEqual({
      name: "TEMPORAL_ADDRESS",
      value: "nsout-frontend.platform.svc:7233",
    });
  });

  it("serves the UI on 8080 behind an Ingress for the configured host and class", async () => {
    const { component } = await create("web", {
      ui: {
        ingress: {
          host: "temporal.example.com",
          ingressClassName: "traefik",
          tlsSecretName: "temporal-tls",
        },
      },
    });
    expect(await unwrap(component.uiUrl)).toBe("https://temporal.example.com");
    const ingress = await registered("kubernetes:networking.k8s.io/v1:Ingress", "web-ui");
    expect(ingress.spec).toMatchObject({
      ingressClassName: "traefik",
      rules: [{ host: "temporal.example.com" }],
      tls: [{ hosts: ["temporal.example.com"], secretName: "temporal-tls" }],
    });
    const service = await registered("kubernetes:core/v1:Service", "web-ui");
    expect(service.spec).toMatchObject({ ports: [{ port: 8080, targetPort: "http" }] });
    const ui = firstContainer(await registered("kubernetes:apps/v1:Deployment", "web-ui"));
    expect(ui.env).toEqual(
      expect.arrayContaining([
        { name: "TEMPORAL_ADDRESS", value: "web-frontend.platform.svc:7233" },
        { name: "TEMPORAL_UI_PORT", value: "8080" },
        { name: "TEMPORAL_CSRF_COOKIE_INSECURE", value: "false" },
        // No login asked for: none, and the UI only shows workflows.
        { name: "TEMPORAL_AUTH_ENABLED", value: "false" },
        { name: "TEMPORAL_DISABLE_WRITE_ACTIONS", value: "true" },
      ]),
    );
  });

  it("without an Ingress serves the UI on the port-forward's origin only", async () => {
    const { component } = await create("local", { ui: {} });
    expect(await unwrap(component.uiUrl)).toBe("http://localhost:8080");
    const ingresses = await registeredOfType(mocks, "kubernetes:networking.k8s.io/v1:Ingress");
    expect(ingresses.map((ingress) => ingress.name)).not.toContain("local-ui");
    expect(await registered("kubernetes:core/v1:Service", "local-ui")).toBeDefined();
    const ui = firstContainer(await registered("kubernetes:apps/v1:Deployment", "local-ui"));
    expect(ui.env).toEqual(
      expect.arrayContaining([
        { name: "TEMPORAL_CORS_ORIGINS", value: "http://localhost:8080" },
        { name: "TEMPORAL_CSRF_COOKIE_INSECURE", value: "true" },
      ]),
    );
  });

  it("logs in with OIDC: the client secret from a Secret, the callback on the UI's host", async () => {
    await create("sso", {
      ui: {
        ingress: { host: "temporal.example.com", tlsSecretName: "platform-tls" },
        oidc: OIDC,
        writeActions: true,
      },
    });
    const deployment = await registered("kubernetes:apps/v1:Deployment", "sso-ui");
    expect(firstContainer(deployment).env).toEqual(
      expect.arrayContaining([
        { name: "TEMPORAL_AUTH_ENABLED", value: "true" },
        { name: "TEMPORAL_AUTH_PROVIDER_URL", value: ISSUER },
        { name: "TEMPORAL_AUTH_CLIENT_ID", value: "temporal-ui" },
        {
          name: "TEMPORAL_AUTH_CLIENT_SECRET",
          valueFrom: { secretKeyRef: { name: "sso-ui-oidc", key: "clientSecret" } },
        },
        {
          name: "TEMPORAL_AUTH_CALLBACK_URL",
          value: "https://temporal.example.com/auth/sso/callback",
        },
        { name: "TEMPORAL_AUTH_SCOPES", value: "openid,profile,email" },
        { name: "TEMPORAL_DISABLE_WRITE_ACTIONS", value: "false" },
      ]),
    );
    // The secret is in the Secret only: nowhere in the Deployment, nor in any ConfigMap.
    expect(JSON.stringify(deployment)).not.toContain(CLIENT_SECRET);
    const secret = await registered("kubernetes:core/v1:Secret", "sso-ui-oidc");
    // Registered as a secret value: the engine encrypts it in the state.
    expect(secret.stringData).toEqual({
      [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
      value: { clientSecret: CLIENT_SECRET },
    });
    for (const configMap of await registeredOfType(mocks, "kubernetes:core/v1:ConfigMap")) {
      expect(JSON.stringify(configMap.inputs)).not.toContain(CLIENT_SECRET);
    }
    // A rotated secret rolls the UI's pods.
    const template = (deployment.spec as { template: { metadata: Inputs } }).template;
    expect(template.metadata.annotations).toHaveProperty(["k3s-platform/config-hash"]);
  });
});

describe("Temporal images", () => {
  it("pins the server and admin-tools to the same release", async () => {
    const { IMAGES } = await import("../../core/images");
    expect(IMAGES.temporalServer.tag).toBe(IMAGES.temporalAdminTools.tag);
    expect(IMAGES.temporalServer.tag).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

/** One broken argument: how to break the valid args, and the problem the rules report. */
type Broken = [string, (args: TemporalArgs) => TemporalArgs, string, RegExp];

const BROKEN: Broken[] = [
  [
    "a shard count of zero",
    (args) => ({ ...args, numHistoryShards: 0 }),
    "numHistoryShards",
    /whole number from 1 to 16384 \(got 0\)/,
  ],
  [
    "a shard count above 16384",
    (args) => ({ ...args, numHistoryShards: 16385 }),
    "numHistoryShards",
    /whole number from 1 to 16384/,
  ],
  [
    "a shard count other than the recorded one",
    (args) => ({ ...args, recordedNumHistoryShards: 8 }),
    "numHistoryShards",
    /cannot change from 8 to 4/,
  ],
  [
    "a Postgres port outside TCP's range",
    (args) => ({ ...args, postgres: { ...args.postgres, port: 70000 } }),
    "postgres.port",
    /must be a TCP port \(got 70000\)/,
  ],
  [
    "a database name that is no Postgres identifier",
    (args) => ({ ...args, postgres: { ...args.postgres, database: "Temporal-DB" } }),
    "postgres.database",
    /must match .* \(got "Temporal-DB"\)/,
  ],
  [
    "a visibility database name that is no Postgres identifier",
    (args) => ({ ...args, postgres: { ...args.postgres, visibilityDatabase: "1vis" } }),
    "postgres.visibilityDatabase",
    /must match .* \(got "1vis"\)/,
  ],
  [
    "one database for both stores",
    (args) => ({ ...args, postgres: { ...args.postgres, visibilityDatabase: "temporal" } }),
    "postgres.visibilityDatabase",
    /must differ from postgres.database \("temporal"\)/,
  ],
  [
    "a service with no pods",
    (args) => ({ ...args, separateServices: true, replicas: { history: 0 } }),
    "replicas.history",
    /whole number of at least 1 \(got 0\)/,
  ],
  [
    "a UI with no pods",
    (args) => ({ ...args, ui: { ...args.ui, replicas: 0 } }),
    "ui.replicas",
    /whole number of at least 1 \(got 0\)/,
  ],
  [
    "an app namespace Temporal cannot name",
    (args) => ({ ...args, appNamespace: { ...args.appNamespace, name: "-app" } }),
    "appNamespace.name",
    /must match .* \(got "-app"\)/,
  ],
  [
    "a retention of part of a day",
    (args) => ({ ...args, appNamespace: { ...args.appNamespace, retentionDays: 0.5 } }),
    "appNamespace.retentionDays",
    /whole number of at least 1 \(got 0.5\)/,
  ],
  [
    "a login without its client secret",
    (args) => ({ ...args, ui: { ...args.ui, oidc: { issuerUrl: ISSUER, clientId: "ui" } } }),
    "ui.oidc.clientSecret",
    /is required with ui.oidc/,
  ],
  [
    "a login at an issuer that is no URL",
    (args) => ({ ...args, ui: { ...args.ui, oidc: { ...OIDC, issuerUrl: "login.example.com" } } }),
    "ui.oidc.issuerUrl",
    /must be an http or https URL .*\(got "login.example.com"\)/,
  ],
  [
    "a login without the openid scope",
    (args) => ({ ...args, ui: { ...args.ui, oidc: { ...OIDC, scopes: ["profile"] } } }),
    "ui.oidc.scopes",
    /must include "openid"/,
  ],
  [
    "a login without an Ingress to serve its callback",
    (args) => ({ ...args, ui: { oidc: OIDC } }),
    "ui.oidc",
    /needs the UI's Ingress/,
  ],
  [
    "admin-tools of another release",
    (args) => ({ ...args, images: { adminTools: "docker.io/temporalio/admin-tools:1.31.0" } }),
    "images.adminTools",
    /must be the server's release/,
  ],
];

describe("Temporal rules", () => {
  it.each(BROKEN)("refuses %s, at its argument", async (_name, broken, propertyPath, reason) => {
    const { temporalRules } = await temporal();
    expect(temporalRules(broken(await argsFor()))).toEqual([
      { propertyPath, reason: expect.stringMatching(reason) },
    ]);
  });

  it("valid args have no problem, in dev's layout and in prod's", async () => {
    const { temporalRules } = await temporal();
    expect(temporalRules(await argsFor())).toEqual([]);
    const replicas = { frontend: 2, history: 2, matching: 2, worker: 2 };
    expect(temporalRules(await argsFor({ separateServices: true, replicas }))).toEqual([]);
  });

  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const { Temporal } = await temporal();
    const bad = await argsFor({
      numHistoryShards: 0,
      appNamespace: { name: "-app", retentionDays: 0 },
    });
    let thrown: unknown;
    try {
      new Temporal("refused", bad);
    } catch (error) {
      thrown = error;
    }
    expect(pulumi.InputPropertiesError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({
      errors: [
        { propertyPath: "numHistoryShards" },
        { propertyPath: "appNamespace.name" },
        { propertyPath: "appNamespace.retentionDays" },
      ],
    });
    // Only the component itself is registered: no child of it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const own = mocks.registered.filter((resource) => resource.name.startsWith("refused"));
    expect(own.map((resource) => resource.type)).toEqual(["k3s-platform:workflow:Temporal"]);
  });
});

describe("Temporal stack keys", () => {
  /** A valid dev stack config, parsed, with the given change to its Temporal section. */
  function devConfig(temporalSection: Record<string, unknown> = {}) {
    const config = parsedStackConfig();
    return { ...config, temporal: { ...config.temporal, ...temporalSection } };
  }

  it("a changed shard count is refused at temporal.numHistoryShards", () => {
    const issues = issuesByKey(
      stackConfigIssues({ temporal: { numHistoryShards: 1024, recordedNumHistoryShards: 512 } }),
    );
    expect(issues.get("k3s-platform:temporal.numHistoryShards")).toMatch(
      /cannot change from 512 to 1024/,
    );
  });

  it("the rules the schema already enforces map to the keys a user writes", async () => {
    const { componentProblems } = await import("../../platform/validate");
    const problems = componentProblems(
      devConfig({
        numHistoryShards: 0,
        replicas: 0,
        namespace: { name: "-app", retentionDays: 0 },
      }),
    );
    const keys = problems.map((problem) => problem.key);
    expect(keys).toContain("temporal.numHistoryShards");
    // Four services take their pods from this one key: one problem, reported once.
    expect(keys.filter((key) => key === "temporal.replicas")).toHaveLength(1);
    expect(keys).toContain("temporal.namespace.name");
    expect(keys).toContain("temporal.namespace.retentionDays");
    expect(keys.every((key) => key.startsWith("temporal."))).toBe(true);
  });

  it("a valid stack config gives Temporal settings without problems; ui.replicas follows separateServices", async () => {
    const { componentProblems } = await import("../../platform/validate");
    const { argsForTemporal, temporalCheck } = await import("../../platform/args/temporal");
    const dev = devConfig();
    expect(componentProblems(dev).filter((problem) => problem.key.startsWith("temporal."))).toEqual(
      [],
    );
    expect(argsForTemporal(dev).ui.replicas).toBe(1);
    expect(argsForTemporal(devConfig({ separateServices: true })).ui.replicas).toBe(2);
    // No stack can make the UI's pods invalid; were it to, the key that decides them is named.
    expect(temporalCheck.keys["ui.replicas"]).toBe("temporal.separateServices");
  });

  it("temporal.replicas sizes every service, and the all-in-one layout ignores it", async () => {
    const { argsForTemporal } = await import("../../platform/args/temporal");
    const { serverLayout, ALL_IN_ONE_REPLICAS } = await temporal();
    const dev = argsForTemporal(devConfig({ replicas: 3 }));
    expect(dev.replicas).toEqual({ frontend: 3, history: 3, matching: 3, worker: 3 });
    const identity = (component: string) => ({
      name: "temporal-server",
      component,
      instance: "x",
      version: "1",
    });
    expect(serverLayout(dev, identity).map((part) => part.replicas)).toEqual([ALL_IN_ONE_REPLICAS]);
    const prod = argsForTemporal(devConfig({ replicas: 3, separateServices: true }));
    expect(serverLayout(prod, identity).map((part) => part.replicas)).toEqual([3, 3, 3, 3]);
  });
});
