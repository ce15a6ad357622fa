import type { StackValidationPolicy } from "@pulumi/policy";
import type { KubeObject, StatefulSet } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import type { Reference } from "../lib/references";
import { referencesOf } from "../lib/references";
import type { StackReport } from "../lib/rule";
import { validateKubeStack } from "../lib/rule";
import type { StackIndex } from "../lib/stack";
import type { Workload } from "../lib/workloads";

/** Objects Kubernetes itself creates in every namespace. */
const BUILT_IN: Readonly<Record<Reference["kind"], readonly string[]>> = {
  ServiceAccount: ["default"],
  ConfigMap: ["kube-root-ca.crt"],
  Secret: [],
  PersistentVolumeClaim: [],
};

/** Keys of a Secret or ConfigMap; undefined when the data is unknown or redacted as a whole. */
function keysOf(object: KubeObject): Set<string> | undefined {
  const sections = object.kind === "Secret" ? ["data", "stringData"] : ["data", "binaryData"];
  const keys = new Set<string>();
  for (const section of sections) {
    const value = object.body[section];
    if (value === undefined) continue;
    if (typeof value !== "object" || value === null) return undefined;
    for (const key of Object.keys(value)) keys.add(key);
  }
  return keys;
}

/** True when a StatefulSet's volumeClaimTemplate creates the claim (`<template>-<sts>-<n>`). */
function claimFromTemplate(
  stack: StackIndex,
  namespace: string | undefined,
  claim: string,
): boolean {
  return stack.ofKind("StatefulSet").some((sts) => {
    if (namespace !== undefined && sts.namespace !== undefined && sts.namespace !== namespace) {
      return false;
    }
    return asArray(view<StatefulSet>(sts).spec?.volumeClaimTemplates).some((template) => {
      const prefix = `${template.metadata?.name}-${sts.name}-`;
      return claim.startsWith(prefix) && /^\d+$/.test(claim.slice(prefix.length));
    });
  });
}

function checkReference(
  stack: StackIndex,
  workload: Workload,
  reference: Reference,
  report: StackReport,
): void {
  const { kind, name, key, field } = reference;
  if (name === undefined || reference.optional || BUILT_IN[kind].includes(name)) return;
  const namespace = workload.object.namespace;
  const lookup = stack.find(kind, namespace, name);
  if (lookup === "unknown") return;
  if (lookup === "missing") {
    if (kind === "PersistentVolumeClaim" && claimFromTemplate(stack, namespace, name)) return;
    report(
      workload.object,
      `refers to ${kind} ${name}, which is not in the stack (${field}); create it or use the ` +
        `name the component's output gives`,
    );
    return;
  }
  if (key === undefined) return;
  const keys = keysOf(lookup.found);
  if (keys === undefined || keys.has(key)) return;
  report(
    workload.object,
    `uses key ${key} of ${lookup.found.id}, which has no such key (${field}); use one of ` +
      `${[...keys].join(", ") || "(none)"} or add the key`,
  );
}

/** A dangling reference leaves the pod in CreateContainerConfigError, found only at rollout. */
export const refsExist: StackValidationPolicy = {
  name: "refs-exist",
  description:
    "Every Secret and ConfigMap a pod template names in env, envFrom and volumes exists with " +
    "the key used; its serviceAccountName and PVC claimNames exist.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Wire with objects, not names: take env from the Secret helper's envValue(key) and mounts " +
    "from its mount(path), so the name and key come from the object that exists.",
  validateStack: validateKubeStack((stack, report) => {
    for (const workload of stack.workloads) {
      for (const reference of referencesOf(workload)) {
        checkReference(stack, workload, reference, report);
      }
    }
  }),
};
