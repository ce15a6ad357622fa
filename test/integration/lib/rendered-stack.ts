/**
 * A stack rendered the way a user renders it (`tools/render.ts` in its own process) into a temp
 * dir, and read back from the manifest files: what the tests hand to real programs is exactly
 * what would be applied to the cluster.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";

const ROOT = path.resolve(__dirname, "../../..");

interface ServicePort {
  port: number;
  targetPort?: number | string;
}

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: {
    ports?: ServicePort[];
    selector?: Record<string, string>;
    template?: {
      metadata?: { labels?: Record<string, string> };
      spec?: { containers?: { ports?: { name?: string; containerPort: number }[] }[] };
    };
  };
}

const WORKLOADS = ["Deployment", "StatefulSet", "DaemonSet"];

/** A rendered workload's container, as the tests read it. */
export interface RenderedContainer {
  name: string;
  args?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { fieldRef?: { fieldPath: string } };
  }[];
  /** The workload's namespace. */
  namespace: string;
}

export interface RenderedStack {
  stack: string;
  /** The render's output directory (`manifests/`, `plan.json`). */
  dir: string;
  /** A ConfigMap's data by ConfigMap name; throws when the render has no such ConfigMap. */
  configMap(name: string): Record<string, string>;
  /** Ports of every Service, keyed `<name>.<namespace>`, e.g. `loki.platform`. */
  servicePorts: Map<string, number[]>;
  /**
   * The container port a Service port forwards to (following a named `targetPort` into the
   * workload the Service selects), or undefined when the Service, port or workload is missing.
   */
  targetContainerPort(service: string, port: number): number | undefined;
  /** Every manifest of a kind, parsed. */
  manifests(kind: string): unknown[];
  /**
   * A container of the workload of that kind and name (the first when `container` is not given),
   * with the workload's namespace; throws when either is missing.
   */
  container(kind: string, workload: string, container?: string): RenderedContainer;
  /** Removes the temp dir. */
  remove(): void;
}

/** Renders a stack with `tools/render.ts <stack> --out <tmp>` and indexes its manifests. */
export async function renderStackToDir(
  stack: string,
  options: { appImage?: string; config?: Record<string, unknown> } = {},
): Promise<RenderedStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `k3s-platform-render-${stack}-`));
  const config = {
    ...options.config,
    ...(options.appImage ? { "k3s-platform:app": { image: options.appImage } } : {}),
  };
  await run(process.execPath, [
    path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"),
    path.join(ROOT, "tools", "render.ts"),
    stack,
    "--out",
    path.join(dir, "render"),
    ...(Object.keys(config).length > 0 ? ["--stack-file", withConfig(stack, config, dir)] : []),
  ]);
  return { ...readRender(stack, path.join(dir, "render")), remove: () => removeDir(dir) };
}

/**
 * A copy of the shipped stack file, in `dir`, with `config`'s keys merged one level deep into
 * its own (e.g. an image for the app, which the shipped dev stack does not name, or given
 * credentials as `pulumi config set --secret --path` writes them).
 */
function withConfig(stack: string, config: Record<string, unknown>, dir: string): string {
  const file = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  for (const [key, value] of Object.entries(config)) {
    const own = file.config[key];
    file.config[key] =
      typeof own === "object" && own !== null && typeof value === "object"
        ? { ...own, ...value }
        : value;
  }
  const stackFile = path.join(dir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(stackFile, stringify(file));
  return stackFile;
}

/** The render written to `dir`, read back from its manifest files. */
function readRender(stack: string, dir: string): RenderedStack {
  const manifestsDir = path.join(dir, "manifests");
  const all = fs
    .readdirSync(manifestsDir)
    .filter((file) => file.endsWith(".yaml"))
    .map((file) => parse(fs.readFileSync(path.join(manifestsDir, file), "utf8")) as Manifest);
  const servicePorts = new Map<string, number[]>();
  for (const service of all.filter((manifest) => manifest.kind === "Service")) {
    const key = `${service.metadata.name}.${service.metadata.namespace ?? "default"}`;
    servicePorts.set(
      key,
      (service.spec?.ports ?? []).map((port) => port.port),
    );
  }
  return {
    stack,
    dir,
    configMap(name) {
      const found = all.find((m) => m.kind === "ConfigMap" && m.metadata.name === name);
      if (!found?.data) throw new Error(`the ${stack} render has no ConfigMap ${name} with data`);
      return found.data;
    },
    servicePorts,
    targetContainerPort(key, port) {
      const service = all.find(
        (m) => m.kind === "Service" && `${m.metadata.name}.${m.metadata.namespace}` === key,
      );
      const entry = service?.spec?.ports?.find((p) => p.port === port);
      const selector = Object.entries(service?.spec?.selector ?? {});
      if (!service || !entry || selector.length === 0) return undefined;
      const target = entry.targetPort ?? entry.port;
      const workload = all.find(
        (m) =>
          WORKLOADS.includes(m.kind) &&
          m.metadata.namespace === service.metadata.namespace &&
          selector.every(([k, v]) => m.spec?.template?.metadata?.labels?.[k] === v),
      );
      const ports = (workload?.spec?.template?.spec?.containers ?? []).flatMap(
        (c) => c.ports ?? [],
      );
      if (typeof target === "number") {
        return ports.some((p) => p.containerPort === target) ? target : undefined;
      }
      return ports.find((p) => p.name === target)?.containerPort;
    },
    manifests: (kind) => all.filter((manifest) => manifest.kind === kind),
    container(kind, workload, name) {
      const found = all.find((m) => m.kind === kind && m.metadata.name === workload);
      const containers = (found?.spec?.template?.spec?.containers ?? []) as Omit<
        RenderedContainer,
        "namespace"
      >[];
      const container = name ? containers.find((c) => c.name === name) : containers[0];
      if (!found || !container) {
        throw new Error(
          `the ${stack} render has no ${kind} ${workload} with container ${name ?? "(any)"}`,
        );
      }
      return { ...container, namespace: found.metadata.namespace ?? "default" };
    },
    remove: () => removeDir(dir),
  };
}

/**
 * Where an in-cluster address (`http://loki.platform.svc:3100/otlp`, `tempo.platform.svc:4317`)
 * points: the Service key `<name>.<namespace>` and the port, or undefined when it is not a
 * cluster Service address.
 */
export function serviceAddress(address: string): { service: string; port: number } | undefined {
  const match =
    /^(?:[a-z]+:\/\/)?([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?:(\d+)(?:\/|$)/.exec(
      address,
    );
  return match ? { service: `${match[1]}.${match[2]}`, port: Number(match[3]) } : undefined;
}

/**
 * Rewrites, in a parsed config, every string that is a path under one of `mapping`'s pod paths
 * to the same path under its local directory, and nothing else. Returns the rewritten copy and a
 * line per rewrite, which the tests print so that it is plain what differs from the render.
 */
export function rewritePodPaths(
  config: unknown,
  mapping: Record<string, string>,
): { config: unknown; rewrites: string[] } {
  const rewrites: string[] = [];
  const walk = (value: unknown, at: string): unknown => {
    if (typeof value === "string") {
      for (const [podPath, localPath] of Object.entries(mapping)) {
        if (value === podPath || value.startsWith(`${podPath}/`)) {
          const local = localPath + value.slice(podPath.length);
          rewrites.push(`${at}: ${value} -> ${local}`);
          return local;
        }
      }
      return value;
    }
    if (Array.isArray(value)) return value.map((item, index) => walk(item, `${at}[${index}]`));
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, walk(item, at ? `${at}.${key}` : key)]),
      );
    }
    return value;
  };
  return { config: walk(config, ""), rewrites };
}

/** Runs a program to completion; resolves with its output, rejects with it on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(
            new Error(
              `${path.basename(command)} ${args.join(" ")} exited ${code}:\n${stdout}${stderr}`,
            ),
          ),
    );
  });
}

function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
