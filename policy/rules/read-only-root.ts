import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isAllowed, WRITABLE_ROOT_FILESYSTEMS } from "../model/security-exceptions";
import { validateWorkload } from "../lib/rule";
import { componentOf, containersOf } from "../lib/workloads";

/** A read-only root keeps an intruder from changing the image's binaries and config. */
export const readOnlyRoot: ResourceValidationPolicy = {
  name: "read-only-root",
  description:
    "Every container mounts its root filesystem read-only, unless its component is listed " +
    "with a reason in policy/model/security-exceptions.ts (WRITABLE_ROOT_FILESYSTEMS).",
  enforcementLevel: "advisory",
  remediationSteps:
    "Set readOnlyRootFilesystem: true and mount an emptyDir at each path the image writes to.",
  validateResource: validateWorkload((workload, report) => {
    if (isAllowed(WRITABLE_ROOT_FILESYSTEMS, componentOf(workload))) return;
    for (const ref of containersOf(workload)) {
      if (ref.container.securityContext?.readOnlyRootFilesystem === true) continue;
      report(
        `${ref.label} has a writable root filesystem ` +
          `(${ref.path}.securityContext.readOnlyRootFilesystem); set readOnlyRootFilesystem: ` +
          `true and mount an emptyDir where it writes`,
      );
    }
  }),
};
