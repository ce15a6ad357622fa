import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { Manifest } from "../../policy/model/render-model";
import { ensureGoTool } from "../integration/lib/go-tools";
import {
  exportToCapture,
  startOtlpCapture,
  type OtlpCapture,
} from "../integration/lib/otlp-capture";
import { startServer, type LoopbackServer } from "../integration/lib/prometheus-server";
import { freePort } from "../integration/lib/process";
import { otelcolContribTool } from "../integration/lib/test-tools";
import { startControlPlane, waitFor, type ControlPlane } from "./lib/control-plane";
import { renderObjects, type PlanResource } from "./lib/render-objects";
import { serviceAccountToken } from "./lib/service-account-token";
import { ensureE2eBinaries } from "./lib/tools";

/**
 * The gateway collector's `k8sattributes` as rendered, against a real API server: the collector
 * runs with the rendered ServiceAccount's token (bound by the rendered ClusterRole, nothing else),
 * a workload runs on the kwok node, and a span that names the pod only by UID or IP must leave
 * the collector with the pod's namespace, name, node, Deployment and `service.name` from its
 * label. The config changes only where it must to run outside a pod: the API credentials come from
 * a kubeconfig with that token instead of the pod's mounted one, and addresses are loopback.
 */

const STACK = "dev";
const binaries = Promise.all([ensureE2eBinaries(), ensureGoTool(otelcolContribTool())]);
binaries.catch(() => undefined); // awaited in beforeAll

let cluster: ControlPlane | undefined;
let render: PlanResource[] = [];
let collector: LoopbackServer | undefined;
let capture: OtlpCapture | undefined;
let otlpHttp = "";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "k8sattributes-"));

function manifestOf(kind: string, urnSuffix: string): Manifest {
  const found = render.find(
    (resource) => resource.manifest?.kind === kind && resource.urn.endsWith(urnSuffix),
  );
  if (!found?.manifest) throw new Error(`the ${STACK} render has no ${kind} ${urnSuffix}`);
  return found.manifest;
}

const WEB = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop" },
  spec: {
    replicas: 1,
    selector: { matchLabels: { "app.kubernetes.io/name": "web" } },
    template: {
      metadata: { labels: { "app.kubernetes.io/name": "web" } },
      spec: { containers: [{ name: "web", image: "docker.io/library/nginx:1.27.3" }] },
    },
  },
};

interface Pod {
  metadata: { name: string; uid: string; namespace: string };
  spec: { nodeName?: string };
  status: { podIP?: string; phase?: string };
}

async function runningWebPod(controlPlane: ControlPlane): Promise<Pod> {
  let pod: Pod | undefined;
  await waitFor("a running web pod with an IP", 120_000, async () => {
    const list = (await controlPlane.client.get(
      "/api/v1/namespaces/shop/pods?labelSelector=app.kubernetes.io%2Fname%3Dweb",
    )) as { items?: Pod[] };
    pod = list.items?.find((item) => item.status.phase === "Running" && item.status.podIP);
    return pod !== undefined;
  });
  return pod as Pod;
}

/** A kubeconfig that authenticates as the collector's ServiceAccount. */
function kubeconfigFor(controlPlane: ControlPlane, token: string): string {
  const admin = JSON.parse(
    fs.readFileSync(path.join(controlPlane.dir, "admin.kubeconfig"), "utf8"),
  );
  const file = path.join(work, "collector.kubeconfig");
  const cluster = admin.clusters[0];
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster: cluster.cluster }],
      users: [{ name: "otel-collector", user: { token } }],
      contexts: [{ name: "e2e", context: { cluster: "e2e", user: "otel-collector" } }],
      "current-context": "e2e",
    }),
  );
  return file;
}

/** The rendered gateway config with API access by kubeconfig and every address on loopback. */
async function loopbackGateway(sink: OtlpCapture) {
  const data = manifestOf("ConfigMap", "::otel-collector-config").data as Record<string, string>;
  const config = parse(data["config.yaml"]) as {
    receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
    processors: { k8sattributes: Record<string, unknown> };
    exporters: Record<string, unknown>;
    extensions: Record<string, unknown>;
    service: {
      telemetry: { metrics: unknown };
      pipelines: Record<string, { exporters: string[] }>;
    };
  };
  expect(config.processors.k8sattributes.auth_type).toBe("serviceAccount");
  config.processors.k8sattributes.auth_type = "kubeConfig";
  const grpcPort = await freePort();
  const httpPort = await freePort();
  config.receivers.otlp.protocols.grpc.endpoint = `127.0.0.1:${grpcPort}`;
  config.receivers.otlp.protocols.http.endpoint = `127.0.0.1:${httpPort}`;
  const health = await exportToCapture(config, sink);
  return { config, otlpHttp: `http://127.0.0.1:${httpPort}`, health };
}

beforeAll(async () => {
  const [e2e, contribDir] = await binaries;
  cluster = await startControlPlane(e2e);
  render = await renderObjects(STACK);
  const admin = cluster.client;
  const namespace = manifestOf("Namespace", "::namespace");
  const account = manifestOf("ServiceAccount", "::otel-collector");
  for (const manifest of [
    namespace,
    account,
    manifestOf("ClusterRole", "::otel-collector-k8sattributes"),
    manifestOf("ClusterRoleBinding", "::otel-collector-k8sattributes"),
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } },
    WEB,
  ] as Manifest[]) {
    const applied = await admin.apply(manifest);
    expect(applied.status, `${manifest.kind}/${manifest.metadata.name}`).toBeLessThan(300);
  }
  const token = await serviceAccountToken(
    admin,
    account.metadata.namespace as string,
    account.metadata.name,
  );
  capture = await startOtlpCapture();
  const gateway = await loopbackGateway(capture);
  otlpHttp = gateway.otlpHttp;
  const configFile = path.join(work, "config.yaml");
  fs.writeFileSync(configFile, stringify(gateway.config, { lineWidth: 0 }));
  collector = await startServer(
    path.join(contribDir, "otelcol-contrib"),
    [`--config=${configFile}`],
    gateway.otlpHttp,
    gateway.health,
    { KUBECONFIG: kubeconfigFor(cluster, token) },
  );
}, 1_800_000);

afterAll(async () => {
  await collector?.stop();
  await capture?.close();
  await cluster?.stop();
  fs.rmSync(work, { recursive: true, force: true });
}, 60_000);

/** A one-span OTLP/JSON trace whose resource names the pod only by `key`. */
function spanFrom(key: string, value: string, name: string) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key, value: { stringValue: value } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: "5b8efff798038103d269b633813fc60c",
                spanId: "eee19b7ec3c1b174",
                name,
                kind: 2,
                startTimeUnixNano: String(Date.now() * 1e6),
                endTimeUnixNano: String(Date.now() * 1e6 + 1e6),
              },
            ],
          },
        ],
      },
    ],
  };
}

/** Sends spans until one arrives enriched (the pod cache fills a moment after start). */
async function enriched(key: string, value: string): Promise<Record<string, string>> {
  let found: Record<string, string> | undefined;
  const name = `by-${key}-${Date.now()}`;
  await waitFor(`a span sent with ${key} to arrive enriched`, 60_000, async () => {
    await fetch(`${otlpHttp}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(spanFrom(key, value, name)),
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    found = capture
      ?.resources()
      .find((entry) => entry.items.includes(name) && entry.attributes["k8s.pod.name"])?.attributes;
    return found !== undefined;
  }).catch((error: unknown) => {
    const seen = JSON.stringify(capture?.resources().slice(-3));
    throw new Error(
      `${(error as Error).message}; last received ${seen}\n${collector?.log() ?? ""}`,
    );
  });
  return found as Record<string, string>;
}

describe(`the ${STACK} gateway collector's k8sattributes on a real API server`, () => {
  it.each(["k8s.pod.uid", "k8s.pod.ip"])(
    "adds the pod's identity to a span that names it by %s",
    async (key) => {
      const pod = await runningWebPod(cluster as ControlPlane);
      const value = key === "k8s.pod.uid" ? pod.metadata.uid : (pod.status.podIP as string);
      const attributes = await enriched(key, value);
      console.log(`[k8sattributes] by ${key}: ${JSON.stringify(attributes)}`);
      expect(attributes).toMatchObject({
        "k8s.namespace.name": "shop",
        "k8s.pod.name": pod.metadata.name,
        "k8s.pod.uid": pod.metadata.uid,
        "k8s.node.name": pod.spec.nodeName,
        "k8s.deployment.name": "web",
        "service.name": "web",
      });
    },
    180_000,
  );

  it("needs nothing its ClusterRole does not grant: the API server refused it nothing", () => {
    expect(collector?.log()).not.toMatch(/forbidden/i);
  });
});
