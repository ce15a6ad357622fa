import { describe, expect, it } from "vitest";
import {
  COMPONENT_LABEL,
  isAllowed,
  KUBERNETES_API_USERS,
  NODE_LOG_CHECKPOINTS_HOST_DIR,
  NODE_LOG_COLLECTOR_COMPONENT,
  nodeLogsNamespace,
  RelaxableControl,
  SECURITY_EXCEPTIONS,
  securityExceptionFor,
} from "../../../policy/model/security-exceptions";

const collectorLabels = { [COMPONENT_LABEL]: NODE_LOG_COLLECTOR_COMPONENT };

describe("security exceptions", () => {
  it("puts the node log collector in its own namespace next to the platform's", () => {
    expect(nodeLogsNamespace("platform")).toBe("platform-node-logs");
  });

  it("names the node log collector, relaxing only host paths and root, with reasons", () => {
    const collector = SECURITY_EXCEPTIONS.find((entry) => entry.id === "node-log-collector");
    expect(collector?.podSecurityLevel).toBe("privileged");
    expect(collector?.relaxes.map((relaxation) => relaxation.control)).toEqual([
      RelaxableControl.hostPathVolumes,
      RelaxableControl.runAsRoot,
    ]);
    for (const relaxation of collector?.relaxes ?? []) expect(relaxation.why).not.toBe("");
    expect(collector?.hostPaths).toEqual([
      { pathPrefix: "/var/log", readOnly: true },
      { pathPrefix: NODE_LOG_CHECKPOINTS_HOST_DIR, readOnly: false, why: expect.any(String) },
    ]);
    // A writable host path outlives the pod: its reason must say what is kept there.
    const writable = collector?.hostPaths.find((grant) => !grant.readOnly);
    expect(writable && !writable.readOnly ? writable.why : "").toContain("offsets");
  });

  it("matches kind, namespace and component together, never one alone", () => {
    const facts = { kind: "DaemonSet", namespace: "platform-node-logs", labels: collectorLabels };
    expect(securityExceptionFor(facts)?.id).toBe("node-log-collector");
    expect(securityExceptionFor({ ...facts, kind: "Deployment" })).toBeUndefined();
    expect(securityExceptionFor({ ...facts, namespace: "platform" })).toBeUndefined();
    expect(securityExceptionFor({ ...facts, namespace: "-node-logs" })).toBeUndefined();
    expect(
      securityExceptionFor({ ...facts, labels: { [COMPONENT_LABEL]: "collector" } }),
    ).toBeUndefined();
    expect(securityExceptionFor({ ...facts, namespace: undefined })).toBeUndefined();
  });

  it("lets Prometheus and the app worker use the Kubernetes API, each entry with a reason", () => {
    const components = KUBERNETES_API_USERS.map((user) => user.component);
    expect(components).toEqual(expect.arrayContaining(["prometheus", "worker"]));
    expect(new Set(components).size).toBe(components.length);
    for (const user of KUBERNETES_API_USERS) {
      expect(user.why.length, user.component).toBeGreaterThan(20);
    }
    expect(isAllowed(KUBERNETES_API_USERS, "worker")).toBe(true);
    expect(isAllowed(KUBERNETES_API_USERS, "web")).toBe(false);
    expect(isAllowed(KUBERNETES_API_USERS, undefined)).toBe(false);
  });
});
