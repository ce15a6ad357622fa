/**
 * Our Temporal configuration read by the real Temporal programs of the release the catalogue
 * pins (`temporal-sql-tool` and `temporal-server`, built from go.temporal.io/server), against a
 * real PostgreSQL 15 set up by our own data tier. Everything handed to them comes from the dev
 * render (the schema Job's script, the server Deployment's command and env, the ConfigMap), with
 * only loopback rewrites, each printed.
 *
 * On that server, the app's side: the namespace Job's registration, made with the same requests
 * its `temporal` CLI sends but through `@temporalio/client` (the CLI is not buildable here: its
 * `cliext` module is not published), and a TypeScript workflow and activity
 * (`@temporalio/worker` + `@temporalio/client`) run end to end with nothing but the env contract
 * (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`) the rendered app-worker Deployment sets.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as grpcStatus } from "@grpc/grpc-js";
import { Context } from "@temporalio/activity";
import { Client, Connection, isGrpcServiceError, WorkflowFailedError } from "@temporalio/client";
// Comes with @temporalio/client: protobuf Durations from milliseconds (their seconds are Longs).
import { msToTs } from "@temporalio/common/lib/time";
import { DefaultLogger, NativeConnection, Runtime, Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGES } from "../../core/images";
import {
  HEALTH_SERVICES,
  MEMBERSHIP_PORT_LIMIT,
  shardChangeProblem,
  TEMPORAL_PORTS,
  TEMPORAL_SERVICES,
  type TemporalServiceName,
} from "../../components/temporal";
import { exposedMetricNames, queriedMetrics, sourceOf } from "./lib/dashboard-metrics";
import { ensureGoTool } from "./lib/go-tools";
import { renderStackToDir, serviceAddress, type RenderedStack } from "./lib/rendered-stack";
import {
  runProgram,
  runShell,
  startRenderedPostgres,
  type RenderedPostgres,
} from "./lib/rendered-postgres";
import {
  clusterInfo,
  describeRewrites,
  ephemeralPortRange,
  firstContainer,
  healthStatus,
  problemLines,
  requiredSchemaVersions,
  rewrite,
  startServer,
  summarizeLog,
  type EnvEntry,
  type Rewrite,
  type ServerProcess,
} from "./lib/temporal";
import {
  LOOPBACK,
  loopbackServerConfig,
  serverPorts,
  type ServerPorts,
} from "./lib/temporal-loopback";
import { temporalTool } from "./lib/test-tools";
import type { DeployActivities, DeployInput } from "./temporal-workflow/workflows";

const spec = temporalTool();
const scratch = mkdtempSync(join(tmpdir(), "temporal-test-"));
/** The binaries under the names the images give them, first on PATH as in the images. */
const binDir = join(scratch, "bin");

let stack: RenderedStack | undefined;
let db: RenderedPostgres;
const servers: ServerProcess[] = [];

let ports: ServerPorts;

const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

beforeAll(async () => {
  const buildStarted = Date.now();
  const toolDir = await ensureGoTool(spec);
  console.log(
    `temporal ${spec.version}: binaries ready in ${seconds(buildStarted)} s (${toolDir})`,
  );
  mkdirSync(binDir);
  symlinkSync(join(toolDir, "sql"), join(binDir, "temporal-sql-tool"));
  symlinkSync(join(toolDir, "server"), join(binDir, "temporal-server"));
  [stack, db] = await Promise.all([
    // The shipped dev stack runs no app until it names an image: name one, for app-worker's env.
    renderStackToDir("dev", { appImage: "registry.example.com/acme/app:1.0.0" }),
    startRenderedPostgres("dev"),
  ]);

  ports = await serverPorts();
}, 15 * 60_000);

afterAll(async () => {
  // Servers first: they hold connections to Postgres.
  const stopping = Date.now();
  await Promise.all(servers.map((server) => server.stop()));
  console.log(`servers stopped in ${seconds(stopping)} s`);
  await db?.stop();
  stack?.remove();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

/** The rendered workload whose name matches, from the dev render. */
function rendered(kind: string, name: RegExp): unknown {
  const found = stack!
    .manifests(kind)
    .filter((m) => name.test((m as { metadata: { name: string } }).metadata.name));
  if (found.length !== 1)
    throw new Error(`expected one ${kind} named ${name}, found ${found.length}`);
  return found[0];
}

/**
 * The env a pod would get from its rendered entries: Secret keys of the data tier's `temporal`
 * role from the credentials the test's Postgres was initialised with, the pod IP as loopback.
 */
function podEnv(entries: EnvEntry[], rewrites: Rewrite[]): Record<string, string> {
  const temporalRole = db.roles.temporal;
  const env: Record<string, string> = { PATH: `${binDir}:${process.env.PATH ?? ""}` };
  for (const entry of entries) {
    const secret = entry.valueFrom?.secretKeyRef;
    const field = entry.valueFrom?.fieldRef?.fieldPath;
    if (secret) {
      expect(secret.name).toBe("postgres-temporal");
      expect(["username", "password"]).toContain(secret.key);
      env[entry.name] = secret.key === "username" ? temporalRole.username : temporalRole.password;
    } else if (field === "status.podIP") {
      env[entry.name] = LOOPBACK;
      rewrites.push({ what: `env ${entry.name}`, from: field, to: LOOPBACK, count: 1 });
    } else if (entry.name === "HOME") {
      env.HOME = scratch;
      rewrites.push({ what: "env HOME", from: entry.value ?? "", to: scratch, count: 1 });
    } else if (entry.value !== undefined) env[entry.name] = entry.value;
    else throw new Error(`env ${entry.name}: source not understood by the test`);
  }
  return env;
}

/** The schema Job's script and env, rewritten only to reach the loopback Postgres. */
function schemaJob(): { script: string; env: Record<string, string>; rewrites: Rewrite[] } {
  const container = firstContainer(rendered("Job", /^temporal-schema-/));
  expect(container.command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
  const rewrites: Rewrite[] = [];
  const lines = (container.command[2].match(/\btemporal-sql-tool /g) ?? []).length;
  expect(lines).toBeGreaterThan(0);
  const script = rewrite(
    container.command[2],
    "Postgres endpoint",
    /--ep \S+ --port \d+/g,
    `--ep ${LOOPBACK} --port ${db.pg.port}`,
    lines,
    rewrites,
  );
  return { script, env: podEnv(container.env, rewrites), rewrites };
}

/** What a schema run leaves behind that the server depends on, as the temporal role sees it. */
async function schemaState(database: string): Promise<string> {
  const env = db.envFor("temporal", database);
  const query = (sql: string) => runProgram("psql", ["-X", "-A", "-t", "-c", sql], env);
  const versions = await query(
    "SELECT db_name, curr_version, min_compatible_version, creation_time FROM schema_version",
  );
  const history = await query(
    "SELECT old_version, new_version, manifest_md5, update_time FROM schema_update_history " +
      "ORDER BY update_time, new_version",
  );
  const dump = await runProgram("pg_dump", ["--schema-only"], env);
  for (const result of [versions, history, dump]) expect(result.stderr).toBe("");
  // pg_dump (15.14+) brackets its output with a random \restrict key: not part of the schema.
  const schema = dump.stdout.replace(/^\\(un)?restrict \S+$/gm, "");
  return [versions.stdout, history.stdout, schema].join("\n-- next --\n");
}

describe("the schema Job's own commands, on PostgreSQL 15 set up by our data tier", () => {
  it("run as the temporal role, which owns both databases and may not create any", async () => {
    const role = await db.pg.psql(
      "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'temporal'",
    );
    expect(role).toBe("f|f");
    const owned = await db.pg.psql(
      "SELECT datname FROM pg_database WHERE datdba = 'temporal'::regrole ORDER BY 1",
    );
    expect(owned.split("\n")).toEqual(["temporal", "temporal_visibility"]);
  });

  it("bring both schemas to the versions the server release requires", async () => {
    const job = schemaJob();
    console.log(describeRewrites("schema Job", job.rewrites));
    const started = Date.now();
    const run = await runShell("/bin/sh", job.script, job.env);
    console.log(`schema Job script: exit ${run.code} in ${seconds(started)} s\n${run.stdout}`);
    expect(run.code, run.stderr).toBe(0);
    // The data tier created the databases: the create-database fallback was never taken.
    expect(run.stderr).not.toMatch(/creating/);
    expect(run.stdout).toMatch(/temporal schema: up to date/);

    const required = requiredSchemaVersions(spec.version);
    const current = async (database: string) =>
      (
        await runProgram(
          "psql",
          ["-X", "-A", "-t", "-c", "SELECT curr_version FROM schema_version"],
          db.envFor("temporal", database),
        )
      ).stdout.trim();
    const reached = {
      default: await current("temporal"),
      visibility: await current("temporal_visibility"),
    };
    console.log(
      `schema versions reached ${JSON.stringify(reached)}, required ${JSON.stringify(required)}`,
    );
    expect(reached).toEqual(required);
  }, 120_000);

  it("change nothing and fail nothing when the Job runs again", async () => {
    const before = await Promise.all(["temporal", "temporal_visibility"].map(schemaState));
    const job = schemaJob();
    const run = await runShell("/bin/sh", job.script, job.env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/creating/);
    const after = await Promise.all(["temporal", "temporal_visibility"].map(schemaState));
    expect(after).toEqual(before);
  }, 120_000);
});

/** The rendered static config, the server's command and env, rewritten only for loopback. */
function serverLaunch(configFile: string, numHistoryShards?: number) {
  const rewrites: Rewrite[] = [];
  const data = stack!.configMap("temporal-config");
  const dynamicFile = join(scratch, "dynamic-config.yaml");
  writeFileSync(dynamicFile, data["dynamic-config.yaml"]);
  const text = loopbackServerConfig(
    data["config.yaml"],
    { ports, postgresPort: db.pg.port, dynamicConfigFile: dynamicFile, numHistoryShards },
    rewrites,
  );
  writeFileSync(configFile, text);

  const deployment = firstContainer(rendered("Deployment", /^temporal-server$/));
  const argv = deployment.command.map((arg, index) => {
    if (index === 0) {
      rewrites.push({ what: "binary", from: arg, to: join(binDir, arg), count: 1 });
      return join(binDir, arg);
    }
    if (arg.endsWith(".yaml")) {
      rewrites.push({ what: "config file", from: arg, to: configFile, count: 1 });
      return configFile;
    }
    return arg;
  });
  return { argv, env: podEnv(deployment.env, rewrites), rewrites };
}

async function waitUntilServing(service: TemporalServiceName, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let status = "no answer";
  while (Date.now() < deadline) {
    status = await healthStatus(
      `${LOOPBACK}:${ports.grpc[service]}`,
      HEALTH_SERVICES[service],
    ).catch((error: Error) => error.message);
    if (status === "SERVING") return status;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return status;
}

/** Starts a server and waits until all four services answer their readiness check SERVING. */
async function startAndWait(name: string, numHistoryShards?: number): Promise<ServerProcess> {
  const launch = serverLaunch(join(scratch, `${name}.yaml`), numHistoryShards);
  console.log(describeRewrites(`server (${name})`, launch.rewrites));
  const started = Date.now();
  const server = startServer(launch.argv, launch.env, join(scratch, `${name}.log`));
  servers.push(server);
  await server.waitFor(/Frontend is now healthy/, 90_000);
  for (const service of TEMPORAL_SERVICES) {
    expect(`${service}: ${await waitUntilServing(service, 60_000)}`).toBe(`${service}: SERVING`);
  }
  console.log(`server (${name}): all four services SERVING after ${seconds(started)} s`);
  return server;
}

/**
 * A rendered in-cluster Temporal address (`temporal-frontend.platform.svc:7233`) pointed at the
 * loopback frontend, after checking it names the frontend Service's gRPC port.
 */
function frontendAddress(what: string, address: string, rewrites: Rewrite[]): string {
  const target = serviceAddress(address);
  expect(target, `${what}: ${address}`).toBeDefined();
  expect(stack!.targetContainerPort(target!.service, target!.port)).toBe(
    TEMPORAL_PORTS.frontend.grpc,
  );
  const to = `${LOOPBACK}:${ports.grpc.frontend}`;
  rewrites.push({ what, from: address, to, count: 1 });
  return to;
}

/** The namespace the rendered namespace Job registers, its retention and the frontend address. */
function namespaceJob() {
  const container = firstContainer(rendered("Job", /^temporal-namespace-/));
  expect(container.command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
  const script = container.command[2];
  const creates = [
    ...script.matchAll(/temporal operator namespace create --namespace (\S+) --retention (\d+)h/g),
  ];
  expect(creates).toHaveLength(1);
  const [, name, hours] = creates[0];
  // The update branch sets the same retention on the same namespace.
  expect(script).toContain(
    `temporal operator namespace update --namespace ${name} --retention ${hours}h`,
  );
  const address = container.env.find((entry) => entry.name === "TEMPORAL_ADDRESS")?.value;
  const rewrites: Rewrite[] = [];
  return {
    name,
    retentionSeconds: Number(hours) * 3600,
    address: frontendAddress("env TEMPORAL_ADDRESS", address ?? "", rewrites),
    rewrites,
  };
}

type NamespaceJob = ReturnType<typeof namespaceJob>;
type WorkflowService = Connection["workflowService"];

/** What `temporal operator namespace create --namespace … --retention …` sends. */
const registerRequest = (job: NamespaceJob) => ({
  namespace: job.name,
  workflowExecutionRetentionPeriod: msToTs(job.retentionSeconds * 1000),
});

/**
 * The namespace Job's script, request for request (its CLI calls these same WorkflowService
 * methods): describe; if found, update the retention; else register, and when that fails
 * (ALREADY_EXISTS: someone registered it meanwhile) accept it if describe now finds it.
 */
async function registerAsTheJob(service: WorkflowService, job: NamespaceJob): Promise<string> {
  const found = await service.describeNamespace({ namespace: job.name }).then(
    () => true,
    (error: unknown) => {
      if (isGrpcServiceError(error) && error.code === grpcStatus.NOT_FOUND) return false;
      throw error;
    },
  );
  if (found) {
    await service.updateNamespace({
      namespace: job.name,
      config: { workflowExecutionRetentionTtl: msToTs(job.retentionSeconds * 1000) },
    });
    return "updated";
  }
  try {
    await service.registerNamespace(registerRequest(job));
    return "registered";
  } catch (error) {
    await service.describeNamespace({ namespace: job.name });
    return `described after ${isGrpcServiceError(error) ? error.code : String(error)}`;
  }
}

/** Polls a namespace-scoped call until the frontend no longer answers NOT_FOUND. */
async function untilNamespaceServed(
  service: WorkflowService,
  namespace: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await service.countWorkflowExecutions({ namespace });
      return;
    } catch (error) {
      const notYet = isGrpcServiceError(error) && error.code === grpcStatus.NOT_FOUND;
      if (!notYet || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The rendered app-worker's Temporal env contract, its address pointed at loopback. */
function appWorkerEnv() {
  const container = firstContainer(rendered("Deployment", /^app-worker$/));
  const value = (name: string) => {
    const entry = container.env.find((e) => e.name === name);
    expect(entry?.value, `app-worker env ${name}`).toBeDefined();
    return entry!.value!;
  };
  const rewrites: Rewrite[] = [];
  const env = {
    TEMPORAL_ADDRESS: frontendAddress("env TEMPORAL_ADDRESS", value("TEMPORAL_ADDRESS"), rewrites),
    TEMPORAL_NAMESPACE: value("TEMPORAL_NAMESPACE"),
  };
  return { env, rewrites };
}

/**
 * Dashboard metrics that this run cannot make the server emit: their names are held against the
 * server's own metric definitions at the pinned release instead.
 */
const EVENT_ONLY_METRICS: Record<string, string> = {
  service_errors: "counted only for unexpected errors (Internal, Unavailable, …), never healthy",
  persistence_errors:
    "counted only when a database call fails unexpectedly; a healthy server on a healthy " +
    "Postgres never has one",
  asyncmatch_latency_bucket:
    "recorded only for a task a poller takes from its own partition's stored backlog, which one " +
    "worker did not produce here, even for a task started 2 s before it polled",
};

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
}

/**
 * Metric names the server defines (`common/metrics/metric_defs.go` of the module at the release we
 * run, fetched by `go mod download`), as a Prometheus scrape shows them: timers and histograms
 * with their `_bucket` series.
 */
async function temporalMetricDefinitions(): Promise<Set<string>> {
  const module = `go.temporal.io/server@${spec.version}`;
  const download = await runProgram("/usr/bin/env", ["go", "mod", "download", "-json", module], {});
  if (download.code !== 0) throw new Error(`go mod download ${module}:\n${download.stdout}`);
  const { Dir } = JSON.parse(download.stdout) as { Dir: string };
  const source = readFileSync(join(Dir, "common", "metrics", "metric_defs.go"), "utf8");
  const names = new Set<string>();
  for (const [, kind, name] of source.matchAll(
    /New(Counter|Gauge|Timer|Histogram)Def\(\s*"(\w+)"/g,
  )) {
    names.add(kind === "Timer" || kind === "Histogram" ? `${name}_bucket` : name);
  }
  return names;
}

describe("a real server on our rendered static config", () => {
  let server: ServerProcess;
  const renderedShards = () =>
    Number(
      /numHistoryShards: (\d+)$/m.exec(stack!.configMap("temporal-config")["config.yaml"])?.[1],
    );

  it("starts all four services, each answering its readiness probe's health check SERVING", async () => {
    server = await startAndWait("first-start");
    const logged = problemLines(server.output());
    console.log(`warnings and errors while starting (${logged.length}):\n${summarizeLog(logged)}`);
    // Nothing about our config: no mismatch, unknown or deprecated setting. (History's
    // "shard status unknown" errors while it acquires its shards are the server's own start-up.)
    expect(logged.filter((line) => /config|deprecat|mismatch/i.test(line))).toEqual([]);

    // The members registered themselves in Postgres with our membership ports (a smallint column).
    const members = await runProgram(
      "psql",
      ["-X", "-A", "-t", "-c", "SELECT DISTINCT rpc_port FROM cluster_membership ORDER BY 1"],
      db.envFor("temporal", "temporal"),
    );
    const membershipPorts = TEMPORAL_SERVICES.map((service) => ports.membership[service]);
    expect(members.stdout.trim().split("\n").map(Number)).toEqual(membershipPorts);
    for (const port of membershipPorts) {
      expect(port).toBeLessThan(Math.min(MEMBERSHIP_PORT_LIMIT, ephemeralPortRange()[0]));
    }
  }, 180_000);

  it("reports our numHistoryShards and the release we pinned in GetClusterInfo", async () => {
    const info = await clusterInfo(`${LOOPBACK}:${ports.grpc.frontend}`);
    console.log(`GetClusterInfo: ${JSON.stringify(info)}`);
    expect(renderedShards()).toBe(db.config.temporal.numHistoryShards);
    expect(info.historyShardCount).toBe(renderedShards());
    expect(info.serverVersion).toBe(IMAGES.temporalServer.tag);
    expect(info.clusterName).toBe("active");
    expect(info.persistenceStore).toBe("postgres12");
  });

  it("serves Prometheus metrics on the metrics port", async () => {
    const response = await fetch(`http://${LOOPBACK}:${ports.metrics}/metrics`);
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toMatch(/^# TYPE /m);
    expect(body).toMatch(/service_name="frontend"/);
  });

  it("accepts our dynamic config in validate-dynamic-config", async () => {
    const file = join(scratch, "dynamic-config.yaml");
    const result = await runProgram(
      join(binDir, "temporal-server"),
      ["validate-dynamic-config", file],
      {},
    );
    console.log(`validate-dynamic-config (exit ${result.code}):\n${result.stdout}${result.stderr}`);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/error:|warning:/);
  });

  it("has the app's namespace with our retention after the namespace Job's registration, run twice", async () => {
    const job = namespaceJob();
    console.log(describeRewrites("namespace Job", job.rewrites));
    console.log(`namespace Job registers "${job.name}" with retention ${job.retentionSeconds} s`);
    const connection = await Connection.connect({ address: job.address });
    try {
      const service = connection.workflowService;
      expect(await registerAsTheJob(service, job)).toBe("registered");
      // describeNamespace reads the database; namespace-scoped calls (the update below, a
      // worker's polls) go through the frontend's namespace cache, which still holds the
      // "not found" of the describe above for a moment (about 1 s here). The Job's rerun and the
      // app come much later in the cluster; here the test waits for it, and prints how long.
      const waiting = Date.now();
      await untilNamespaceServed(service, job.name, 30_000);
      console.log(`namespace ${job.name} served by the frontend after ${seconds(waiting)} s`);
      // The Job runs again (a new render, a retried pod): it finds the namespace and updates it.
      expect(await registerAsTheJob(service, job)).toBe("updated");
      // A concurrent registration losing the race gets ALREADY_EXISTS; the script's fallback
      // (`|| temporal operator namespace describe`) accepts it when the namespace is there.
      const again = await service.registerNamespace(registerRequest(job)).then(
        () => "created twice",
        (error: unknown) => (isGrpcServiceError(error) ? error.code : error),
      );
      expect(again).toBe(grpcStatus.ALREADY_EXISTS);
      const described = await service.describeNamespace({ namespace: job.name });
      expect(described.namespaceInfo?.name).toBe(job.name);
      const ttl = described.config?.workflowExecutionRetentionTtl;
      console.log(`describeNamespace ${job.name}: retention ${String(ttl?.seconds)} s`);
      expect(Number(ttl?.seconds)).toBe(job.retentionSeconds);
    } finally {
      await connection.close();
    }
  });

  it("runs the deployment workflow and its retried activity end to end with only the app-worker's env", async () => {
    const { env, rewrites } = appWorkerEnv();
    console.log(describeRewrites("app-worker env", rewrites));
    const { TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE } = env;
    // The worker's own logs (it prints every start and stop at INFO) only from WARN up.
    Runtime.install({ logger: new DefaultLogger("WARN") });
    const taskQueue = `deploy-${process.pid}-${Date.now()}`;
    const attemptsSeen: number[] = [];
    const activities: DeployActivities = {
      async deployToK3s(input: DeployInput) {
        const { attempt } = Context.current().info;
        attemptsSeen.push(attempt);
        if (attempt === 1) throw new Error(`rollout of ${input.service} not ready (attempt 1)`);
        return attempt;
      },
    };
    const workerConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
    const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    try {
      const bundling = Date.now();
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: TEMPORAL_NAMESPACE,
        taskQueue,
        workflowsPath: join(__dirname, "temporal-workflow", "workflows.ts"),
        activities,
      });
      console.log(`worker created (workflow bundle built) in ${seconds(bundling)} s`);
      const client = new Client({ connection, namespace: TEMPORAL_NAMESPACE });
      const input: DeployInput = { service: "app-web", image: "app-web:test" };
      const roundTrip = Date.now();
      const result = await worker.runUntil(
        client.workflow.execute("deployWorkflow", {
          taskQueue,
          workflowId: `${taskQueue}-deploy`,
          args: [input],
        }),
      );
      console.log(
        `workflow round trip (start, activity failing once, retry, result): ${Date.now() - roundTrip} ms`,
      );
      expect(result).toEqual({ status: "deployed", ...input, attempts: 2 });
      expect(attemptsSeen).toEqual([1, 2]);
    } finally {
      await connection.close();
      await workerConnection.close();
    }
  }, 120_000);

  it("exposes every Temporal metric the dashboards and alerts query, once workflows have ended each way they count", async () => {
    const { TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE } = appWorkerEnv().env;
    const taskQueue = `endings-${process.pid}-${Date.now()}`;
    const workerConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
    const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    try {
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: TEMPORAL_NAMESPACE,
        taskQueue,
        workflowsPath: join(__dirname, "temporal-workflow", "workflows.ts"),
        activities: { deployToK3s: () => Promise.resolve(1) } satisfies DeployActivities,
      });
      const client = new Client({ connection, namespace: TEMPORAL_NAMESPACE });
      const start = (workflow: string, id: string, options: { args?: unknown[] } = {}) =>
        client.workflow.start(workflow, {
          taskQueue,
          workflowId: `${taskQueue}-${id}`,
          ...options,
        });
      await worker.runUntil(async () => {
        const succeeded = await start("deployWorkflow", "succeeded", {
          args: [{ service: "app-web", image: "app-web:test" } satisfies DeployInput],
        });
        await succeeded.result();
        const failed = await start("rejectDeploy", "failed", { args: ["image not signed"] });
        await expect(failed.result()).rejects.toThrow(WorkflowFailedError);
        const cancelled = await start("awaitApproval", "cancelled");
        await cancelled.cancel();
        await expect(cancelled.result()).rejects.toThrow(WorkflowFailedError);
        const terminated = await start("awaitApproval", "terminated");
        await terminated.terminate("superseded by a newer deployment");
        await expect(terminated.result()).rejects.toThrow(WorkflowFailedError);
        const timedOut = await client.workflow.start("awaitApproval", {
          taskQueue,
          workflowId: `${taskQueue}-timed-out`,
          workflowExecutionTimeout: "1 second",
        });
        await expect(timedOut.result()).rejects.toThrow(WorkflowFailedError);
      });
    } finally {
      await connection.close();
      await workerConnection.close();
    }
    const exposed = exposedMetricNames(
      await (await fetch(`http://${LOOPBACK}:${ports.metrics}/metrics`)).text(),
    );
    const queried = queriedMetrics().filter((m) => sourceOf(m.name)[0] === "temporal");
    const [eventOnly, observable] = partition(queried, (m) => m.name in EVENT_ONLY_METRICS);
    console.log(
      `Temporal metrics the dashboards and alerts query, found: ${observable.map((m) => m.name).join(", ")}`,
    );
    expect(observable.length).toBeGreaterThan(5);
    expect(observable.filter((m) => !exposed.has(m.name))).toEqual([]);
    const defined = await temporalMetricDefinitions();
    for (const { name } of eventOnly) {
      console.log(`${name}: ${EVENT_ONLY_METRICS[name]}; defined by the server's source`);
      expect(defined.has(name), name).toBe(true);
    }
  }, 120_000);

  it("keeps the stored shard count and only warns when numHistoryShards changes, which is why our config refuses the change", async () => {
    await server.stop();
    const stored = renderedShards();
    const changed = stored === 4 ? 8 : 4;
    const restarted = await startAndWait("changed-shards", changed);
    const mismatch = problemLines(restarted.output()).filter((line) =>
      line.includes("persistence.numHistoryShards"),
    );
    console.log(
      `what the server said about numHistoryShards ${stored} -> ${changed}:\n${mismatch.join("\n")}`,
    );
    expect(mismatch).toHaveLength(1);
    expect(mismatch[0]).toMatch(
      /Supplied configuration key\/value mismatches persisted cluster metadata/,
    );
    expect(mismatch[0]).toContain(`"ignored-value":${changed}`);
    expect(mismatch[0]).toContain(`"value":${stored}`);
    const info = await clusterInfo(`${LOOPBACK}:${ports.grpc.frontend}`);
    expect(info.historyShardCount).toBe(stored);
    // Our config layer turns what the server would silently ignore into an error.
    expect(shardChangeProblem(stored, changed)).toMatch(/only logs a warning/);
  }, 180_000);
});
