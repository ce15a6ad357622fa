import { describe, expect, it } from "vitest";
import {
  nodeLogsNamespace,
  NODE_LOG_COLLECTOR_COMPONENT,
} from "../../../policy/model/security-exceptions";
import { WORKLOAD_KINDS } from "../../../policy/lib/workloads";
import { pssBaseline } from "../../../policy/rules/pss-baseline";
import { pssRestricted } from "../../../policy/rules/pss-restricted";
import type { WorkloadOptions } from "../../../policy/testing";
import {
  container,
  deployment,
  jobContainer,
  podLabels,
  runRule,
  SECURE_CONTEXT,
  workload,
} from "../../../policy/testing";

describe.each(WORKLOAD_KINDS)("pss-baseline on a %s", (kind) => {
  it("passes the baseline pod", async () => {
    expect(await runRule(pssBaseline, [workload(kind, "web")])).toEqual([]);
  });

  it("rejects a privileged init container", async () => {
    const setup = jobContainer("setup", {
      securityContext: { ...SECURE_CONTEXT, privileged: true },
    });
    const pod = { initContainers: [setup] };
    const [message] = await runRule(pssBaseline, [workload(kind, "web", { pod })]);
    expect(message).toContain(`init container "setup" is privileged`);
    expect(message).toContain("spec.initContainers[0].securityContext.privileged");
  });
});

describe("pss-baseline controls", () => {
  const check = (options: WorkloadOptions): Promise<string[]> =>
    runRule(pssBaseline, [deployment("web", options)]);

  it("rejects host namespaces", async () => {
    const messages = await check({ pod: { hostNetwork: true, hostPID: true } });
    expect(messages).toEqual([
      expect.stringContaining("(spec.template.spec.hostNetwork); remove hostNetwork"),
      expect.stringContaining("(spec.template.spec.hostPID); remove hostPID"),
    ]);
  });

  it("rejects a hostPath volume", async () => {
    const pod = { volumes: [{ name: "etc", hostPath: { path: "/etc" } }] };
    expect(await check({ pod })).toEqual([
      expect.stringContaining(`volume "etc" mounts host path /etc (spec.template.spec.volumes[0]`),
    ]);
  });

  it("rejects a host port", async () => {
    const ports = [{ name: "http", containerPort: 8080, hostPort: 80 }];
    expect(await check({ container: { ports } })).toEqual([
      expect.stringContaining("binds host port 80 (spec.template.spec.containers[0].ports[0]"),
    ]);
  });

  it("admits baseline capabilities and rejects others", async () => {
    const capabilities = { drop: ["ALL"], add: ["CHOWN", "SYS_ADMIN"] };
    const messages = await check({ container: { securityContext: { capabilities } } });
    expect(messages).toEqual([expect.stringContaining("adds capability SYS_ADMIN")]);
  });

  it("rejects unconfined seccomp and AppArmor, and foreign SELinux types", async () => {
    const securityContext = {
      seccompProfile: { type: "Unconfined" },
      appArmorProfile: { type: "Unconfined" },
      seLinuxOptions: { type: "spc_t" },
    };
    const messages = await check({ pod: { securityContext } });
    expect(messages.join("\n")).toContain("pod has an Unconfined seccomp profile");
    expect(messages.join("\n")).toContain("pod has an Unconfined AppArmor profile");
    expect(messages.join("\n")).toContain("pod has SELinux type spc_t, not a container type");
  });

  it("rejects the AppArmor unconfined annotation", async () => {
    const key = "container.apparmor.security.beta.kubernetes.io/web";
    const messages = await check({ podAnnotations: { [key]: "unconfined" } });
    expect(messages).toEqual([
      expect.stringContaining("pod has an unconfined AppArmor annotation"),
    ]);
  });

  it("rejects a non-default procMount and unsafe sysctls, not safe ones", async () => {
    const sysctls = [
      { name: "net.ipv4.tcp_syncookies", value: "1" },
      { name: "kernel.msgmax", value: "65536" },
    ];
    const messages = await check({
      pod: { securityContext: { sysctls } },
      container: { securityContext: { ...SECURE_CONTEXT, procMount: "Unmasked" } },
    });
    expect(messages).toEqual([
      expect.stringContaining("unsafe sysctl kernel.msgmax"),
      expect.stringContaining("sets procMount Unmasked"),
    ]);
  });
});

describe.each(WORKLOAD_KINDS)("pss-restricted on a %s", (kind) => {
  it("passes the baseline pod", async () => {
    expect(await runRule(pssRestricted, [workload(kind, "web")])).toEqual([]);
  });

  it("rejects privilege escalation", async () => {
    const securityContext = { ...SECURE_CONTEXT, allowPrivilegeEscalation: true };
    const messages = await runRule(pssRestricted, [
      workload(kind, "web", { container: { securityContext } }),
    ]);
    expect(messages).toEqual([
      expect.stringContaining(`container "web" allows privilege escalation`),
    ]);
  });
});

describe("pss-restricted controls", () => {
  const check = (options: WorkloadOptions): Promise<string[]> =>
    runRule(pssRestricted, [deployment("web", options)]);

  it("requires all capabilities dropped and at most NET_BIND_SERVICE added", async () => {
    const capabilities = { drop: ["NET_RAW"], add: ["NET_BIND_SERVICE", "NET_ADMIN"] };
    const messages = await check({
      container: { securityContext: { ...SECURE_CONTEXT, capabilities } },
    });
    expect(messages).toEqual([
      expect.stringContaining(`does not drop all capabilities`),
      expect.stringContaining("adds capability NET_ADMIN"),
    ]);
  });

  it("requires runAsNonRoot and rejects UID 0", async () => {
    const securityContext = { seccompProfile: { type: "RuntimeDefault" }, runAsUser: 0 };
    const context = { ...SECURE_CONTEXT, runAsNonRoot: undefined };
    const messages = await check({
      pod: { securityContext },
      container: { securityContext: context },
    });
    expect(messages).toEqual([
      expect.stringContaining("pod runs as UID 0 (spec.template.spec.securityContext.runAsUser)"),
      expect.stringContaining(`container "web" may run as root`),
    ]);
  });

  it("takes runAsNonRoot and seccomp from the pod when the container does not set them", async () => {
    const context = { ...SECURE_CONTEXT, runAsNonRoot: undefined, seccompProfile: undefined };
    expect(await check({ container: { securityContext: context } })).toEqual([]);
  });

  it("requires a RuntimeDefault or Localhost seccomp profile", async () => {
    const context = { ...SECURE_CONTEXT, seccompProfile: undefined };
    const messages = await check({
      pod: { securityContext: { runAsNonRoot: true } },
      container: { securityContext: context },
    });
    expect(messages).toEqual([expect.stringContaining("has seccomp profile unset")]);
  });

  it("admits only the restricted volume types", async () => {
    const volumes = [
      { name: "tmp", emptyDir: {} },
      { name: "nfs", nfs: { server: "10.0.0.1", path: "/export" } },
    ];
    expect(await check({ pod: { volumes } })).toEqual([
      expect.stringContaining(`volume "nfs" is a nfs volume (spec.template.spec.volumes[1])`),
    ]);
  });
});

describe("the node log collector exception", () => {
  const collector = (options: WorkloadOptions & { kind?: "DaemonSet" | "Deployment" } = {}) =>
    workload(options.kind ?? "DaemonSet", "node-logs", {
      namespace: nodeLogsNamespace("platform"),
      podLabels: podLabels("otel-node", NODE_LOG_COLLECTOR_COMPONENT),
      pod: {
        securityContext: { runAsUser: 0, seccompProfile: { type: "RuntimeDefault" } },
        volumes: [{ name: "pods", hostPath: { path: "/var/log/pods" } }],
      },
      container: {
        securityContext: { ...SECURE_CONTEXT, runAsNonRoot: false },
        volumeMounts: [{ name: "pods", mountPath: "/var/log/pods", readOnly: true }],
      },
      ...options,
    });
  const both = async (resource: ReturnType<typeof collector>): Promise<string[]> => [
    ...(await runRule(pssBaseline, [resource])),
    ...(await runRule(pssRestricted, [resource])),
  ];

  it("admits the collector: read-only hostPath under /var/log, root", async () => {
    expect(await both(collector())).toEqual([]);
  });

  it("is matched by namespace and component, not by either alone", async () => {
    const elsewhere = await both(collector({ namespace: "platform" }));
    expect(elsewhere.join("\n")).toContain("mounts host path /var/log/pods");
    const otherComponent = await both(
      collector({ podLabels: podLabels("otel-node", "collector") }),
    );
    expect(otherComponent.join("\n")).toContain("may run as root");
  });

  it("covers only the DaemonSet kind", async () => {
    const messages = await both(collector({ kind: "Deployment" }));
    expect(messages.join("\n")).toContain("mounts host path /var/log/pods");
  });

  it("requires the host path mounted read-only and under /var/log", async () => {
    const writable = await both(
      collector({
        container: {
          securityContext: { ...SECURE_CONTEXT, runAsNonRoot: false },
          volumeMounts: [{ name: "pods", mountPath: "/var/log/pods" }],
        },
      }),
    );
    expect(writable).toEqual([expect.stringContaining(`mounts host path volume "pods" writable`)]);
    const escape = collector({
      pod: {
        securityContext: { runAsUser: 0, seccompProfile: { type: "RuntimeDefault" } },
        volumes: [{ name: "pods", hostPath: { path: "/var/log/../lib/kubelet" } }],
      },
    });
    expect((await both(escape)).join("\n")).toContain("mounts host path /var/log/../lib/kubelet");
  });

  it("still requires capabilities dropped and no privilege escalation", async () => {
    const messages = await both(
      collector({
        container: {
          securityContext: { runAsNonRoot: false, seccompProfile: { type: "RuntimeDefault" } },
          volumeMounts: [{ name: "pods", mountPath: "/var/log/pods", readOnly: true }],
        },
      }),
    );
    expect(messages).toEqual([
      expect.stringContaining("allows privilege escalation"),
      expect.stringContaining("does not drop all capabilities"),
    ]);
    expect(messages[0]).toContain(`exception "node-log-collector" relaxes only`);
  });
});

describe("a container that overrides the secure defaults", () => {
  it("is judged on its own settings, not the pod's", async () => {
    const web = container("web", { securityContext: { ...SECURE_CONTEXT, runAsUser: 0 } });
    const messages = await runRule(pssRestricted, [deployment("web", { containers: [web] })]);
    expect(messages).toEqual([expect.stringContaining("runs as UID 0")]);
  });
});
