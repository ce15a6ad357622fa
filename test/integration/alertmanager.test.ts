/**
 * Alerts reach someone: the dev stack rendered with one webhook receiver, its Alertmanager config
 * judged by `amtool check-config` at the pinned release, then on loopback a real Prometheus on our
 * rendered `prometheus.yml` and rules (plus a test rule file beside them) fires, a real
 * Alertmanager on our rendered config routes and inhibits, and a loopback webhook receives the
 * notification. Every server runs on a free loopback port in a temp dir and is stopped in
 * `afterAll`, whatever the tests did.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { RECEIVER_SECRETS_DIR } from "../../components/observability";
import { ensureAlertmanager } from "./lib/alertmanager-build";
import { binaryPath, ensureGoTool } from "./lib/go-tools";
import { localPrometheusConfig } from "./lib/observability-render";
import { freePort } from "./lib/process";
import {
  loopbackArgs,
  startPrometheus,
  startServer,
  type LoopbackServer,
} from "./lib/prometheus-server";
import { rewritePodPaths, run, type RenderedStack } from "./lib/rendered-stack";
import { alertmanagerTool, prometheusTool } from "./lib/test-tools";

const ROOT = path.resolve(__dirname, "..", "..");
const BUILD_TIMEOUT = 30 * 60_000;
const RECEIVER = "oncall";
/** Seconds from writing the test rule until its condition holds: time for both servers to start. */
const CONDITION_DELAY_SECONDS = 20;

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML and JSON

const work = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-alertmanager-"));
const servers: LoopbackServer[] = [];
let webhook: http.Server | undefined;
const received: { at: number; body: Obj }[] = [];
let manifests: Obj[] = [];
let conditionAt = 0;

/** The dev stack file with one webhook receiver; its credential is `secure:`, as a user sets it. */
function stackFileWithReceiver(): string {
  const file = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as Obj;
  file.config["k3s-platform:observability"] = {
    ...file.config["k3s-platform:observability"],
    alerting: { receivers: { [RECEIVER]: { kind: "webhook", severities: ["critical"] } } },
  };
  file.config["k3s-platform:credentials"] = {
    alerting: { [RECEIVER]: { secure: "v1:bm90LWEtcmVhbC1jaXBoZXJ0ZXh0" } },
  };
  const stackFile = path.join(work, "Pulumi.dev.yaml");
  fs.writeFileSync(stackFile, stringify(file));
  return stackFile;
}

/** Renders it with `npm run render`'s own tool and reads every manifest back. */
async function renderWithReceiver(): Promise<Obj[]> {
  const out = path.join(work, "render");
  await run(process.execPath, [
    path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"),
    path.join(ROOT, "tools", "render.ts"),
    "dev",
    "--out",
    out,
    "--stack-file",
    stackFileWithReceiver(),
  ]);
  const dir = path.join(out, "manifests");
  return fs.readdirSync(dir).map((file) => parse(fs.readFileSync(path.join(dir, file), "utf8")));
}

function manifest(kind: string, name: string): Obj {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`the render has no ${kind} ${name}`);
  return found;
}

/** Just enough of a RenderedStack for the shared Prometheus helpers. */
function asRenderedStack(): RenderedStack {
  return {
    configMap: (name: string) => manifest("ConfigMap", name).data as Record<string, string>,
    container: (kind: string, workload: string) => ({
      ...(manifest(kind, workload).spec.template.spec.containers[0] as Obj),
      namespace: "platform",
    }),
  } as unknown as RenderedStack;
}

/**
 * The rendered alertmanager.yml with the receivers' Secret directory rewritten to a local one,
 * whose `oncall` file holds the loopback webhook's URL, as the cluster's Secret would hold the
 * real one.
 */
function localAlertmanagerConfig(webhookUrl: string): { file: string; rewrites: string[] } {
  const secrets = path.join(work, "secrets");
  fs.mkdirSync(secrets, { recursive: true });
  fs.writeFileSync(path.join(secrets, RECEIVER), webhookUrl);
  const rendered = parse(manifest("ConfigMap", "alertmanager-config").data["alertmanager.yml"]);
  const { config, rewrites } = rewritePodPaths(rendered, { [RECEIVER_SECRETS_DIR]: secrets });
  const file = path.join(work, "alertmanager.yml");
  fs.writeFileSync(file, stringify(config, { lineWidth: 0 }));
  return { file, rewrites };
}

/**
 * A rule file beside ours: three alerts whose condition starts at one known instant. One carries a
 * node whose NodeDown fires with it, so Alertmanager's inhibit rule must hold it back.
 */
function testRules(condition: number): string {
  const expr = `vector(time()) >= ${condition}`;
  const alert = (name: string, labels: Record<string, string>) => ({
    alert: name,
    expr,
    labels: { severity: "critical", ...labels },
    annotations: {
      summary: `${name} reached the receiver`,
      description: `Fired by the alertmanager integration test at ${condition}.`,
    },
  });
  return stringify({
    groups: [
      {
        name: "alertmanager-e2e",
        interval: "1s",
        rules: [
          alert("E2EAlertReachesReceiver", { namespace: "platform" }),
          alert("NodeDown", { node: "e2e-node" }),
          alert("E2EPodOnDownNode", { namespace: "platform", node: "e2e-node" }),
        ],
      },
    ],
  });
}

/** prometheus.yml as rendered, the test rules added and the Alertmanager target made local. */
function localPrometheus(alertmanagerAddress: string): { file: string; changes: string[] } {
  const dir = path.join(work, "prometheus");
  const { file, rewrites } = localPrometheusConfig(asRenderedStack(), dir);
  const config = parse(fs.readFileSync(file, "utf8")) as Obj;
  const rulesFile = path.join(dir, "alertmanager-e2e.yaml");
  conditionAt = Math.ceil(Date.now() / 1000) + CONDITION_DELAY_SECONDS;
  fs.writeFileSync(rulesFile, testRules(conditionAt));
  config.rule_files.push(rulesFile);
  const targets = config.alerting.alertmanagers[0].static_configs[0].targets as string[];
  const changes = [
    ...rewrites,
    `alerting.alertmanagers[0] targets: ${targets.join(", ")} -> ${alertmanagerAddress}`,
    `rule_files: + ${rulesFile}`,
  ];
  config.alerting.alertmanagers[0].static_configs[0].targets = [alertmanagerAddress];
  fs.writeFileSync(file, stringify(config, { lineWidth: 0 }));
  return { file, changes };
}

/** A loopback webhook that records every notification with the time it arrived. */
async function startWebhook(): Promise<string> {
  const port = await freePort();
  webhook = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      received.push({ at: Date.now(), body: JSON.parse(body) as Obj });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => webhook?.listen(port, "127.0.0.1", resolve));
  return `http://127.0.0.1:${port}/alerts`;
}

/** The rendered Alertmanager args with the pod's paths and listen address made local. */
function alertmanagerArgs(configFile: string, port: number): string[] {
  const pod = manifest("StatefulSet", "alertmanager").spec.template.spec.containers[0]
    .args as string[];
  const local: Record<string, string> = {
    "--config.file": configFile,
    "--storage.path": fs.mkdtempSync(path.join(work, "am-data-")),
    "--web.listen-address": `127.0.0.1:${port}`,
  };
  return pod.map((arg) => {
    const flag = arg.split("=", 1)[0];
    return flag in local ? `${flag}=${local[flag]}` : arg;
  });
}

const amTool = alertmanagerTool();

beforeAll(async () => {
  // Normally built by test/integration/lib/build-all.ts before vitest; this is the fallback.
  await ensureAlertmanager(amTool);
  await ensureGoTool(prometheusTool());
  manifests = await renderWithReceiver();
}, BUILD_TIMEOUT);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
  fs.rmSync(work, { recursive: true, force: true });
});

describe("the rendered Alertmanager config", () => {
  it("amtool at the pinned release accepts it", async () => {
    const { file, rewrites } = localAlertmanagerConfig("https://hooks.example.com/never-called");
    console.log(`alertmanager.yml, paths rewritten for amtool:\n  ${rewrites.join("\n  ")}`);
    const { stdout } = await run(binaryPath(amTool, "amtool"), ["check-config", file]);
    expect(stdout).toMatch(/SUCCESS/);
    expect(stdout).toMatch(/- 2 receivers/);
  });

  it("names the credential by its file, and the Secret is mounted there", () => {
    const text = manifest("ConfigMap", "alertmanager-config").data["alertmanager.yml"] as string;
    expect(text).toContain(`url_file: ${RECEIVER_SECRETS_DIR}/${RECEIVER}`);
    const pod = manifest("StatefulSet", "alertmanager").spec.template.spec;
    const volume = (pod.volumes as Obj[]).find(
      (v) => v.secret?.secretName === "alertmanager-receivers",
    );
    expect(volume).toBeDefined();
    expect(pod.containers[0].volumeMounts).toContainEqual(
      expect.objectContaining({ name: volume?.name, mountPath: RECEIVER_SECRETS_DIR }),
    );
  });
});

describe("an alert from Prometheus to a webhook, on loopback", () => {
  it("fires, is routed by severity to the receiver, and a down node's pod alert is held back", async () => {
    const webhookUrl = await startWebhook();
    const amPort = await freePort();
    const { file: amConfig } = localAlertmanagerConfig(webhookUrl);
    const alertmanager = await startServer(
      binaryPath(amTool, "alertmanager"),
      alertmanagerArgs(amConfig, amPort),
      `http://127.0.0.1:${amPort}`,
      `http://127.0.0.1:${amPort}/-/ready`,
    );
    servers.push(alertmanager);

    const { file, changes } = localPrometheus(`127.0.0.1:${amPort}`);
    console.log(`prometheus.yml as rendered, but for:\n  ${changes.join("\n  ")}`);
    const podArgs = asRenderedStack().container("StatefulSet", "prometheus").args ?? [];
    const prometheus = await startPrometheus(
      binaryPath(prometheusTool(), "prometheus"),
      loopbackArgs(podArgs, {
        configFile: file,
        dataDir: fs.mkdtempSync(path.join(work, "tsdb-")),
        port: await freePort(),
      }),
    );
    servers.push(prometheus);

    const alertsOf = () =>
      received.flatMap(({ at, body }) =>
        (body.alerts as Obj[]).map((a) => ({ at, body, alert: a })),
      );
    const wanted = ["E2EAlertReachesReceiver", "NodeDown"];
    const deadline = conditionAt * 1000 + 90_000;
    while (!wanted.every((name) => alertsOf().some((a) => a.alert.labels.alertname === name))) {
      if (Date.now() > deadline) {
        throw new Error(
          `no notification for ${wanted.join(" and ")} within 90 s of the condition; got ` +
            `${JSON.stringify(received.map((r) => r.body))}\nalertmanager:\n${alertmanager.log().slice(-3000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The held-back alert would be flushed with its own group at the same group_wait: give it
    // a few seconds more to show up, which it must not.
    await new Promise((resolve) => setTimeout(resolve, 5_000));

    const first = alertsOf().find((a) => a.alert.labels.alertname === "E2EAlertReachesReceiver");
    expect(first?.body).toMatchObject({ receiver: RECEIVER, status: "firing" });
    expect(first?.body.groupLabels).toEqual({
      alertname: "E2EAlertReachesReceiver",
      namespace: "platform",
    });
    expect(first?.alert).toMatchObject({
      status: "firing",
      labels: { alertname: "E2EAlertReachesReceiver", namespace: "platform", severity: "critical" },
      annotations: {
        summary: "E2EAlertReachesReceiver reached the receiver",
        description: `Fired by the alertmanager integration test at ${conditionAt}.`,
      },
    });
    expect(alertsOf().map((a) => a.alert.labels.alertname)).not.toContain("E2EPodOnDownNode");
    const seconds = ((first?.at ?? 0) - conditionAt * 1000) / 1000;
    console.log(
      `condition to webhook: ${seconds.toFixed(1)} s (rule evaluated every 1 s, Prometheus ` +
        `sends at once, Alertmanager's critical group_wait 10 s)`,
    );
    expect(seconds).toBeGreaterThan(0);
  }, 180_000);
});
