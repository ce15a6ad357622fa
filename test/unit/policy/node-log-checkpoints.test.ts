import { describe, expect, it } from "vitest";
import {
  NODE_LOG_CHECKPOINTS_HOST_DIR,
  NODE_LOG_COLLECTOR_COMPONENT,
  nodeLogsNamespace,
} from "../../../policy/model/security-exceptions";
import { pssBaseline } from "../../../policy/rules/pss-baseline";
import { pssRestricted } from "../../../policy/rules/pss-restricted";
import type { Container, Volume } from "../../../policy/lib/k8s";
import { podLabels, runRule, SECURE_CONTEXT, workload } from "../../../policy/testing";

/*
 * The node log collector keeps its file offsets in a writable host directory of its own: the
 * exception grants exactly that directory writable, and /var/log stays read-only.
 */

const ROOT_POD = { runAsUser: 0, seccompProfile: { type: "RuntimeDefault" } };
const ROOT_CONTAINER = { ...SECURE_CONTEXT, runAsNonRoot: false };

function collectorWith(volumes: Volume[], mounts: Container["volumeMounts"], namespace?: string) {
  return workload("DaemonSet", "node-logs", {
    namespace: namespace ?? nodeLogsNamespace("platform"),
    podLabels: podLabels("otel-node", NODE_LOG_COLLECTOR_COMPONENT),
    pod: { securityContext: ROOT_POD, volumes },
    container: { securityContext: ROOT_CONTAINER, volumeMounts: mounts },
  });
}

async function findings(resource: ReturnType<typeof collectorWith>): Promise<string[]> {
  return [
    ...(await runRule(pssBaseline, [resource])),
    ...(await runRule(pssRestricted, [resource])),
  ];
}

const checkpoints: Volume = {
  name: "checkpoints",
  hostPath: { path: NODE_LOG_CHECKPOINTS_HOST_DIR, type: "DirectoryOrCreate" },
};

describe("the node log collector's checkpoint directory", () => {
  it("may be mounted writable next to the read-only pod logs", async () => {
    const resource = collectorWith(
      [{ name: "pods", hostPath: { path: "/var/log/pods" } }, checkpoints],
      [
        { name: "pods", mountPath: "/var/log/pods", readOnly: true },
        { name: "checkpoints", mountPath: "/var/lib/otelcol/node-logs" },
      ],
    );
    expect(await findings(resource)).toEqual([]);
  });

  it("grants no other writable directory, not even its parent or a sibling", async () => {
    for (const path of ["/var/lib/k3s-platform", "/var/lib/k3s-platform/otel-node-logs-x"]) {
      const resource = collectorWith(
        [{ name: "state", hostPath: { path } }],
        [{ name: "state", mountPath: "/state" }],
      );
      expect((await findings(resource)).join("\n"), path).toContain(`mounts host path ${path}`);
    }
  });

  it("leaves /var/log read-only", async () => {
    const resource = collectorWith(
      [{ name: "pods", hostPath: { path: "/var/log/pods" } }],
      [{ name: "pods", mountPath: "/var/log/pods" }],
    );
    expect(await findings(resource)).toEqual([
      expect.stringContaining(`mounts host path volume "pods" writable`),
    ]);
  });

  it("is granted to the collector alone: the same volume elsewhere is a finding", async () => {
    const resource = collectorWith(
      [checkpoints],
      [{ name: "checkpoints", mountPath: "/var/lib/otelcol/node-logs" }],
      "platform",
    );
    expect((await findings(resource)).join("\n")).toContain(
      `mounts host path ${NODE_LOG_CHECKPOINTS_HOST_DIR}`,
    );
  });
});
