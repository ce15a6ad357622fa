import { describe, expect, it } from "vitest";
import { LONG_RUNNING_KINDS, WORKLOAD_KINDS } from "../../../policy/lib/workloads";
import { probes } from "../../../policy/rules/probes";
import { readOnlyRoot } from "../../../policy/rules/read-only-root";
import { resources } from "../../../policy/rules/resources";
import { saToken } from "../../../policy/rules/sa-token";
import {
  deployment,
  jobContainer,
  podLabels,
  runRule,
  SECURE_CONTEXT,
  workload,
} from "../../../policy/testing";

describe.each(WORKLOAD_KINDS)("resources on a %s", (kind) => {
  it("passes requests and a memory limit", async () => {
    expect(await runRule(resources, [workload(kind, "web")])).toEqual([]);
  });

  it("rejects a missing memory limit, naming the field and the fix", async () => {
    const amounts = { requests: { cpu: "100m", memory: "128Mi" } };
    const [message] = await runRule(resources, [
      workload(kind, "web", { container: { resources: amounts } }),
    ]);
    const template = kind === "CronJob" ? "spec.jobTemplate.spec.template" : "spec.template";
    expect(message).toBe(
      `${kind}/platform/web: container "web" has no memory limit ` +
        `(${template}.spec.containers[0].resources.limits.memory); set resources.limits.memory`,
    );
  });
});

describe("resources", () => {
  it("checks init containers too", async () => {
    const pod = { initContainers: [jobContainer("init", { resources: {} })] };
    expect(await runRule(resources, [deployment("web", { pod })])).toEqual([
      expect.stringContaining(`init container "init" has no CPU request`),
      expect.stringContaining(`init container "init" has no memory request`),
      expect.stringContaining(`init container "init" has no memory limit`),
    ]);
  });
});

describe.each(LONG_RUNNING_KINDS)("probes on a %s", (kind) => {
  it("passes distinct readiness and liveness probes", async () => {
    expect(await runRule(probes, [workload(kind, "web")])).toEqual([]);
  });

  it("rejects a served container without readiness", async () => {
    const resource = workload(kind, "web", { container: { readinessProbe: undefined } });
    expect(await runRule(probes, [resource])).toEqual([
      expect.stringContaining(`container "web" serves ports but has no readiness probe`),
    ]);
  });
});

describe("probes", () => {
  it("requires liveness on a long-running container without ports", async () => {
    const resource = deployment("worker", {
      container: { ports: undefined, readinessProbe: undefined, livenessProbe: undefined },
    });
    expect(await runRule(probes, [resource])).toEqual([
      expect.stringContaining(`container "worker" has no liveness probe`),
    ]);
  });

  it("rejects identical readiness and liveness probes", async () => {
    const probe = { httpGet: { path: "/health", port: "http" } };
    const resource = deployment("web", {
      container: { readinessProbe: probe, livenessProbe: probe },
    });
    expect(await runRule(probes, [resource])).toEqual([
      expect.stringContaining("has identical readiness and liveness probes"),
    ]);
  });

  it("does not apply to Jobs and CronJobs", async () => {
    const bare = { ports: undefined, readinessProbe: undefined, livenessProbe: undefined };
    const jobs = [
      workload("Job", "a", { container: bare }),
      workload("CronJob", "b", { container: bare }),
    ];
    expect(await runRule(probes, jobs)).toEqual([]);
  });
});

describe.each(WORKLOAD_KINDS)("read-only-root on a %s", (kind) => {
  it("passes a read-only root filesystem", async () => {
    expect(await runRule(readOnlyRoot, [workload(kind, "web")])).toEqual([]);
  });

  it("flags a writable root filesystem", async () => {
    const securityContext = { ...SECURE_CONTEXT, readOnlyRootFilesystem: false };
    const resource = workload(kind, "web", { container: { securityContext } });
    expect(await runRule(readOnlyRoot, [resource])).toEqual([
      expect.stringContaining(`container "web" has a writable root filesystem`),
    ]);
  });
});

describe.each(WORKLOAD_KINDS)("sa-token on a %s", (kind) => {
  it("passes a pod without a token", async () => {
    expect(await runRule(saToken, [workload(kind, "web")])).toEqual([]);
  });

  it("rejects a token mounted by default", async () => {
    const resource = workload(kind, "web", { pod: { automountServiceAccountToken: undefined } });
    expect(await runRule(saToken, [resource])).toEqual([
      expect.stringContaining(`mounts a service-account token although component "web"`),
    ]);
  });
});

describe("sa-token", () => {
  it("lets the documented API users mount a token", async () => {
    const pod = { automountServiceAccountToken: true };
    const prometheus = deployment("prometheus", { pod, podLabels: podLabels("prometheus") });
    const worker = deployment("worker", { pod, podLabels: podLabels("app-worker", "worker") });
    expect(await runRule(saToken, [prometheus, worker])).toEqual([]);
  });

  it("does not let a look-alike name through", async () => {
    const pod = { automountServiceAccountToken: true };
    const grafana = deployment("grafana", {
      pod,
      podLabels: podLabels("prometheus", "dashboards"),
    });
    expect(await runRule(saToken, [grafana])).toHaveLength(1);
  });
});
