import type { StackValidationPolicy } from "@pulumi/policy";
import type { Ingress } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import { validateProdObjects } from "../lib/rule";

/** A TLS host entry covers the host itself or, as `*.example.com`, exactly one label below it. */
function covers(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith("*.")) return false;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot) === pattern.slice(1);
}

/** Sessions and API tokens cross the Ingress; in prod none of that travels in clear text. */
export const ingressTlsProd: StackValidationPolicy = {
  name: "ingress-tls-prod",
  description: "In prod, every host an Ingress serves is listed in its spec.tls.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Add a spec.tls entry naming the host and the Secret holding its certificate (config's " +
    "ingress TLS settings).",
  validateStack: validateProdObjects((object, report) => {
    if (object.kind !== "Ingress") return;
    const spec = view<Ingress>(object).spec;
    const tls = asArray(spec?.tls);
    const tlsHosts = tls.flatMap((entry) => asArray(entry.hosts));
    asArray(spec?.rules).forEach((rule, index) => {
      const field = `spec.rules[${index}].host`;
      if (rule.host === undefined) {
        if (tls.length === 0) {
          report(`rule ${index} serves every host without TLS (${field}); set a host and spec.tls`);
        }
        return;
      }
      const host = rule.host;
      if (tlsHosts.some((pattern) => covers(pattern, host))) return;
      report(
        `host ${host} has no TLS (${field}); add it to spec.tls[].hosts with a certificate Secret`,
      );
    });
  }),
};
