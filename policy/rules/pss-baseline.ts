import type { ResourceValidationPolicy } from "@pulumi/policy";
import type { SecurityContext } from "../lib/k8s";
import { asArray } from "../lib/k8s";
import { checkHostPaths, exceptionOf, reportFor } from "../lib/pss";
import type { Report } from "../lib/rule";
import { validateWorkload } from "../lib/rule";
import type { ContainerRef, Workload } from "../lib/workloads";
import { containersOf } from "../lib/workloads";

/** Capabilities Pod Security baseline lets a container add. */
const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);

/** The namespaced sysctls Pod Security baseline calls safe. */
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);

const SELINUX_TYPES = new Set([
  "container_t",
  "container_init_t",
  "container_kvm_t",
  "container_engine_t",
]);

const APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/";

/** The security-context controls baseline shares between pod and container level. */
function checkContext(context: SecurityContext | undefined, field: string, report: Report): void {
  if (context === undefined) return;
  if (context.seccompProfile?.type === "Unconfined") {
    report(`has an Unconfined seccomp profile (${field}.seccompProfile.type); set RuntimeDefault`);
  }
  if (context.appArmorProfile?.type === "Unconfined") {
    report(
      `has an Unconfined AppArmor profile (${field}.appArmorProfile.type); remove it or set ` +
        `RuntimeDefault`,
    );
  }
  const selinux = context.seLinuxOptions;
  if (selinux?.type !== undefined && selinux.type !== "" && !SELINUX_TYPES.has(selinux.type)) {
    report(
      `has SELinux type ${selinux.type}, not a container type (${field}.seLinuxOptions.type); ` +
        `use container_t or leave it unset`,
    );
  }
  if (selinux?.user || selinux?.role) {
    report(`sets an SELinux user or role (${field}.seLinuxOptions); remove user and role`);
  }
  if (context.windowsOptions?.hostProcess === true) {
    report(
      `runs as a Windows host process (${field}.windowsOptions.hostProcess); remove hostProcess`,
    );
  }
}

function checkPod(workload: Workload, report: Report): void {
  const spec = workload.spec;
  const field = `${workload.path}.spec`;
  for (const host of ["hostNetwork", "hostPID", "hostIPC"] as const) {
    if (spec[host] === true) {
      report(`shares the node's namespace (${field}.${host}); remove ${host}`);
    }
  }
  checkContext(spec.securityContext, `${field}.securityContext`, (detail) =>
    report(`pod ${detail}`),
  );
  asArray(spec.securityContext?.sysctls).forEach((sysctl, index) => {
    if (sysctl.name !== undefined && !SAFE_SYSCTLS.has(sysctl.name)) {
      report(
        `sets unsafe sysctl ${sysctl.name} (${field}.securityContext.sysctls[${index}]); ` +
          `remove it or set it on the node`,
      );
    }
  });
  for (const [key, value] of Object.entries(workload.metadata.annotations ?? {})) {
    if (key.startsWith(APPARMOR_ANNOTATION) && value === "unconfined") {
      report(
        `pod has an unconfined AppArmor annotation ` +
          `(${workload.path}.metadata.annotations["${key}"]); ` +
          `remove the annotation`,
      );
    }
  }
}

function checkContainer(ref: ContainerRef, report: Report): void {
  const context = ref.container.securityContext;
  const field = `${ref.path}.securityContext`;
  const say = (detail: string): void => report(`${ref.label} ${detail}`);
  if (context?.privileged === true) {
    say(`is privileged (${field}.privileged); set privileged: false`);
  }
  for (const capability of asArray(context?.capabilities?.add)) {
    if (!BASELINE_CAPABILITIES.has(capability)) {
      say(`adds capability ${capability} (${field}.capabilities.add); remove it`);
    }
  }
  if (context?.procMount !== undefined && context.procMount !== "Default") {
    say(`sets procMount ${context.procMount} (${field}.procMount); remove it`);
  }
  checkContext(context, field, say);
  asArray(ref.container.ports).forEach((port, index) => {
    if (port.hostPort !== undefined && port.hostPort !== 0) {
      say(
        `binds host port ${port.hostPort} (${ref.path}.ports[${index}].hostPort); remove ` +
          `hostPort and reach it through a Service`,
      );
    }
  });
}

/** Pod Security Standards, baseline: what every pod template must never do. */
export const pssBaseline: ResourceValidationPolicy = {
  name: "pss-baseline",
  description:
    "Pod Security Standards baseline: no host namespaces, privileged containers, added " +
    "capabilities beyond the baseline set, hostPath volumes, host ports, unconfined AppArmor or " +
    "seccomp, non-container SELinux types, non-default procMount or unsafe sysctls.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Build the pod from components/lib/security.ts; a workload that truly needs a host resource " +
    "is named, with the controls it relaxes, in policy/model/security-exceptions.ts.",
  validateResource: validateWorkload((workload, report) => {
    const say = reportFor(report, exceptionOf(workload));
    checkPod(workload, say);
    checkHostPaths(workload, say);
    for (const ref of containersOf(workload)) checkContainer(ref, say);
  }),
};
