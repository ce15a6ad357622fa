import type { ResourceValidationPolicy } from "@pulumi/policy";
import { EXPOSE_ANNOTATION, EXPOSE_ANNOTATION_VALUE } from "../model/security-exceptions";
import type { Service } from "../lib/k8s";
import { view } from "../lib/k8s";
import { validateKube } from "../lib/rule";

const NODE_EXPOSING_TYPES = new Set(["LoadBalancer", "NodePort"]);

/** A LoadBalancer or NodePort opens a port on every K3s node (ServiceLB): config must ask. */
export const svcType: ResourceValidationPolicy = {
  name: "svc-type",
  description:
    `Services are LoadBalancer or NodePort only when they carry the annotation ` +
    `${EXPOSE_ANNOTATION}: "${EXPOSE_ANNOTATION_VALUE}", which config sets when it asks for one.`,
  enforcementLevel: "mandatory",
  remediationSteps:
    "Use ClusterIP behind the Traefik Ingress; expose a Service on the nodes only through config, " +
    `which sets the ${EXPOSE_ANNOTATION} annotation.`,
  validateResource: validateKube((object, report) => {
    if (object.kind !== "Service") return;
    const type = view<Service>(object).spec?.type;
    if (type === undefined || !NODE_EXPOSING_TYPES.has(type)) return;
    if (object.metadata.annotations?.[EXPOSE_ANNOTATION] === EXPOSE_ANNOTATION_VALUE) return;
    report(
      `is a ${type} Service without the ${EXPOSE_ANNOTATION}: "${EXPOSE_ANNOTATION_VALUE}" ` +
        `annotation (spec.type); use ClusterIP behind the Ingress, or expose it through config`,
    );
  }),
};
