import type { ResourceValidationPolicy } from "@pulumi/policy";
import { RelaxableControl } from "../model/security-exceptions";
import { asArray } from "../lib/k8s";
import { exceptedVolume, exceptionOf, relaxes, reportFor } from "../lib/pss";
import type { Report } from "../lib/rule";
import { validateWorkload } from "../lib/rule";
import type { ContainerRef, Workload } from "../lib/workloads";
import { containersOf } from "../lib/workloads";

/** Volume types Pod Security restricted admits. */
const RESTRICTED_VOLUME_TYPES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);

const SECCOMP_TYPES = new Set(["RuntimeDefault", "Localhost"]);

function checkVolumes(workload: Workload, report: Report): void {
  asArray(workload.spec.volumes).forEach((volume, index) => {
    const types = Object.entries(volume)
      .filter(([key, source]) => key !== "name" && source !== undefined)
      .map(([key]) => key);
    const forbidden = types.filter((type) => !RESTRICTED_VOLUME_TYPES.has(type));
    if (forbidden.length === 0 || exceptedVolume(workload, volume)) return;
    report(
      `volume "${volume.name}" is a ${forbidden.join("/")} volume ` +
        `(${workload.path}.spec.volumes[${index}]); use configMap, csi, downwardAPI, emptyDir, ` +
        `ephemeral, persistentVolumeClaim, projected or secret`,
    );
  });
}

/** runAsNonRoot may come from the pod; UID 0 is refused at either level. */
function checkNonRoot(workload: Workload, ref: ContainerRef, say: Report): void {
  const pod = workload.spec.securityContext;
  const own = ref.container.securityContext;
  const field = `${ref.path}.securityContext`;
  if ((own?.runAsNonRoot ?? pod?.runAsNonRoot) !== true) {
    say(
      `may run as root (${field}.runAsNonRoot, or ${workload.path}.spec.securityContext` +
        `.runAsNonRoot); set runAsNonRoot: true`,
    );
  }
  if (own?.runAsUser === 0) {
    say(`runs as UID 0 (${field}.runAsUser); set a non-zero runAsUser`);
  }
}

function checkPodUser(workload: Workload, report: Report): void {
  if (workload.spec.securityContext?.runAsUser !== 0) return;
  report(
    `pod runs as UID 0 (${workload.path}.spec.securityContext.runAsUser); set a non-zero ` +
      `runAsUser`,
  );
}

function checkContainer(workload: Workload, ref: ContainerRef, report: Report): void {
  const context = ref.container.securityContext;
  const field = `${ref.path}.securityContext`;
  const say = (detail: string): void => report(`${ref.label} ${detail}`);
  if (context?.allowPrivilegeEscalation !== false) {
    say(
      `allows privilege escalation (${field}.allowPrivilegeEscalation); ` +
        `set allowPrivilegeEscalation: false`,
    );
  }
  if (!asArray(context?.capabilities?.drop).includes("ALL")) {
    say(`does not drop all capabilities (${field}.capabilities.drop); set drop: ["ALL"]`);
  }
  for (const capability of asArray(context?.capabilities?.add)) {
    if (capability !== "NET_BIND_SERVICE") {
      say(
        `adds capability ${capability} (${field}.capabilities.add); add at most NET_BIND_SERVICE`,
      );
    }
  }
  const seccomp =
    context?.seccompProfile?.type ?? workload.spec.securityContext?.seccompProfile?.type;
  if (seccomp === undefined || !SECCOMP_TYPES.has(seccomp)) {
    say(
      `has seccomp profile ${seccomp ?? "unset"} (${field}.seccompProfile.type, or ` +
        `${workload.path}.spec.securityContext.seccompProfile.type); set RuntimeDefault`,
    );
  }
  if (!relaxes(exceptionOf(workload), RelaxableControl.runAsRoot)) {
    checkNonRoot(workload, ref, say);
  }
}

/** Pod Security Standards, restricted: what the platform namespace enforces. */
export const pssRestricted: ResourceValidationPolicy = {
  name: "pss-restricted",
  description:
    "Pod Security Standards restricted: only configMap, csi, downwardAPI, emptyDir, ephemeral, " +
    "persistentVolumeClaim, projected and secret volumes; no privilege escalation; non-root; " +
    "seccomp RuntimeDefault or Localhost; all capabilities dropped, at most NET_BIND_SERVICE added.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Use podSecurityContext() and containerSecurityContext() from components/lib/security.ts; " +
    "exceptions are named in policy/model/security-exceptions.ts, never skipped here.",
  validateResource: validateWorkload((workload, report) => {
    const say = reportFor(report, exceptionOf(workload));
    checkVolumes(workload, say);
    if (!relaxes(exceptionOf(workload), RelaxableControl.runAsRoot)) checkPodUser(workload, say);
    for (const ref of containersOf(workload)) checkContainer(workload, ref, say);
  }),
};
