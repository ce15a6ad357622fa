import type { StackValidationPolicy } from "@pulumi/policy";
import type { KubeObject, Labels, Service } from "../lib/k8s";
import { asArray, formatLabels, view } from "../lib/k8s";
import type { StackReport } from "../lib/rule";
import { validateKubeStack } from "../lib/rule";
import type { Selected } from "../lib/services";
import {
  closestHint,
  containersServing,
  selectedBy,
  serviceSelector,
  targetOf,
} from "../lib/services";
import type { StackIndex } from "../lib/stack";
import { componentOf } from "../lib/workloads";
import { RUNTIME_POD_LABELS } from "../model/security-exceptions";

function checkPorts(service: KubeObject, selected: Selected[], report: StackReport): void {
  asArray(view<Service>(service).spec?.ports).forEach((port, index) => {
    const target = targetOf(port);
    const what = typeof target === "number" ? "port" : "named port";
    for (const { workload, certain } of selected) {
      if (!certain) continue;
      const serving = containersServing(workload, port);
      if (serving === undefined || serving.length > 0) continue;
      report(
        service,
        `port ${port.name ?? port.port} targets ${what} ${target}/${port.protocol ?? "TCP"} ` +
          `(spec.ports[${index}].targetPort), which no ` +
          `container of ${workload.object.id} declares; point targetPort at a declared ` +
          `containerPort or its name`,
      );
    }
  });
}

function checkService(
  stack: StackIndex,
  service: KubeObject,
  selector: Labels,
  report: StackReport,
): void {
  const selected = selectedBy(stack, service, selector);
  if (selected.length === 0) {
    const byRuntimeLabel = selectedByRuntimeLabel(stack, service, selector);
    if (byRuntimeLabel.length > 0) {
      checkPorts(service, byRuntimeLabel, report);
      return;
    }
    report(
      service,
      `selects no pod template (spec.selector: ${formatLabels(selector)})` +
        `${closestHint(stack, service, selector)}; derive the selector and the pod labels from ` +
        `the same identity (selectorFor in policy/model/labels.ts)`,
    );
    return;
  }
  checkPorts(service, selected, report);
}

/**
 * The templates the selector picks once the labels their own process sets at run time
 * ({@link RUNTIME_POD_LABELS}) are left out, among the templates of the components that set them.
 */
function selectedByRuntimeLabel(stack: StackIndex, service: KubeObject, selector: Labels) {
  const runtime = RUNTIME_POD_LABELS.filter((entry) => entry.label in selector);
  if (runtime.length === 0) return [];
  const rest = Object.fromEntries(
    Object.entries(selector).filter(([key]) => !runtime.some((entry) => entry.label === key)),
  );
  return selectedBy(stack, service, rest).filter(({ workload }) =>
    runtime.every((entry) => entry.component === componentOf(workload)),
  );
}

/** A Service that selects nothing, or the wrong port, fails only at request time: catch it here. */
export const svcSelectsPods: StackValidationPolicy = {
  name: "svc-selects-pods",
  description:
    "Every Service selector matches a pod template's labels in its namespace, and each " +
    "targetPort (number or name) is a port declared by a container of every selected template.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Build Service selectors with selectorFor(identity) and target the container port by name.",
  validateStack: validateKubeStack((stack, report) => {
    for (const service of stack.ofKind("Service")) {
      const selector = serviceSelector(service);
      if (selector !== undefined) checkService(stack, service, selector, report);
    }
  }),
};
