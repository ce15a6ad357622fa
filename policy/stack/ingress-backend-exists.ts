import type { StackValidationPolicy } from "@pulumi/policy";
import type { Ingress, IngressBackend, KubeObject, Service } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import type { StackReport } from "../lib/rule";
import { validateKubeStack } from "../lib/rule";
import type { StackIndex } from "../lib/stack";

/** Every backend of the Ingress with its field path. */
function backendsOf(ingress: KubeObject): { backend: IngressBackend; field: string }[] {
  const spec = view<Ingress>(ingress).spec;
  const backends = spec?.defaultBackend
    ? [{ backend: spec.defaultBackend, field: "spec.defaultBackend" }]
    : [];
  asArray(spec?.rules).forEach((rule, ruleIndex) => {
    asArray(rule.http?.paths).forEach((path, pathIndex) => {
      if (path.backend === undefined) return;
      const field = `spec.rules[${ruleIndex}].http.paths[${pathIndex}].backend`;
      backends.push({ backend: path.backend, field });
    });
  });
  return backends;
}

function checkBackend(
  stack: StackIndex,
  ingress: KubeObject,
  { backend, field }: { backend: IngressBackend; field: string },
  report: StackReport,
): void {
  const name = backend.service?.name;
  if (name === undefined) return;
  const lookup = stack.find("Service", ingress.namespace, name);
  if (lookup === "missing") {
    report(
      ingress,
      `routes to Service ${name}, which is not in the stack (${field}.service.name); create it ` +
        `or route to the component's Service output`,
    );
    return;
  }
  if (lookup === "unknown") return;
  const { number, name: portName } = backend.service?.port ?? {};
  const ports = asArray(view<Service>(lookup.found).spec?.ports);
  const exposed =
    number !== undefined
      ? ports.some((port) => port.port === undefined || port.port === number)
      : portName === undefined ||
        ports.some((port) => port.name === undefined || port.name === portName);
  if (exposed) return;
  report(
    ingress,
    `routes to port ${number ?? portName} of ${lookup.found.id}, which does not expose it ` +
      `(${field}.service.port); use one of its spec.ports`,
  );
}

/** An Ingress pointing at a missing Service or port answers 404/503 and nothing else. */
export const ingressBackendExists: StackValidationPolicy = {
  name: "ingress-backend-exists",
  description:
    "Every Ingress backend Service exists in the Ingress's namespace and exposes the port " +
    "(number or name) the backend names.",
  enforcementLevel: "mandatory",
  remediationSteps: "Build the Ingress backend from the Service object's name and named port.",
  validateStack: validateKubeStack((stack, report) => {
    for (const ingress of stack.ofKind("Ingress")) {
      for (const backend of backendsOf(ingress)) checkBackend(stack, ingress, backend, report);
    }
  }),
};
