import type { StackValidationPolicy } from "@pulumi/policy";
import type { KubeObject, PersistentVolumeClaim, Service, StatefulSet } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import type { RuleConfig, StackReport } from "../lib/rule";
import { validateKubeStack } from "../lib/rule";
import type { StackIndex } from "../lib/stack";

/** K3s's own StorageClass, which exists without the stack creating it. */
export const K3S_STORAGE_CLASS = "local-path";

function checkServiceName(stack: StackIndex, sts: KubeObject, report: StackReport): void {
  const serviceName = view<StatefulSet>(sts).spec?.serviceName;
  if (serviceName === undefined || serviceName === "") return;
  const lookup = stack.find("Service", sts.namespace, serviceName);
  if (lookup === "unknown") return;
  if (lookup === "missing") {
    report(
      sts,
      `names governing Service ${serviceName}, which is not in the stack (spec.serviceName); ` +
        `create a headless Service (clusterIP: None) with that name`,
    );
    return;
  }
  const clusterIP = view<Service>(lookup.found).spec?.clusterIP;
  if (clusterIP === undefined || clusterIP === "None") return;
  report(
    sts,
    `names ${lookup.found.id} as its governing Service (spec.serviceName), but it is not ` +
      `headless; set clusterIP: None on it, or point serviceName at the headless Service`,
  );
}

/** Every named storageClassName with its field path. */
function storageClassesOf(object: KubeObject): { name: string; field: string }[] {
  if (object.kind === "PersistentVolumeClaim") {
    const name = view<PersistentVolumeClaim>(object).spec?.storageClassName;
    return name ? [{ name, field: "spec.storageClassName" }] : [];
  }
  if (object.kind !== "StatefulSet") return [];
  return asArray(view<StatefulSet>(object).spec?.volumeClaimTemplates).flatMap((template, i) => {
    const name = template.spec?.storageClassName;
    return name ? [{ name, field: `spec.volumeClaimTemplates[${i}].spec.storageClassName` }] : [];
  });
}

/** The StorageClass names a claim may use: the configured one, else K3s's and the stack's own. */
function allowedClasses(stack: StackIndex, configured: string | undefined): Set<string> {
  if (configured !== undefined) return new Set([configured]);
  const own = stack.ofKind("StorageClass").flatMap((object) => object.name ?? []);
  return new Set([K3S_STORAGE_CLASS, ...own]);
}

/** A StatefulSet needs its headless Service for stable DNS; a wrong class leaves PVCs Pending. */
export const storageRefs: StackValidationPolicy = {
  name: "storage-refs",
  description:
    "A StatefulSet's serviceName is a headless Service in the stack; a named storageClassName " +
    "is the configured StorageClass (default: K3s's local-path or one the stack creates).",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      storageClassName: { type: "string", description: "The StorageClass config selects." },
    },
  },
  remediationSteps:
    "Create the headless Service with the StatefulSet and pass the configured storage class " +
    "to every claim (or leave storageClassName unset for the cluster default).",
  validateStack: validateKubeStack((stack, report, args) => {
    const allowed = allowedClasses(stack, args.getConfig<RuleConfig>().storageClassName);
    for (const sts of stack.ofKind("StatefulSet")) checkServiceName(stack, sts, report);
    for (const object of stack.objects) {
      for (const { name, field } of storageClassesOf(object)) {
        if (allowed.has(name)) continue;
        report(
          object,
          `uses StorageClass ${name} (${field}), which is not the configured one ` +
            `(${[...allowed].join(" or ")}); use the configured storage class`,
        );
      }
    }
  }),
};
