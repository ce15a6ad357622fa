import type * as k8s from "@pulumi/kubernetes";
import { PLATFORM_OBJECT_LABELS } from "./access";
import { DEPLOY_TARGET_DEFAULTS } from "./args";

/*
 * The admission fence of the deploy targets, as pure data: two ValidatingAdmissionPolicies (one
 * for Ingresses, one for Services) and their bindings, scoped by a label to the target
 * namespaces. RBAC says which kinds the worker may write; Pod Security and the LimitRange judge
 * pods; the quota counts. None of them looks at an Ingress's hosts or a Service's type, and those
 * are how a user's service reaches beyond its namespace: this fence is where they are judged.
 *
 * It binds to the namespaces, not to the worker's identity: whoever writes there (an admin with
 * kubectl included) gets the same answer, so a user service is valid or not wherever it came from.
 */

/** What the fence is made of: whose targets it guards, and the hosts it allows and refuses. */
export interface FenceSettings {
  /** The platform namespace: the targets' label value, and the prefix of the policies' names. */
  platformNamespace: string;
  /** Users' hosts are under it: `svc.<appsDomain>`. */
  appsDomain: string;
  /** Hosts no user Ingress may use, whatever the apps domain. */
  platformHosts: readonly string[];
}

/** A policy and its binding, as provider args. */
export interface FencePolicy {
  name: string;
  policy: k8s.admissionregistration.v1.ValidatingAdmissionPolicyArgs;
  binding: k8s.admissionregistration.v1.ValidatingAdmissionPolicyBindingArgs;
}

/** The label a target Namespace carries so the fence's bindings select it. */
export function fenceNamespaceLabels(platformNamespace: string): Record<string, string> {
  return { [DEPLOY_TARGET_DEFAULTS.targetLabel]: platformNamespace };
}

/** A CEL string or list literal: JSON's quoting is CEL's for DNS names. */
const cel = (value: string | readonly string[]): string => JSON.stringify(value);

/**
 * CEL: the host `h` is under the apps domain and not a wildcard. The apex itself is refused: it
 * belongs to no one service (every target's services share the domain), and a wildcard would
 * claim every other service's future name.
 */
function underAppsDomain(settings: FenceSettings, h: string): string {
  return `(${h}.endsWith(${cel(`.${settings.appsDomain}`)}) && !${h}.startsWith("*"))`;
}

type Validation = k8s.types.input.admissionregistration.v1.Validation;
type Variable = k8s.types.input.admissionregistration.v1.Variable;

/** The Ingress policy's variables: its rules' hosts, the platform's, and the offending ones. */
function ingressVariables(settings: FenceSettings): Variable[] {
  const fenced = underAppsDomain(settings, "h");
  return [
    { name: "platformHosts", expression: cel(settings.platformHosts) },
    {
      name: "ruleHosts",
      expression: `has(object.spec.rules) ? object.spec.rules.map(r, has(r.host) ? r.host : "") : []`,
    },
    {
      name: "claimed",
      expression: "variables.ruleHosts.filter(h, h in variables.platformHosts)",
    },
    {
      name: "outside",
      expression: `variables.ruleHosts.filter(h, h != "" && !(h in variables.platformHosts) && !${fenced})`,
    },
  ];
}

/** The Ingress rules: every host named, fenced, never the platform's; no catch-all backend. */
function ingressValidations(settings: FenceSettings): Validation[] {
  const fence = `*.${settings.appsDomain}`;
  return [
    {
      expression: "!has(object.spec.defaultBackend)",
      reason: "Forbidden",
      message:
        `an Ingress in a deploy target must not set spec.defaultBackend: it serves every ` +
        `request no other rule matches, on any host, platform hosts included; give each rule ` +
        `a host under ${fence}`,
    },
    {
      // A rule without a host matches every host: with a longer path it outranks the platform's
      // own rule for that path in Traefik, which orders routers by rule length.
      expression: `variables.ruleHosts.all(h, h != "")`,
      reason: "Forbidden",
      message: `every rule of an Ingress in a deploy target must name a host under ${fence}`,
    },
    {
      expression: "size(variables.claimed) == 0",
      reason: "Forbidden",
      messageExpression:
        `"Ingress host " + variables.claimed.join(", ") + ` +
        `" is a platform host: users' services may only use hosts under ${fence}"`,
    },
    {
      expression: "size(variables.outside) == 0",
      reason: "Forbidden",
      messageExpression:
        `"Ingress host " + variables.outside.join(", ") + ` +
        `" is outside the apps fence: a user's service may only use a host under ${fence} ` +
        `(neither a wildcard nor ${settings.appsDomain} itself)"`,
    },
    {
      // Traefik picks a certificate by SNI from every Ingress's TLS Secrets: a TLS entry for a
      // platform host would offer the user's certificate for it.
      expression:
        `!has(object.spec.tls) || object.spec.tls.all(t, !has(t.hosts) || t.hosts.all(h, ` +
        `${underAppsDomain(settings, "h")} && !(h in variables.platformHosts)))`,
      reason: "Forbidden",
      message:
        `every spec.tls host of an Ingress in a deploy target must be under ${fence} ` +
        `(neither a wildcard, ${settings.appsDomain} itself, nor a platform host)`,
    },
  ];
}

/** The Service rules: no DNS alias out of the namespace, no claim on an arbitrary address. */
function serviceValidations(): Validation[] {
  return [
    {
      // An alias is only a name, so "not into the platform" cannot be checked: it may name a
      // platform Service (`postgres.<ns>.svc.cluster.local`) or any name that resolves there,
      // and an Ingress backed by it makes Traefik proxy there. A user service routes to its own
      // pods by selector; nothing it needs takes an alias.
      expression: `!has(object.spec.type) || object.spec.type != "ExternalName"`,
      reason: "Forbidden",
      messageExpression:
        `"a Service in a deploy target must not be of type ExternalName (this one aliases " + ` +
        `(has(object.spec.externalName) ? object.spec.externalName : "nothing") + "): an ` +
        `alias can lead anywhere, the platform's own Services included; select your pods instead"`,
    },
    {
      // CVE-2020-8554: kube-proxy routes a Service's externalIPs for every pod of the cluster,
      // so one with another host's address intercepts the cluster's traffic to it. The quota
      // already holds NodePorts and LoadBalancers at 0; this is the remaining way out.
      expression: "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
      reason: "Forbidden",
      message:
        "a Service in a deploy target must not set spec.externalIPs: the cluster would route " +
        "every pod's traffic for those addresses to it (CVE-2020-8554); users' services are " +
        "reached through an Ingress",
    },
  ];
}

/** One policy on one resource of one group, bound with Deny to the fenced namespaces. */
function fencePolicy(
  settings: FenceSettings,
  suffix: string,
  rule: { apiGroup: string; resource: string },
  spec: Pick<
    k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicySpec,
    "variables" | "validations"
  >,
): FencePolicy {
  const name = `${settings.platformNamespace}-deploy-target-${suffix}`;
  const metadata = { name, labels: { ...PLATFORM_OBJECT_LABELS } };
  return {
    name,
    policy: {
      metadata,
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: [rule.apiGroup],
              apiVersions: ["*"],
              operations: ["CREATE", "UPDATE"],
              resources: [rule.resource],
            },
          ],
        },
        ...spec,
      },
    },
    binding: {
      metadata,
      spec: {
        policyName: name,
        validationActions: ["Deny"],
        matchResources: {
          namespaceSelector: { matchLabels: fenceNamespaceLabels(settings.platformNamespace) },
        },
      },
    },
  };
}

/**
 * The fence of the deploy targets: an Ingress policy (hosts under the apps domain, never a
 * platform host, no catch-all) and a Service policy (no ExternalName, no externalIPs).
 */
export function deployTargetFence(settings: FenceSettings): FencePolicy[] {
  return [
    fencePolicy(
      settings,
      "ingress-hosts",
      { apiGroup: "networking.k8s.io", resource: "ingresses" },
      {
        variables: ingressVariables(settings),
        validations: ingressValidations(settings),
      },
    ),
    fencePolicy(
      settings,
      "services",
      { apiGroup: "", resource: "services" },
      { validations: serviceValidations() },
    ),
  ];
}
