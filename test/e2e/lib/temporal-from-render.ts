import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "@temporalio/client";
// Comes with @temporalio/client: protobuf Durations from milliseconds.
import { msToTs } from "@temporalio/common/lib/time";
import { HEALTH_SERVICES, TEMPORAL_SERVICES } from "../../../components/temporal";
import type { Manifest } from "../../../policy/model/render-model";
import { ensureGoTool } from "../../integration/lib/go-tools";
import {
  runShell,
  startRenderedPostgres,
  type RenderedPostgres,
} from "../../integration/lib/rendered-postgres";
import {
  firstContainer,
  healthStatus,
  rewrite,
  startServer,
  type EnvEntry,
  type Rewrite,
  type ServerProcess,
} from "../../integration/lib/temporal";
import {
  LOOPBACK,
  loopbackServerConfig,
  serverPorts,
  type ServerPorts,
} from "../../integration/lib/temporal-loopback";
import { temporalTool } from "../../integration/lib/test-tools";
import { sleep, waitFor } from "./control-plane";

/**
 * A real Temporal server started from a render, the way `test/integration/temporal.test.ts` starts
 * one (it proves each step there; here they are only the ground the e2e tier stands on): the
 * data tier's PostgreSQL 15 with the rendered init SQL, the schema Job's own script, the rendered
 * server config and Deployment command rewritten for loopback (every rewrite counted), and the
 * app's namespace registered with the namespace Job's name and retention.
 */

export interface RenderedTemporal {
  /** The frontend's gRPC address on loopback: what `TEMPORAL_ADDRESS` points at. */
  address: string;
  /** The namespace the render's namespace Job registers: `TEMPORAL_NAMESPACE`. */
  namespace: string;
  /** The loopback rewrites made to the render, for the test log. */
  rewrites: Rewrite[];
  /** The server's output so far (JSON log lines). */
  output(): string;
  stop(): Promise<void>;
}

/** The one manifest of `kind` whose name matches, from a render's manifests. */
function one(manifests: Manifest[], kind: string, name: RegExp): Manifest {
  const found = manifests.filter((m) => m.kind === kind && name.test(m.metadata.name));
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0];
}

export async function startRenderedTemporal(manifests: Manifest[]): Promise<RenderedTemporal> {
  const scratch = mkdtempSync(join(tmpdir(), "e2e-temporal-"));
  const binDir = join(scratch, "bin");
  mkdirSync(binDir);
  const toolDir = await ensureGoTool(temporalTool());
  symlinkSync(join(toolDir, "sql"), join(binDir, "temporal-sql-tool"));
  symlinkSync(join(toolDir, "server"), join(binDir, "temporal-server"));
  let db: RenderedPostgres | undefined;
  let server: ServerProcess | undefined;
  const stop = async () => {
    await server?.stop();
    await db?.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    db = await startRenderedPostgres("dev");
    const rewrites: Rewrite[] = [];
    const env = (entries: EnvEntry[]) => podEnv(entries, db as RenderedPostgres, binDir, scratch);
    const schema = firstContainer(one(manifests, "Job", /^temporal-schema-/));
    const lines = (schema.command[2].match(/\btemporal-sql-tool /g) ?? []).length;
    const script = rewrite(
      schema.command[2],
      "schema Job: Postgres endpoint",
      /--ep \S+ --port \d+/g,
      `--ep ${LOOPBACK} --port ${db.pg.port}`,
      lines,
      rewrites,
    );
    const run = await runShell("/bin/sh", script, env(schema.env));
    if (run.code !== 0) throw new Error(`schema Job script failed:\n${run.stdout}${run.stderr}`);
    const ports = await serverPorts();
    const launch = serverLaunch(manifests, ports, db, scratch, binDir, rewrites);
    server = startServer(launch.argv, env(launch.env), join(scratch, "server.log"));
    await server.waitFor(/Frontend is now healthy/, 120_000);
    for (const service of TEMPORAL_SERVICES) {
      const address = `${LOOPBACK}:${ports.grpc[service]}`;
      await waitFor(`temporal ${service} SERVING`, 60_000, async () => {
        return (await healthStatus(address, HEALTH_SERVICES[service])) === "SERVING";
      });
    }
    const address = `${LOOPBACK}:${ports.grpc.frontend}`;
    const namespace = await registerNamespace(manifests, address);
    const running = server;
    return { address, namespace, rewrites, output: () => running.output(), stop };
  } catch (error) {
    const tail = server?.output().split("\n").slice(-20).join("\n") ?? "";
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tail}`);
  }
}

/** A pod's env from rendered entries: the temporal role's credentials, the pod IP as loopback. */
function podEnv(
  entries: EnvEntry[],
  db: RenderedPostgres,
  binDir: string,
  home: string,
): Record<string, string> {
  const role = db.roles.temporal;
  const env: Record<string, string> = { PATH: `${binDir}:${process.env.PATH ?? ""}` };
  for (const entry of entries) {
    const secret = entry.valueFrom?.secretKeyRef;
    if (secret?.name === "postgres-temporal") {
      env[entry.name] = secret.key === "username" ? role.username : role.password;
    } else if (entry.valueFrom?.fieldRef?.fieldPath === "status.podIP") env[entry.name] = LOOPBACK;
    else if (entry.name === "HOME") env.HOME = home;
    else if (entry.value !== undefined) env[entry.name] = entry.value;
    else throw new Error(`env ${entry.name}: source not understood by the test`);
  }
  return env;
}

/** The rendered static config and server command, rewritten only to run on loopback. */
function serverLaunch(
  manifests: Manifest[],
  ports: ServerPorts,
  db: RenderedPostgres,
  scratch: string,
  binDir: string,
  rewrites: Rewrite[],
): { argv: string[]; env: EnvEntry[] } {
  const data = one(manifests, "ConfigMap", /^temporal-config$/).data as Record<string, string>;
  const dynamicFile = join(scratch, "dynamic-config.yaml");
  writeFileSync(dynamicFile, data["dynamic-config.yaml"]);
  const text = loopbackServerConfig(
    data["config.yaml"],
    { ports, postgresPort: db.pg.port, dynamicConfigFile: dynamicFile },
    rewrites,
  );
  const configFile = join(scratch, "config.yaml");
  writeFileSync(configFile, text);
  const container = firstContainer(one(manifests, "Deployment", /^temporal-server$/));
  const argv = container.command.map((arg, index) => {
    if (index === 0) return join(binDir, arg);
    return arg.endsWith(".yaml") ? configFile : arg;
  });
  return { argv, env: container.env };
}

/**
 * The namespace Job's registration (its `temporal operator namespace create` sends this request),
 * then a wait until the frontend's namespace cache serves it, as a worker's polls need.
 */
async function registerNamespace(manifests: Manifest[], address: string): Promise<string> {
  const script = firstContainer(one(manifests, "Job", /^temporal-namespace-/)).command[2];
  const match = /temporal operator namespace create --namespace (\S+) --retention (\d+)h/.exec(
    script,
  );
  if (!match) throw new Error("the namespace Job's script registers no namespace");
  const [, namespace, hours] = match;
  const connection = await Connection.connect({ address });
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(Number(hours) * 3600 * 1000),
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await connection.workflowService.countWorkflowExecutions({ namespace });
        return namespace;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(250);
      }
    }
  } finally {
    await connection.close();
  }
}
