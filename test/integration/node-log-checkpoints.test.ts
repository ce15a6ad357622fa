import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ensureGoTool } from "./lib/go-tools";
import { exportToCapture, startOtlpCapture, type OtlpCapture } from "./lib/otlp-capture";
import { startServer, type LoopbackServer } from "./lib/prometheus-server";
import { renderStackToDir } from "./lib/rendered-stack";
import { otelcolContribTool } from "./lib/test-tools";

/**
 * The node log collector as rendered, run by a collector built with the same components (filelog,
 * file_storage): a restart, like a pod replaced or a node rebooted, must neither lose the lines
 * written while it was down nor send any line twice, because the file offsets survive in
 * file_storage's directory (a hostPath in the cluster). Without the storage, the same restart
 * loses those lines: that is what the checkpoint buys. Only paths and addresses are changed, to
 * run on loopback in a temp dir, and the gateway is replaced by a receiver that keeps what
 * arrives.
 */

const POD_DIR = "var/log/pods/shop_web-5d8f7_0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/web";

let binary = "";
let renderedConfig: Record<string, unknown> = {};
const work = fs.mkdtempSync(path.join(os.tmpdir(), "node-log-checkpoints-"));

beforeAll(async () => {
  binary = path.join(await ensureGoTool(otelcolContribTool()), "otelcol-contrib");
  const stack = await renderStackToDir("dev");
  try {
    renderedConfig = parse(stack.configMap("node-log-collector-config")["config.yaml"]);
  } finally {
    stack.remove();
  }
}, 1_800_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

interface Run {
  root: string;
  logFile: string;
  capture: OtlpCapture;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The rendered config under `root`, exporting to `capture`; `withStorage: false` drops offsets. */
async function loopbackConfig(root: string, capture: OtlpCapture, withStorage: boolean) {
  const config = structuredClone(renderedConfig) as {
    extensions: Record<string, { directory?: string; compaction?: { directory?: string } }>;
    receivers: { filelog: { include: string[]; exclude?: string[]; storage?: string } };
    exporters: Record<string, unknown>;
    service: {
      extensions: string[];
      telemetry: { metrics: unknown };
      pipelines: { logs: { exporters: string[] } };
    };
  };
  const under = (file: string) => path.join(root, file);
  const filelog = config.receivers.filelog;
  filelog.include = filelog.include.map(under);
  filelog.exclude = (filelog.exclude ?? []).map(under);
  const storageId = filelog.storage;
  expect(storageId, "the rendered filelog receiver keeps its offsets in a storage").toBeDefined();
  const storage = config.extensions[storageId as string];
  storage.directory = under(storage.directory as string);
  if (storage.compaction?.directory)
    storage.compaction.directory = under(storage.compaction.directory);
  fs.mkdirSync(storage.directory, { recursive: true });
  if (!withStorage) {
    delete filelog.storage;
    delete config.extensions[storageId as string];
    config.service.extensions = config.service.extensions.filter((id) => id !== storageId);
  }
  return { config, health: await exportToCapture(config, capture) };
}

async function collectorRun(name: string, withStorage: boolean): Promise<Run> {
  const root = path.join(work, name);
  const logFile = path.join(root, POD_DIR, "0.log");
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const capture = await startOtlpCapture();
  const { config, health } = await loopbackConfig(root, capture, withStorage);
  const configFile = path.join(root, "config.yaml");
  fs.writeFileSync(configFile, stringify(config, { lineWidth: 0 }));
  let collector: LoopbackServer | undefined;
  return {
    root,
    logFile,
    capture,
    async start() {
      collector = await startServer(binary, [`--config=${configFile}`], health, health);
      // One poll (200 ms by default) after start: the receiver has taken the file's end.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    },
    async stop() {
      await collector?.stop();
    },
  };
}

/** CRI log lines as the kubelet writes them under /var/log/pods. */
function append(file: string, messages: string[]): void {
  const stamp = new Date().toISOString().replace("Z", "000000Z");
  fs.appendFileSync(file, messages.map((message) => `${stamp} stdout F ${message}\n`).join(""));
}

function delivered(capture: OtlpCapture): string[] {
  return capture
    .resources()
    .filter((resource) => resource.signal === "logs")
    .flatMap((resource) => resource.items);
}

async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  describe: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(describe());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Writes, restarts the collector with lines written while it was down, and returns what arrived. */
async function restartScenario(run: Run): Promise<string[]> {
  append(run.logFile, ["before-start"]);
  await run.start();
  try {
    append(run.logFile, ["a1", "a2", "a3"]);
    await eventually(
      () => (delivered(run.capture).includes("a3") ? true : undefined),
      30_000,
      () => `a1..a3 never arrived: ${delivered(run.capture).join(", ")}`,
    );
  } finally {
    await run.stop();
  }
  append(run.logFile, ["while-down-1", "while-down-2"]);
  await run.start();
  try {
    append(run.logFile, ["after-restart"]);
    await eventually(
      () => (delivered(run.capture).includes("after-restart") ? true : undefined),
      30_000,
      () => `after-restart never arrived: ${delivered(run.capture).join(", ")}`,
    );
    // One more batch period, so a duplicate sent late would be seen.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
  } finally {
    await run.stop();
    await run.capture.close();
  }
  return delivered(run.capture);
}

describe("the node log collector across a restart", () => {
  it("delivers every line written while it was down, and none twice, from its offsets", async () => {
    const run = await collectorRun("with-offsets", true);
    const started = Date.now();
    const lines = await restartScenario(run);
    console.log(`[node logs] with offsets: ${lines.join(", ")} (${Date.now() - started} ms)`);
    expect(lines).toEqual(["a1", "a2", "a3", "while-down-1", "while-down-2", "after-restart"]);
    const offsets = fs.readdirSync(path.join(run.root, "var/lib/otelcol/node-logs"));
    expect(offsets.length, "file_storage wrote its offsets into the host path").toBeGreaterThan(0);
    // The container parser still names the pod from the path under /var/log/pods.
    const resource = run.capture.resources().find((entry) => entry.signal === "logs");
    expect(resource?.attributes).toMatchObject({
      "k8s.namespace.name": "shop",
      "k8s.pod.name": "web-5d8f7",
      "k8s.container.name": "web",
    });
  }, 180_000);

  it("loses those lines without the offsets (start_at: end), which is what they are for", async () => {
    const run = await collectorRun("without-offsets", false);
    const lines = await restartScenario(run);
    console.log(`[node logs] without offsets: ${lines.join(", ")}`);
    expect(lines).toEqual(["a1", "a2", "a3", "after-restart"]);
  }, 180_000);
});
