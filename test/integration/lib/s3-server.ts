import { spawn, type ChildProcess } from "node:child_process";
import { binaryPath, ensureGoTool } from "./go-tools";
import { exited, freePort, stopServer } from "./process";
import { gofakes3Tool } from "./test-tools";

/**
 * A real S3 API on loopback: gofakes3 (MIT) with its in-memory backend, one bucket created at
 * start. It accepts any key pair (it checks no signature), so the tests prove what the client
 * sends and stores, not the server's access control.
 */
export interface S3Server {
  /** `http://127.0.0.1:<port>`, path-style. */
  endpoint: string;
  bucket: string;
  stop: () => Promise<void>;
}

/** Starts the server on a free port and resolves once it answers. */
export async function startS3Server(bucket: string): Promise<S3Server> {
  const spec = gofakes3Tool();
  await ensureGoTool(spec);
  const port = await freePort();
  const child = spawn(
    binaryPath(spec, "gofakes3"),
    ["-backend", "memory", "-host", `127.0.0.1:${port}`, "-initialbucket", bucket, "-quiet"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = () => stopServer(child, "SIGTERM", 5_000);
  try {
    await waitUntilServing(child, endpoint, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, bucket, stop };
}

/** Polls the bucket listing until the server answers, failing fast if it exits. */
async function waitUntilServing(
  child: ChildProcess,
  endpoint: string,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`gofakes3 exited at start: ${stderr()}`);
    try {
      const response = await fetch(`${endpoint}/`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gofakes3 did not answer at ${endpoint} within 15 s: ${stderr()}`);
}
