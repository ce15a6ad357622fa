import type { KubeObject, Labels, Service, ServicePort } from "./k8s";
import { asArray, formatLabels, view } from "./k8s";
import { both, mapSelects, sameNamespace } from "./selectors";
import type { StackIndex } from "./stack";
import type { ContainerRef, Workload } from "./workloads";
import { runningContainersOf } from "./workloads";

/** A workload a Service may select: `certain` false when that depends on unknown values. */
export interface Selected {
  workload: Workload;
  certain: boolean;
}

/** The Service's selector, or undefined when it selects no pods by label (ExternalName, manual). */
export function serviceSelector(service: KubeObject): Labels | undefined {
  const spec = view<Service>(service).spec;
  if (spec?.type === "ExternalName") return undefined;
  const selector = spec?.selector;
  return selector !== undefined && Object.keys(selector).length > 0 ? selector : undefined;
}

/** The workloads whose pod templates the Service selects, or may select. */
export function selectedBy(stack: StackIndex, service: KubeObject, selector: Labels): Selected[] {
  return stack.workloads.flatMap((workload) => {
    const match = both(
      sameNamespace(service.namespace, workload.object.namespace),
      mapSelects(selector, workload.labels),
    );
    return match === false ? [] : [{ workload, certain: match === true }];
  });
}

/** The Service port's target: `targetPort`, defaulting to `port`. */
export function targetOf(port: ServicePort): number | string | undefined {
  return port.targetPort ?? port.port;
}

/**
 * The containers of the workload that declare the target port (by number and protocol, or by
 * name); undefined when a port it would compare is unknown.
 */
export function containersServing(
  workload: Workload,
  port: ServicePort,
): ContainerRef[] | undefined {
  const target = targetOf(port);
  if (target === undefined) return undefined;
  const protocol = port.protocol ?? "TCP";
  let unknown = false;
  const serving = runningContainersOf(workload).filter((ref) =>
    asArray(ref.container.ports).some((declared) => {
      const value = typeof target === "number" ? declared.containerPort : declared.name;
      if (value === undefined) unknown = true;
      return value === target && (declared.protocol ?? "TCP") === protocol;
    }),
  );
  return serving.length === 0 && unknown ? undefined : serving;
}

/**
 * For a selector that matches nothing: the same-namespace workload sharing most of its labels
 * and what differs, e.g. ` (closest: Deployment/platform/web has app.kubernetes.io/name=webb)`.
 */
export function closestHint(stack: StackIndex, object: KubeObject, selector: Labels): string {
  let best: { workload: Workload; shared: number } | undefined;
  for (const workload of stack.workloads) {
    if (sameNamespace(object.namespace, workload.object.namespace) === false) continue;
    const shared = Object.entries(selector).filter(
      ([key, value]) => workload.labels[key] === value,
    ).length;
    if (shared > 0 && (best === undefined || shared > best.shared)) best = { workload, shared };
  }
  if (best === undefined) return "";
  const labels = best.workload.labels;
  const differing = Object.fromEntries(
    Object.keys(selector)
      .filter((key) => labels[key] !== selector[key])
      .map((key) => [key, labels[key] ?? "(absent)"]),
  );
  return ` (closest: ${best.workload.object.id} has ${formatLabels(differing)})`;
}
