import type { ResourceValidationPolicy } from "@pulumi/policy";
import { literalCredential, looksLikeCredential } from "../lib/credentials";
import type { ConfigMap, KubeObject } from "../lib/k8s";
import { asArray, asRecord, view } from "../lib/k8s";
import type { Report } from "../lib/rule";
import { validateKube } from "../lib/rule";
import type { Workload } from "../lib/workloads";
import { containersOf, workloadOf } from "../lib/workloads";

function checkEnv(workload: Workload, report: Report): void {
  for (const ref of containersOf(workload)) {
    asArray(ref.container.env).forEach((variable, index) => {
      const { name, value } = variable;
      if (name === undefined || typeof value !== "string") return;
      const why = literalCredential(name, value);
      if (why === undefined) return;
      report(
        `${ref.label} sets ${name} to ${why} (${ref.path}.env[${index}].value); take it from a ` +
          `Secret with valueFrom.secretKeyRef`,
      );
    });
  }
}

function checkConfigMap(object: KubeObject, report: Report): void {
  const configMap = view<ConfigMap>(object);
  for (const section of ["data", "binaryData"] as const) {
    for (const [key, value] of Object.entries(asRecord(configMap[section]))) {
      const field = `${section}["${key}"]`;
      if (looksLikeCredential(key)) {
        report(
          `key ${key} looks like a credential (${field}); move it to a Secret and mount or ` +
            `reference that instead`,
        );
      } else if (typeof value === "string" && section === "data") {
        const why = literalCredential("", value);
        if (why !== undefined) {
          report(`key ${key} holds ${why} (${field}); move the credential to a Secret`);
        }
      }
    }
  }
}

/** Credentials travel in Secrets only: a literal in a pod spec or ConfigMap is readable by all. */
export const secretLiteral: ResourceValidationPolicy = {
  name: "secret-literal",
  description:
    "No env value whose name looks like a credential (PASSWORD, SECRET, TOKEN, KEY, DSN) or " +
    "that holds a URL with a password or a redacted secret; no such key or value in a ConfigMap.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Put the value in a Secret and reference it with env valueFrom.secretKeyRef (the Secret " +
    "helpers' envValue(key)), or mount the Secret.",
  validateResource: validateKube((object, report) => {
    if (object.kind === "ConfigMap") {
      checkConfigMap(object, report);
      return;
    }
    const workload = workloadOf(object);
    if (workload !== undefined) checkEnv(workload, report);
  }),
};
