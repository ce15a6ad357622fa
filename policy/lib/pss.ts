import { posix } from "node:path";
import type { HostPathGrant, SecurityException } from "../model/security-exceptions";
import { RelaxableControl, securityExceptionFor } from "../model/security-exceptions";
import type { Volume } from "./k8s";
import { asArray } from "./k8s";
import type { Report } from "./rule";
import type { Workload } from "./workloads";
import { containersOf } from "./workloads";

/*
 * What the Pod Security Standards rules share: the named exception of a workload and the host
 * path check, which the exception relaxes only for its own read-only paths.
 */

/** The exception naming this workload (kind, namespace and component together), if any. */
export function exceptionOf(workload: Workload): SecurityException | undefined {
  return securityExceptionFor({
    kind: workload.kind,
    namespace: workload.object.namespace,
    labels: workload.labels,
  });
}

/** True when the workload's exception relaxes that control. */
export function relaxes(
  exception: SecurityException | undefined,
  control: RelaxableControl,
): boolean {
  return exception?.relaxes.some((relaxation) => relaxation.control === control) ?? false;
}

/** A report that says, for an excepted workload, that its exception does not cover this. */
export function reportFor(report: Report, exception: SecurityException | undefined): Report {
  if (exception === undefined) return report;
  const relaxed = exception.relaxes.map((relaxation) => relaxation.control).join(", ");
  return (detail) =>
    report(`${detail} (exception "${exception.id}" relaxes only ${relaxed}, not this)`);
}

/**
 * The exception's grant that covers this path, if any: the longest prefix, so a writable grant
 * below a read-only one (or the reverse) decides for its own directory.
 */
function grantedHostPath(
  exception: SecurityException | undefined,
  path: string,
): HostPathGrant | undefined {
  if (!relaxes(exception, RelaxableControl.hostPathVolumes)) return undefined;
  const normalized = posix.normalize(path);
  return (exception?.hostPaths ?? [])
    .filter(
      (grant) => normalized === grant.pathPrefix || normalized.startsWith(`${grant.pathPrefix}/`),
    )
    .sort((a, b) => b.pathPrefix.length - a.pathPrefix.length)[0];
}

/**
 * Reports hostPath volumes, except the exception's own paths, and those only when every container
 * mounts them read-only, unless the grant itself is writable (with its reason).
 */
export function checkHostPaths(workload: Workload, report: Report): void {
  const exception = exceptionOf(workload);
  asArray(workload.spec.volumes).forEach((volume: Volume, index) => {
    const path = volume.hostPath?.path;
    if (volume.hostPath === undefined) return;
    const field = `${workload.path}.spec.volumes[${index}].hostPath`;
    if (path === undefined) return;
    const grant = grantedHostPath(exception, path);
    if (grant === undefined) {
      report(
        `volume "${volume.name}" mounts host path ${path} (${field}); use an emptyDir, ` +
          `configMap, secret or persistentVolumeClaim volume, or name the workload in ` +
          `policy/model/security-exceptions.ts`,
      );
      return;
    }
    if (!grant.readOnly) return;
    for (const ref of containersOf(workload)) {
      asArray(ref.container.volumeMounts).forEach((mount, mountIndex) => {
        if (mount.name !== volume.name || mount.readOnly === true) return;
        report(
          `${ref.label} mounts host path volume "${volume.name}" writable ` +
            `(${ref.path}.volumeMounts[${mountIndex}].readOnly); set readOnly: true`,
        );
      });
    }
  });
}

/** True when the exception admits this volume although restricted's volume types do not. */
export function exceptedVolume(workload: Workload, volume: Volume): boolean {
  const path = volume.hostPath?.path;
  return path !== undefined && grantedHostPath(exceptionOf(workload), path) !== undefined;
}
