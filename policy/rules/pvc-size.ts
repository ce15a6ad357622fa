import type { ResourceValidationPolicy } from "@pulumi/policy";
import type { PersistentVolumeClaim, PersistentVolumeClaimSpec, StatefulSet } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import type { Report } from "../lib/rule";
import { validateKube } from "../lib/rule";

function checkClaim(spec: PersistentVolumeClaimSpec | undefined, field: string, say: Report): void {
  const storage = spec?.resources?.requests?.storage;
  if (storage !== undefined && storage !== "") return;
  say(`requests no storage (${field}.resources.requests.storage); set a size such as 10Gi`);
}

/** local-path ignores sizes, but the volume's size is what a move to another StorageClass keeps. */
export const pvcSize: ResourceValidationPolicy = {
  name: "pvc-size",
  description:
    "Every StatefulSet volumeClaimTemplate and every PersistentVolumeClaim requests storage.",
  enforcementLevel: "mandatory",
  remediationSteps: "Set spec.resources.requests.storage from the component's storage size arg.",
  validateResource: validateKube((object, report) => {
    if (object.kind === "PersistentVolumeClaim") {
      checkClaim(view<PersistentVolumeClaim>(object).spec, "spec", report);
      return;
    }
    if (object.kind !== "StatefulSet") return;
    asArray(view<StatefulSet>(object).spec?.volumeClaimTemplates).forEach((template, index) => {
      const name = template.metadata?.name ?? String(index);
      checkClaim(template.spec, `spec.volumeClaimTemplates[${index}].spec`, (detail) =>
        report(`volumeClaimTemplate "${name}" ${detail}`),
      );
    });
  }),
};
