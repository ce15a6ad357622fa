import { describe, expect, it } from "vitest";
import { labelsFor, selectorFor } from "../../../policy/model/labels";
import { check, probesFor } from "../../../components/lib/probes";
import { parseQuantity, toMebibytes } from "../../../core/quantity";
import { RESOURCE_PRESETS, resourceRequirements } from "../../../components/lib/resources";
import {
  containerSecurityContext,
  DEFAULT_NON_ROOT_UID,
  podSecurityContext,
  podSecurityLabels,
} from "../../../components/lib/security";
import { container, podTemplate } from "../../../components/lib/workload";

const identity = { name: "web", component: "frontend", instance: "platform", version: "1.2.3" };

describe("secure defaults", () => {
  it("containers never escalate privileges, drop every capability and run read-only", () => {
    expect(containerSecurityContext()).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("a writable root filesystem is an explicit opt-out, the rest stays", () => {
    const context = containerSecurityContext({ readOnlyRootFilesystem: false });
    expect(context.readOnlyRootFilesystem).toBe(false);
    expect(context.capabilities).toEqual({ drop: ["ALL"] });
  });

  it("pods run as non-root UID 65532 with RuntimeDefault seccomp unless told the image's UID", () => {
    expect(podSecurityContext()).toMatchObject({
      runAsNonRoot: true,
      runAsUser: DEFAULT_NON_ROOT_UID,
      runAsGroup: DEFAULT_NON_ROOT_UID,
      fsGroup: DEFAULT_NON_ROOT_UID,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(podSecurityContext({ runAsUser: 999 })).toMatchObject({ runAsUser: 999, fsGroup: 999 });
  });

  it("pod templates mount no service-account token unless asked", () => {
    const template = podTemplate(identity, {
      containers: [container({ name: "web", image: "x:1", resources: RESOURCE_PRESETS.small })],
    });
    expect(template.spec).toMatchObject({
      automountServiceAccountToken: false,
      enableServiceLinks: false,
    });
  });

  it("every container gets requests and a memory limit", () => {
    const built = container({
      name: "web",
      image: "x:1",
      resources: { cpu: "100m", memory: "128Mi" },
    });
    expect(built.resources).toEqual({
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { memory: "128Mi" },
    });
  });

  it("namespaces enforce, audit and warn at the same Pod Security level", () => {
    expect(podSecurityLabels("restricted")).toEqual({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/warn": "restricted",
    });
  });
});

describe("labels", () => {
  it("selectors are a subset of the labels and never carry the version", () => {
    const labels = labelsFor(identity);
    const selector = selectorFor(identity);
    expect(labels).toMatchObject(selector);
    expect(selector).not.toHaveProperty("app.kubernetes.io/version");
    expect(labels["app.kubernetes.io/part-of"]).toBe("k3s-platform");
  });

  it("a version with characters labels refuse is made label-safe", () => {
    const labels = labelsFor({ ...identity, version: "sha256:abc+def" });
    expect(labels["app.kubernetes.io/version"]).toBe("sha256_abc_def");
  });

  it("pod templates carry the full labels so Services, PDBs and policies can select them", () => {
    const template = podTemplate(identity, { containers: [] });
    expect(template.metadata).toMatchObject({ labels: labelsFor(identity) });
  });
});

describe("probes", () => {
  it("readiness and liveness differ, so a slow dependency unreadies instead of restarting", () => {
    const probes = probesFor(check.http("/healthz", 8080));
    expect(probes.readinessProbe.httpGet).toEqual({ path: "/healthz", port: 8080 });
    expect(probes.readinessProbe).not.toEqual(probes.livenessProbe);
    expect(probes.livenessProbe.failureThreshold).toBeGreaterThan(
      probes.readinessProbe.failureThreshold as number,
    );
  });

  it("a startup probe covers the requested start time", () => {
    const probes = probesFor(check.tcp(5432), { startupSeconds: 120 });
    const startup = probes.startupProbe;
    expect(
      (startup?.failureThreshold as number) * (startup?.periodSeconds as number),
    ).toBeGreaterThanOrEqual(120);
  });
});

describe("quantities", () => {
  it.each([
    ["512Mi", 512 * 2 ** 20],
    ["2Gi", 2 * 2 ** 30],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["500m", 0.5],
    ["2", 2],
    ["1G", 1e9],
  ])("%s is %d", (quantity, value) => {
    expect(parseQuantity(quantity)).toBe(value);
  });

  it("refuses negative and unit-less garbage with the accepted forms", () => {
    expect(() => parseQuantity("-1Gi")).toThrow(/512Mi, 2Gi, 500m or 2/);
    expect(() => parseQuantity("lots")).toThrow(/not a Kubernetes quantity/);
  });

  it("mebibytes round down", () => {
    expect(toMebibytes("1.5Gi")).toBe(1536);
    expect(toMebibytes("1000Ki")).toBe(0);
  });

  it("presets set a memory limit at or above the request", () => {
    for (const preset of Object.values(RESOURCE_PRESETS)) {
      const requirements = resourceRequirements(preset);
      expect(
        parseQuantity(
          String(requirements.limits && (requirements.limits as Record<string, string>).memory),
        ),
      ).toBeGreaterThanOrEqual(parseQuantity(preset.memory));
    }
  });
});
