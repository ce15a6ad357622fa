import type { ResourceValidationPolicy } from "@pulumi/policy";
import { validateKube } from "../lib/rule";

/** `default` is shared with whatever else runs on the cluster and enforces no Pod Security. */
export const noDefaultNs: ResourceValidationPolicy = {
  name: "no-default-ns",
  description: "Nothing is created in the `default` namespace.",
  enforcementLevel: "mandatory",
  remediationSteps: "Set metadata.namespace to the platform's namespace (or a DeployTarget's).",
  validateResource: validateKube((object, report) => {
    // An absent namespace may still be an unknown output during preview, so only an explicit
    // `default` is reported.
    if (object.namespace !== "default") return;
    report(
      `is in the default namespace (metadata.namespace); set metadata.namespace to the ` +
        `platform namespace`,
    );
  }),
};
