/**
 * Real servers on loopback: Prometheus started with the flags our StatefulSet passes (only the
 * config file, TSDB path and listen address changed), in a temp dir, on a free port; and any other
 * server process (the collector) waited for the same way.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`: where it serves. */
  url: string;
  /** What the server has logged so far (it logs to stderr). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * The pod's Prometheus arguments with the three that name pod paths or the pod's listen address
 * replaced; every other flag (receivers, feature flags) is passed as rendered.
 */
export function loopbackArgs(
  podArgs: string[],
  local: { configFile: string; dataDir: string; port: number },
): string[] {
  const replaced: Record<string, string> = {
    "--config.file": local.configFile,
    "--storage.tsdb.path": local.dataDir,
    "--web.listen-address": `127.0.0.1:${local.port}`,
  };
  const args = podArgs.map((arg) => {
    const flag = arg.split("=", 1)[0];
    return flag in replaced ? `${flag}=${replaced[flag]}` : arg;
  });
  for (const [flag, value] of Object.entries(replaced)) {
    if (!args.some((arg) => arg.startsWith(`${flag}=`))) args.push(`${flag}=${value}`);
  }
  return args;
}

/** Starts Prometheus and waits until `/-/ready` answers 200; rejects if it exits first. */
export async function startPrometheus(binary: string, args: string[]): Promise<LoopbackServer> {
  const listen = args.find((arg) => arg.startsWith("--web.listen-address="));
  if (!listen) throw new Error("startPrometheus: --web.listen-address is required");
  const url = `http://${listen.split("=")[1]}`;
  return startServer(binary, args, url, `${url}/-/ready`);
}

/**
 * Starts a server process (with `env` added to ours) and waits until `readyUrl` answers 2xx (60 s
 * at most); rejects, having stopped it, if it exits first or never gets ready, with what it logged.
 */
export async function startServer(
  binary: string,
  args: string[],
  url: string,
  readyUrl: string,
  env: Record<string, string> = {},
): Promise<LoopbackServer> {
  const name = binary.split("/").pop();
  const child = spawn(binary, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => (output += chunk.toString());
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const server: LoopbackServer = { url, log: () => output, stop: () => stop(child) };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited ${child.exitCode} before it was ready:\n${output}`);
    }
    const ready = await fetch(readyUrl).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return server;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await server.stop();
  throw new Error(`${name} was not ready within 60 s:\n${output}`);
}

/** SIGTERM, then SIGKILL after 10 s: a TSDB flush takes well under that here. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
