import type { StackValidationPolicy } from "@pulumi/policy";
import * as ports from "../model/port-set";
import type { Endpoint } from "../model/reachability";
import type { Ingress, KubeObject, Service } from "../lib/k8s";
import { asArray, view } from "../lib/k8s";
import {
  connectionsInto,
  describeEndpoint,
  matrixOf,
  objectOf,
  plays,
  ROLES,
  type Role,
} from "../lib/invariants";
import { validateKubeStack } from "../lib/rule";
import { mapSelects } from "../lib/selectors";
import type { StackIndex } from "../lib/stack";

/** What the platform serves through the ingress controller, and nothing else. */
const SERVABLE: readonly Role[] = [ROLES.web, ROLES.grafana, ROLES.temporalUi];

/** `[service name, port number or name]` of every backend of the Ingress. */
function backendsOf(ingress: KubeObject): [string, number | string | undefined][] {
  const spec = view<Ingress>(ingress).spec;
  const backends = [
    spec?.defaultBackend,
    ...asArray(spec?.rules).flatMap((rule) =>
      asArray(rule.http?.paths).map((path) => path.backend),
    ),
  ];
  return backends.flatMap((backend) => {
    const name = backend?.service?.name;
    const port = backend?.service?.port;
    return name === undefined ? [] : [[name, port?.number ?? port?.name]];
  });
}

/** The container port a Service port targets on this endpoint, if it declares it. */
function targetPortOn(endpoint: Endpoint, target: number | string): ports.PortSet {
  const declared = endpoint.containerPorts.find((port) =>
    typeof target === "number" ? port.port === target : port.name === target,
  );
  if (declared !== undefined) return ports.portRange(declared.protocol, declared.port);
  return typeof target === "number" ? ports.portRange("TCP", target) : ports.NO_PORTS;
}

/**
 * The ports the render serves on each endpoint: Ingress → Service (same namespace) → the pods it
 * selects, on the container port its `targetPort` names.
 */
function servedPorts(stack: StackIndex, endpoints: Endpoint[]): Map<string, ports.PortSet> {
  const served = new Map<string, ports.PortSet>();
  for (const ingress of stack.ofKind("Ingress")) {
    for (const [name, port] of backendsOf(ingress)) {
      const lookup = stack.find("Service", ingress.namespace, name);
      if (typeof lookup === "string") continue;
      const spec = view<Service>(lookup.found).spec;
      const selector = spec?.selector;
      if (selector === undefined) continue;
      const servicePort = asArray(spec?.ports).find((p) =>
        typeof port === "number" ? p.port === port : port === undefined || p.name === port,
      );
      const target = servicePort?.targetPort ?? servicePort?.port;
      if (target === undefined) continue;
      for (const endpoint of endpoints) {
        if (endpoint.namespace !== lookup.found.namespace) continue;
        if (mapSelects(selector, endpoint.labels) !== true) continue;
        const set = targetPortOn(endpoint, target);
        served.set(endpoint.id, ports.union(served.get(endpoint.id) ?? [], set));
      }
    }
  }
  return served;
}

/**
 * Whole-stack rule `ingress-serves-only`: the ingress controller (K3s's Traefik) reaches only
 * what the platform serves (web, Grafana, the Temporal UI), and only where an Ingress of the
 * render routes to it (Ingress → Service → pods, on the target port). Judged on the rendered
 * NetworkPolicies, never on the wiring table.
 */
export const ingressServesOnly: StackValidationPolicy = {
  name: "ingress-serves-only",
  description:
    "The ingress controller reaches only web, Grafana and the Temporal UI, and only on the " +
    "ports an Ingress of the stack routes to.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Remove the ingress-controller edge from the wiring table (platform/wiring.ts); a console " +
    "without an Ingress is reached with kubectl port-forward.",
  validateStack: validateKubeStack((stack, report, args) => {
    const matrix = matrixOf(stack, args);
    const served = servedPorts(stack, matrix.endpoints);
    const fromIngress = connectionsInto(matrix, (to) => to.kind === "workload").filter(
      ({ from }) => from.kind === "ingress-controller",
    );
    for (const { to, entry } of fromIngress) {
      const holder = objectOf(stack, to);
      if (holder === undefined) continue;
      if (!SERVABLE.some((role) => plays(to, role))) {
        report(
          holder,
          `the ingress controller may reach ${describeEndpoint(to)}` +
            `${ports.describePorts(entry.ports).join(",")}, which the platform does not serve ` +
            "(only web, Grafana and the Temporal UI); remove the edge",
        );
        continue;
      }
      const extra = ports.subtract(entry.ports, served.get(to.id) ?? ports.NO_PORTS);
      for (const text of ports.describePorts(extra)) {
        report(
          holder,
          `the ingress controller may reach it${text}, but no Ingress of the stack routes there; ` +
            "remove the edge, or serve the port through an Ingress",
        );
      }
    }
  }),
};
