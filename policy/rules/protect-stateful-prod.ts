import type { StackValidationPolicy } from "@pulumi/policy";
import type { KubeObject, StatefulSet } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import { validateProdObjects } from "../lib/rule";

function holdsData(object: KubeObject): boolean {
  if (object.kind === "PersistentVolumeClaim") return true;
  return (
    object.kind === "StatefulSet" &&
    asArray(view<StatefulSet>(object).spec?.volumeClaimTemplates).length > 0
  );
}

/** A prod database must survive a mistaken `pulumi destroy` or a replacement of its StatefulSet. */
export const protectStatefulProd: StackValidationPolicy = {
  name: "protect-stateful-prod",
  description:
    "In prod, StatefulSets with volumeClaimTemplates and PersistentVolumeClaims have the " +
    "`protect` and `retainOnDelete` resource options.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Create the resource with { protect: true, retainOnDelete: true } when the stack is prod.",
  validateStack: validateProdObjects((object, report) => {
    if (!holdsData(object)) return;
    if (!object.protect) {
      report("holds data but is not protected (resource option protect); set protect: true");
    }
    // @pulumi/policy does not pass retainOnDelete to a real policy run: only the in-process run
    // can tell, and an unknown value is not a finding.
    if (object.retainOnDelete === false) {
      report(
        "holds data but would be deleted with the stack (resource option retainOnDelete); set " +
          "retainOnDelete: true",
      );
    }
  }),
};
