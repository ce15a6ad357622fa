import { spawn, type ChildProcess } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { waitFor } from "./control-plane";

/**
 * The reference deploy worker (examples/deploy-worker) as the app-worker pod runs it: its own
 * process, started with nothing but the env it is given (no inherited variables, no kubeconfig),
 * and a loopback webhook that records what its `notifyUsers` posts.
 */

const ROOT = path.resolve(__dirname, "..", "..", "..");
const MAIN = path.join(ROOT, "examples", "deploy-worker", "src", "main.ts");

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the worker and waits for the line saying it polls its task queue. */
export async function startDeployWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, "node_modules/tsx/dist/cli.mjs"), MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout?.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // SIGINT: the SDK's graceful shutdown; SIGKILL if it has not gone in 20 s.
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitFor("the deploy worker polling its task queue", 180_000, async () => {
      if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}:\n${text}`);
      return /deploy-worker polling /.test(text);
    });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${text.split("\n").slice(-30).join("\n")}`);
  }
  return { child, output: () => text, stop };
}

export interface Webhook {
  url: string;
  /** Every JSON body received, in order. */
  received: unknown[];
  stop(): Promise<void>;
}

/** A loopback HTTP server that answers 204 to every POST and keeps its JSON body. */
export async function startWebhook(): Promise<Webhook> {
  const received: unknown[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const type = request.headers["content-type"] ?? "";
      if (request.method !== "POST" || !type.startsWith("application/json")) {
        response.writeHead(400).end();
        return;
      }
      received.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/deployments`,
    received,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
