/**
 * Helpers for running the real Temporal programs on what the dev stack renders: reading the
 * rendered containers, rewriting text for loopback with every rewrite accounted for, starting
 * `temporal-server` in its own process group, and speaking just enough gRPC (hand-encoded
 * protobuf) to ask it for its health and cluster info.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
// @grpc/grpc-js comes with @pulumi/pulumi: enough for a unary call with raw bytes, so the test
// needs no generated Temporal stubs (the proto field numbers used are quoted where decoded).
import * as grpc from "@grpc/grpc-js";
import { goEnvironment } from "./go-tools";

/** An env entry of a rendered container. */
export interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}

/** What the tests read of a rendered container. */
export interface RenderedContainer {
  command: string[];
  env: EnvEntry[];
}

/** The first container of a rendered Job or Deployment (a parsed manifest). */
export function firstContainer(workload: unknown): RenderedContainer {
  const { spec } = workload as {
    spec: { template: { spec: { containers: RenderedContainer[] } } };
  };
  return spec.template.spec.containers[0];
}

/** One textual change made to a rendered file so it runs on loopback. */
export interface Rewrite {
  what: string;
  from: string;
  to: string;
  count: number;
}

/**
 * Replaces every match of `pattern` (global) and records it. Throws unless it matched exactly
 * `count` times, so a render that changes shape fails the test instead of silently running
 * something else.
 */
export function rewrite(
  text: string,
  what: string,
  pattern: RegExp,
  to: string,
  count: number,
  log: Rewrite[],
): string {
  const found = text.match(pattern) ?? [];
  if (found.length !== count) {
    throw new Error(
      `rewrite "${what}": expected ${count} match(es) of ${pattern}, found ${found.length}`,
    );
  }
  log.push({ what, from: found[0] ?? "", to: found[0]?.replace(pattern, to) ?? to, count });
  return text.replace(pattern, to);
}

/** The rewrites, one line each, for the test log. */
export function describeRewrites(title: string, rewrites: Rewrite[]): string {
  const lines = rewrites.map((r) => `  ${r.what}: "${r.from}" -> "${r.to}" (x${r.count})`);
  return [`${title} (${rewrites.length} rewrites):`, ...lines].join("\n");
}

/** The OS's ephemeral port range (`ip_local_port_range`). */
export function ephemeralPortRange(): [number, number] {
  const text = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim();
  const [low, high] = text.split(/\s+/).map(Number);
  return [low, high];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const srv = createServer();
    srv.once("error", () => resolvePromise(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolvePromise(true)));
  });
}

/**
 * `count` consecutive free loopback ports below `limit`, chosen at random from 20000 up, so two
 * runs on one machine rarely collide and none comes from the ephemeral range, where the kernel
 * could hand the same port to an outgoing connection while the server restarts.
 */
export async function freePortBlock(count: number, limit: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (limit - 20000 - count));
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const free = await Promise.all(ports.map(portFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no block of ${count} free ports between 20000 and ${limit}`);
}

/** A running `temporal-server`, its output collected in memory and in a log file. */
export interface ServerProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM to its process group, SIGKILL after 15 s. Safe to call twice. */
  stop(): Promise<void>;
}

/** Process groups of servers still running, for the exit-time safety net. */
const liveGroups = new Set<number>();

// A crashed or interrupted test run must not leave a server holding ports and connections;
// "exit" handlers must be synchronous, so this is the immediate kill.
process.once("exit", () => {
  for (const pid of liveGroups) killGroup(pid, "SIGKILL");
});

/** Starts a program in its own process group (so stopping it stops anything it spawned). */
export function startServer(
  argv: string[],
  env: Record<string, string>,
  logFile: string,
): ServerProcess {
  const fd = openSync(logFile, "w");
  let text = "";
  const child = spawn(argv[0], argv.slice(1), {
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let fileOpen = true;
  const collect = (chunk: Buffer) => {
    text += chunk.toString();
    // A line printed after stop() closed the file is still kept in memory.
    if (fileOpen) writeSync(fd, chunk);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  if (child.pid !== undefined) liveGroups.add(child.pid);
  const exited = new Promise<void>((resolvePromise) =>
    child.once("exit", () => {
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      resolvePromise();
    }),
  );
  let stopping: Promise<void> | undefined;
  return {
    child,
    output: () => text,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolvePromise, reject) => {
        const deadline = Date.now() + timeoutMs;
        const timer = setInterval(() => {
          const line = text.split("\n").find((l) => pattern.test(l));
          if (line !== undefined) {
            clearInterval(timer);
            resolvePromise(line);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearInterval(timer);
            reject(
              new Error(`server exited (${child.exitCode ?? child.signalCode}):\n${tail(text)}`),
            );
          } else if (Date.now() > deadline) {
            clearInterval(timer);
            reject(new Error(`no line matching ${pattern} after ${timeoutMs} ms:\n${tail(text)}`));
          }
        }, 100);
      }),
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          killGroup(child.pid, "SIGTERM");
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<"timeout">((r) => (timer = setTimeout(r, 15_000, "timeout")));
          const outcome = await Promise.race([exited, timeout]);
          clearTimeout(timer);
          if (outcome === "timeout") {
            killGroup(child.pid, "SIGKILL");
            await exited;
          }
        }
        fileOpen = false;
        closeSync(fd);
      })();
      return stopping;
    },
  };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

function tail(text: string): string {
  return text.split("\n").slice(-40).join("\n");
}

/** Calls a unary gRPC method with raw protobuf bytes; resolves with the raw response. */
export function grpcUnary(
  address: string,
  method: string,
  request: Buffer,
  timeoutMs = 5_000,
): Promise<Buffer> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolvePromise, reject) => {
    client.makeUnaryRequest(
      method,
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) => (error || !response ? reject(error) : resolvePromise(response)),
    );
  }).finally(() => client.close());
}

/** A decoded protobuf message: field number → values (varints as numbers, the rest as bytes). */
export type ProtoFields = Map<number, (number | Buffer)[]>;

/** Decodes the wire format one level deep (enough for scalar and string fields). */
export function decodeProto(bytes: Buffer): ProtoFields {
  const fields: ProtoFields = new Map();
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    let value: number | Buffer;
    if (wireType === 0) value = varint();
    else if (wireType === 2) {
      const length = varint();
      value = bytes.subarray(at, at + length);
      at += length;
    } else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      value = bytes.subarray(at, at + size);
      at += size;
    } else throw new Error(`unsupported protobuf wire type ${wireType}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

/** A length-delimited string field, encoded. */
function stringField(field: number, value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  // Service names are short: a one-byte length is enough, and checked.
  if (bytes.length > 127) throw new Error("string field longer than 127 bytes");
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
}

/** grpc.health.v1 statuses (HealthCheckResponse.ServingStatus). */
export const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;

/**
 * `grpc.health.v1.Health/Check` for one service name, as a Kubernetes gRPC probe asks it:
 * request field 1 `service`, response field 1 `status`.
 */
export async function healthStatus(address: string, service: string): Promise<string> {
  const response = await grpcUnary(
    address,
    "/grpc.health.v1.Health/Check",
    stringField(1, service),
  );
  const status = decodeProto(response).get(1)?.[0];
  // proto3 leaves a zero (UNKNOWN) out of the message.
  return SERVING_STATUS[typeof status === "number" ? status : 0] ?? `status ${String(status)}`;
}

/** What `WorkflowService/GetClusterInfo` reports, the fields the tests read. */
export interface ClusterInfo {
  serverVersion: string;
  clusterName: string;
  historyShardCount: number;
  persistenceStore: string;
  visibilityStore: string;
}

/**
 * `temporal.api.workflowservice.v1.WorkflowService/GetClusterInfo` (empty request). Field
 * numbers from GetClusterInfoResponse: 2 server_version, 5 cluster_name, 6 history_shard_count,
 * 7 persistence_store, 8 visibility_store.
 */
export async function clusterInfo(address: string): Promise<ClusterInfo> {
  const response = await grpcUnary(
    address,
    "/temporal.api.workflowservice.v1.WorkflowService/GetClusterInfo",
    Buffer.alloc(0),
  );
  const fields = decodeProto(response);
  const text = (field: number) => {
    const value = fields.get(field)?.[0];
    return Buffer.isBuffer(value) ? value.toString("utf8") : "";
  };
  const shards = fields.get(6)?.[0];
  return {
    serverVersion: text(2),
    clusterName: text(5),
    historyShardCount: typeof shards === "number" ? shards : 0,
    persistenceStore: text(7),
    visibilityStore: text(8),
  };
}

/**
 * The schema versions a server release requires, from its own source (the constants it checks
 * at start in `schema/postgresql/v12/version.go`), found through the module cache.
 */
export function requiredSchemaVersions(moduleVersion: string): {
  default: string;
  visibility: string;
} {
  const download = spawnSync(
    "go",
    ["mod", "download", "-json", `go.temporal.io/server@${moduleVersion}`],
    { encoding: "utf8", env: goEnvironment() },
  );
  if (download.status !== 0) throw new Error(`go mod download failed:\n${download.stderr}`);
  const { Dir } = JSON.parse(download.stdout) as { Dir: string };
  const source = readFileSync(join(Dir, "schema", "postgresql", "v12", "version.go"), "utf8");
  const constant = (name: string) => {
    const value = new RegExp(`const ${name} = "([\\d.]+)"`).exec(source)?.[1];
    if (value === undefined) throw new Error(`no ${name} in ${Dir}/schema/postgresql/v12`);
    return value;
  };
  return { default: constant("Version"), visibility: constant("VisibilityVersion") };
}

/** The server's JSON log lines at warn level or above, verbatim. */
export function problemLines(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => /^\{"level":"(warn|error|dpanic|panic|fatal)"/.test(line));
}

/** Log lines counted by level and message, for the test log (history logs one per shard). */
export function summarizeLog(lines: string[]): string {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const { level, msg, error } = JSON.parse(line) as {
      level: string;
      msg: string;
      error?: string;
    };
    const key = `${level}: ${msg}${error ? ` (${error})` : ""}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, count]) => `  ${count} x ${key}`).join("\n");
}
