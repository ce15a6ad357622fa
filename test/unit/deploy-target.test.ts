import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { DeployTargetArgs } from "../../components/deploy-target";
import { selectorFor } from "../../policy/model/labels";
import { validateEdges } from "../../policy/model/network";
import {
  COMPONENT_LABEL,
  isAllowed,
  KUBERNETES_API_USERS,
  SECRET_READERS,
} from "../../policy/model/security-exceptions";
import { runPolicies, runPolicyPack } from "../../policy/run";
import { rbacLeast } from "../../policy/rules/rbac-least";
import type { RenderedResource } from "../../policy/model/render-model";
import { authorizeFromRbac, deployTargetAccessMatrix } from "../deploy-target-access";
import { registeredOfType, setupMocks, unwrap } from "../mocks";
import { optionRecorder, registeredUnder, type Recorded } from "./recorded";
import { APP_IMAGE, parsedStackConfig, stackConfigIssues } from "./stack-config";

const mocks = setupMocks();

const deployTarget = () => import("../../components/deploy-target");

const PLATFORM = "platform";
const TARGETS = ["platform-apps", "team-b"];
const RBAC_KINDS = ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

/** Creates a DeployTarget named `name` and returns what it registered. */
async function create(name: string, overrides: Partial<DeployTargetArgs> = {}) {
  const { DeployTarget } = await deployTarget();
  const component = new DeployTarget(name, {
    namespace: PLATFORM,
    instance: PLATFORM,
    targetNamespaces: TARGETS,
    ...overrides,
  });
  return { component, resources: await registeredUnder(mocks, name) };
}

const kindOf = (resource: Recorded) => resource.type.split(":").pop();
const ofKind = (resources: Recorded[], kind: string) =>
  resources.filter((resource) => kindOf(resource) === kind);
const inNamespace = (resources: Recorded[], kind: string, namespace: string) =>
  ofKind(resources, kind).filter((resource) => resource.inputs.metadata.namespace === namespace);

/** What the renderer would record of the component's Kubernetes objects, for the policy pack. */
function rendered(resources: Recorded[]): RenderedResource[] {
  return resources
    .filter((resource) => resource.type.startsWith("kubernetes:"))
    .map((resource) => ({
      urn: `urn:pulumi:test::k3s-platform::${resource.type}::${resource.name}`,
      type: resource.type,
      name: resource.name,
      custom: true,
      dependencies: [],
      protect: false,
      retainOnDelete: false,
      props: resource.inputs,
    }));
}

const EXPECTED_RULES = [
  {
    apiGroups: ["apps"],
    resources: ["deployments"],
    verbs: ["create", "get", "update", "patch", "delete"],
  },
  { apiGroups: ["apps"], resources: ["deployments"], verbs: ["list", "watch"] },
  {
    apiGroups: [""],
    resources: ["services", "configmaps", "secrets"],
    verbs: ["create", "get", "update", "patch", "delete"],
  },
  {
    apiGroups: ["networking.k8s.io"],
    resources: ["ingresses"],
    verbs: ["create", "get", "update", "patch", "delete"],
  },
  { apiGroups: ["apps"], resources: ["replicasets"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["pods", "events"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
];

describe("DeployTarget", () => {
  it("the worker can deploy, health-check and roll back in its target namespaces and nothing more", async () => {
    const { deployTargetRbac } = await deployTarget();
    expect(deployTargetRbac()).toEqual(EXPECTED_RULES);
    // Without rollout watching, only the list+watch rule on Deployments goes.
    expect(deployTargetRbac({ watchRollouts: false })).toEqual(
      EXPECTED_RULES.filter((_, index) => index !== 1),
    );

    const { component, resources } = await create("rights");
    for (const target of TARGETS) {
      const [role] = inNamespace(resources, "Role", target);
      expect(role.inputs.rules).toEqual(EXPECTED_RULES);
      const [binding] = inNamespace(resources, "RoleBinding", target);
      expect(binding.inputs.roleRef).toEqual({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: role.inputs.metadata.name,
      });
      expect(binding.inputs.subjects).toEqual([
        { kind: "ServiceAccount", name: "worker", namespace: PLATFORM },
      ]);
    }
    expect(ofKind(resources, "Role")).toHaveLength(TARGETS.length);
    expect(ofKind(resources, "RoleBinding")).toHaveLength(TARGETS.length);
    expect(await unwrap(component.serviceAccountName)).toBe("worker");
    expect(await unwrap(component.targetNamespaces)).toEqual(TARGETS);
    expect(await unwrap(component.roleNames)).toEqual(TARGETS.map((t) => `${t}/deploy-worker`));
  });

  it("answers the access matrix as promised (the control-plane tier asks the API server the same)", async () => {
    const { resources } = await create("matrix");
    const matrix = deployTargetAccessMatrix(PLATFORM, "worker", TARGETS);
    const objects = resources.map((resource) => ({ kind: kindOf(resource), ...resource.inputs }));
    const wrong = matrix.filter(
      (question) => authorizeFromRbac(objects, question) !== question.allowed,
    );
    expect(wrong).toEqual([]);
    expect(matrix.some((question) => question.allowed)).toBe(true);
  });

  it("no ClusterRole, no wildcard, no escalation verbs", async () => {
    const { resources } = await create("narrow");
    expect(ofKind(resources, "ClusterRole")).toEqual([]);
    expect(ofKind(resources, "ClusterRoleBinding")).toEqual([]);
    const rules = ofKind(resources, "Role").flatMap(
      (role) =>
        role.inputs.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[],
    );
    for (const rule of rules) {
      expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain("*");
      for (const verb of ["bind", "escalate", "impersonate", "deletecollection"]) {
        expect(rule.verbs).not.toContain(verb);
      }
      // Nothing that hands out more rights: RBAC objects, tokens, exec, or the namespace itself.
      expect(rule.apiGroups).not.toContain("rbac.authorization.k8s.io");
      for (const resource of [
        "serviceaccounts",
        "serviceaccounts/token",
        "pods/exec",
        "namespaces",
      ]) {
        expect(rule.resources).not.toContain(resource);
      }
    }
    // Secrets are read only by `get`, never listed or watched.
    const secretVerbs = rules
      .filter((rule) => rule.resources.includes("secrets"))
      .flatMap((r) => r.verbs);
    expect(secretVerbs).not.toContain("list");
    expect(secretVerbs).not.toContain("watch");
  });

  it("nothing is granted in the platform namespace", async () => {
    const { resources } = await create("platform-ns");
    for (const kind of RBAC_KINDS) expect(inNamespace(resources, kind, PLATFORM)).toEqual([]);
    // The only object there is the worker's ServiceAccount, which mounts no token unless the
    // worker's pod asks, and carries the component the token and Secret allowances are keyed by.
    const here = resources.filter((resource) => resource.inputs.metadata?.namespace === PLATFORM);
    expect(here.map(kindOf)).toEqual(["ServiceAccount"]);
    const [account] = here;
    expect(account.inputs.automountServiceAccountToken).toBe(false);
    const component = account.inputs.metadata.labels[COMPONENT_LABEL];
    expect(isAllowed(KUBERNETES_API_USERS, component)).toBe(true);
    expect(isAllowed(SECRET_READERS, component)).toBe(true);
    expect(account.inputs.metadata.labels).toMatchObject(
      selectorFor({ name: "worker", component: "worker", instance: PLATFORM }),
    );
  });

  it("every target namespace enforces Pod Security restricted", async () => {
    const { resources } = await create("pss");
    const namespaces = ofKind(resources, "Namespace");
    expect(namespaces.map((namespace) => namespace.inputs.metadata.name)).toEqual(TARGETS);
    for (const namespace of namespaces) {
      expect(namespace.inputs.metadata.labels).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
      });
    }
  });

  it("defaults to one target, <namespace>-apps, sized by the dev preset", async () => {
    const { component, resources } = await create("default-target", {
      targetNamespaces: undefined,
    });
    expect(await unwrap(component.targetNamespaces)).toEqual(["platform-apps"]);
    expect(ofKind(resources, "Namespace").map((n) => n.inputs.metadata.name)).toEqual([
      "platform-apps",
    ]);
    const { DEPLOY_TARGET_PRESETS, quotaHard } = await deployTarget();
    const [quota] = ofKind(resources, "ResourceQuota");
    expect(quota.inputs.spec.hard).toEqual(quotaHard(DEPLOY_TARGET_PRESETS.dev.quota));
    const [limits] = ofKind(resources, "LimitRange");
    expect(limits.inputs.spec.limits[0]).toMatchObject(DEPLOY_TARGET_PRESETS.dev.containerLimits);
  });

  it("hands the worker its account only with the bindings, so it never starts without rights", async () => {
    const { component } = await create("ready");
    // `allResources` is internal to the SDK's Output: the resources a consumer will depend on.
    const internal = component.serviceAccountName as unknown as {
      allResources(): Promise<Set<pulumi.Resource>>;
    };
    const types = await Promise.all(
      [...(await internal.allResources())].map((resource) => unwrap(resource.urn)),
    );
    const bindings = types.filter((urn) => urn.includes("RoleBinding"));
    expect(bindings).toHaveLength(TARGETS.length);
  });

  it("creates the ServiceAccount after the platform Namespace when given its output", async () => {
    const { resources } = await create("ordered", {
      namespaceRef: pulumi.output(PLATFORM),
      serviceAccountName: "deployer",
    });
    const [account] = ofKind(resources, "ServiceAccount");
    expect(account.inputs.metadata).toMatchObject({ name: "deployer", namespace: PLATFORM });
    const [binding] = ofKind(resources, "RoleBinding");
    expect(binding.inputs.subjects).toEqual([
      { kind: "ServiceAccount", name: "deployer", namespace: PLATFORM },
    ]);
  });

  it("user workloads cannot exceed the quota / cannot create LoadBalancers or NodePorts", async () => {
    const { DEPLOY_TARGET_PRESETS } = await deployTarget();
    for (const profile of ["dev", "prod"] as const) {
      const preset = DEPLOY_TARGET_PRESETS[profile];
      const { resources } = await create(`quota-${profile}`, {
        quota: preset.quota,
        containerLimits: preset.containerLimits,
      });
      for (const target of TARGETS) {
        const [quota] = inNamespace(resources, "ResourceQuota", target);
        expect(quota.inputs.spec.hard).toEqual({
          "requests.cpu": preset.quota.requestsCpu,
          "requests.memory": preset.quota.requestsMemory,
          "limits.cpu": preset.quota.limitsCpu,
          "limits.memory": preset.quota.limitsMemory,
          pods: String(preset.quota.pods),
          services: String(preset.quota.services),
          persistentvolumeclaims: "0",
          "services.loadbalancers": "0",
          "services.nodeports": "0",
        });
        // The LimitRange gives every container requests and limits, so the quota, which counts
        // limits.cpu and limits.memory, never refuses a pod just for leaving them out.
        const [limits] = inNamespace(resources, "LimitRange", target);
        expect(limits.inputs.spec.limits).toEqual([
          { type: "Container", ...preset.containerLimits },
        ]);
      }
    }
    expect(DEPLOY_TARGET_PRESETS.prod.quota.pods).toBeGreaterThan(
      DEPLOY_TARGET_PRESETS.dev.quota.pods,
    );
  });

  it("a quota smaller than the LimitRange default is refused, naming the key", async () => {
    const { DEPLOY_TARGET_PRESETS, deployTargetRules } = await deployTarget();
    const dev = DEPLOY_TARGET_PRESETS.dev;
    const rules = (sizing: Pick<DeployTargetArgs, "quota" | "containerLimits">) =>
      deployTargetRules({ namespace: PLATFORM, targetNamespaces: TARGETS, ...sizing });
    expect(rules(dev)).toEqual([]);
    expect(rules(DEPLOY_TARGET_PRESETS.prod)).toEqual([]);
    const small = { ...dev, quota: { ...dev.quota, limitsMemory: "256Mi" } };
    expect(rules(small)).toEqual([
      {
        propertyPath: "quota.limitsMemory",
        reason: expect.stringContaining(
          "must be at least containerLimits.default.memory (256Mi < 512Mi)",
        ),
      },
    ]);
    const unordered = {
      ...dev,
      containerLimits: { ...dev.containerLimits, max: { cpu: "2", memory: "256Mi" } },
    };
    expect(rules(unordered)).toEqual([
      {
        propertyPath: "containerLimits.max.memory",
        reason: expect.stringContaining(
          "(256Mi < 512Mi), or the API server refuses the LimitRange",
        ),
      },
    ]);
    const malformed = { ...dev, quota: { ...dev.quota, requestsCpu: "two" } };
    expect(rules(malformed)).toEqual([
      { propertyPath: "quota.requestsCpu", reason: expect.stringContaining('(got "two")') },
    ]);
    await expect(create("too-small", { quota: small.quota })).rejects.toThrow(
      /quota\.limitsMemory/,
    );
  });

  it("a count the quota cannot hold is refused, naming it", async () => {
    const { DEPLOY_TARGET_PRESETS, deployTargetRules } = await deployTarget();
    const dev = DEPLOY_TARGET_PRESETS.dev;
    const quota = { ...dev.quota, pods: 0, services: 1.5, persistentVolumeClaims: -1 };
    expect(deployTargetRules({ namespace: PLATFORM, quota })).toEqual([
      { propertyPath: "quota.pods", reason: "must be a whole number ≥ 1 (got 0)" },
      { propertyPath: "quota.services", reason: "must be a whole number ≥ 0 (got 1.5)" },
      {
        propertyPath: "quota.persistentVolumeClaims",
        reason: "must be a whole number ≥ 0 (got -1)",
      },
    ]);
  });

  it("a LimitRange default above its max, or a request above its default, is refused", async () => {
    const { DEPLOY_TARGET_PRESETS, deployTargetRules } = await deployTarget();
    const limits = DEPLOY_TARGET_PRESETS.dev.containerLimits;
    const containerLimits = {
      ...limits,
      defaultRequest: { cpu: "1", memory: limits.defaultRequest.memory },
    };
    expect(deployTargetRules({ namespace: PLATFORM, containerLimits })).toEqual([
      {
        propertyPath: "containerLimits.default.cpu",
        reason: expect.stringContaining(
          "must be at least containerLimits.defaultRequest.cpu (500m < 1), or the API server",
        ),
      },
    ]);
  });

  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const { DeployTarget, DEPLOY_TARGET_PRESETS } = await deployTarget();
    const quota = { ...DEPLOY_TARGET_PRESETS.dev.quota, limitsMemory: "256Mi" };
    let thrown: unknown;
    try {
      new DeployTarget("refused-all", {
        namespace: PLATFORM,
        targetNamespaces: ["kube-system"],
        quota,
      });
    } catch (error) {
      thrown = error;
    }
    expect(pulumi.InputPropertiesError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({
      errors: [
        expect.objectContaining({ propertyPath: "targetNamespaces.0" }),
        expect.objectContaining({ propertyPath: "quota.limitsMemory" }),
      ],
    });
    const children = await registeredUnder(mocks, "refused-all");
    expect(children.filter((resource) => resource.type.startsWith("kubernetes:"))).toEqual([]);
  });

  it("target namespaces deny by default and admit only the ingress controller and DNS", async () => {
    const { resources } = await create("netpol");
    for (const target of TARGETS) {
      const policies = inNamespace(resources, "NetworkPolicy", target);
      const byName = Object.fromEntries(
        policies.map((p) => [p.inputs.metadata.name, p.inputs.spec]),
      );
      expect(Object.keys(byName).sort()).toEqual([
        "allow-ingress-controller-and-dns",
        "default-deny",
      ]);
      expect(byName["default-deny"]).toEqual({
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
      });
      const ns = (name: string) => ({ matchLabels: { "kubernetes.io/metadata.name": name } });
      expect(byName["allow-ingress-controller-and-dns"]).toEqual({
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          {
            from: [
              {
                namespaceSelector: ns("kube-system"),
                podSelector: { matchLabels: { "app.kubernetes.io/name": "traefik" } },
              },
            ],
          },
        ],
        egress: [
          {
            to: [
              {
                namespaceSelector: ns("kube-system"),
                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
              },
            ],
            ports: [
              { port: 53, protocol: "UDP" },
              { port: 53, protocol: "TCP" },
            ],
          },
        ],
      });
    }
  });

  it("a target named like the platform namespace or kube-system is refused", async () => {
    const { deployTargetRules } = await deployTarget();
    const rules = (targetNamespaces: string[]) =>
      deployTargetRules({ namespace: PLATFORM, targetNamespaces });
    expect(rules(["platform-apps", "team-b"])).toEqual([]);
    // The default target, <namespace>-apps, is checked like a given one.
    expect(deployTargetRules({ namespace: PLATFORM })).toEqual([]);
    const messages = (names: string[]) =>
      rules(names).map((error) => `${error.propertyPath}: ${error.reason}`);
    expect(messages(["platform"])).toEqual([
      expect.stringMatching(
        /^targetNamespaces\.0: must not be a namespace of the platform itself.*"platform-apps"/,
      ),
    ]);
    expect(messages(["ok", "platform-node-logs"])).toEqual([
      expect.stringMatching(/^targetNamespaces\.1: must not be a namespace of the platform itself/),
    ]);
    for (const system of ["kube-system", "kube-public", "default", "kube-anything"]) {
      expect(messages([system])).toEqual([
        expect.stringMatching(/^targetNamespaces\.0: must not be a Kubernetes system namespace/),
      ]);
    }
    expect(messages(["apps", "apps"])).toEqual([
      'targetNamespaces.1: repeats "apps" (already at index 0)',
    ]);
    for (const bad of ["Apps", "apps_1", "-apps", "a".repeat(64)]) {
      expect(messages([bad])).toEqual([
        expect.stringMatching(/^targetNamespaces\.0: must be a DNS label/),
      ]);
    }
    expect(messages([])).toEqual(["targetNamespaces: must list at least one target namespace"]);

    const refusal = create("refused", { targetNamespaces: ["kube-system"] }).catch(
      (error: unknown) => error,
    );
    expect(pulumi.InputPropertiesError.isInstance(await refusal)).toBe(true);
    await expect(create("refused-2", { targetNamespaces: [PLATFORM] })).rejects.toThrow(
      /targetNamespaces\.0: must not be a namespace of the platform itself/,
    );
  });

  it("fences the targets, and only them, with two Deny policies on Ingresses and Services", async () => {
    const platformHosts = ["app.example.com", "grafana.example.com"];
    const { resources } = await create("fence", { appsDomain: "apps.example.com", platformHosts });
    // Registration order is the mocks', not the component's: compare by name.
    const byName = (a: Recorded, b: Recorded) =>
      String(a.inputs.metadata.name).localeCompare(String(b.inputs.metadata.name));
    const policies = ofKind(resources, "ValidatingAdmissionPolicy").sort(byName);
    const bindings = ofKind(resources, "ValidatingAdmissionPolicyBinding").sort(byName);
    const names = policies.map((policy) => policy.inputs.metadata.name);
    expect(names).toEqual([
      "platform-deploy-target-ingress-hosts",
      "platform-deploy-target-services",
    ]);
    expect(policies.map((policy) => policy.inputs.spec.matchConstraints.resourceRules)).toEqual([
      [expect.objectContaining({ apiGroups: ["networking.k8s.io"], resources: ["ingresses"] })],
      [expect.objectContaining({ apiGroups: [""], resources: ["services"] })],
    ]);
    for (const policy of policies) {
      expect(policy.inputs.spec.failurePolicy).toBe("Fail");
      expect(policy.inputs.spec.matchConstraints.resourceRules[0].operations).toEqual([
        "CREATE",
        "UPDATE",
      ]);
    }
    // Each binding selects by a label every target carries and the platform namespace does not.
    expect(bindings.map((binding) => binding.inputs.spec.policyName)).toEqual(names);
    const selected = (labels: Record<string, string> = {}) =>
      bindings.every((binding) =>
        Object.entries(
          binding.inputs.spec.matchResources.namespaceSelector.matchLabels as Record<
            string,
            string
          >,
        ).every(([key, value]) => labels[key] === value),
      );
    for (const binding of bindings) {
      expect(binding.inputs.spec.validationActions).toEqual(["Deny"]);
    }
    const targets = ofKind(resources, "Namespace");
    expect(targets.map((namespace) => selected(namespace.inputs.metadata.labels))).toEqual(
      TARGETS.map(() => true),
    );
    const { podSecurityLabels } = await import("../../components/lib/security");
    expect(
      selected({ ...podSecurityLabels("restricted"), "kubernetes.io/metadata.name": PLATFORM }),
    ).toBe(false);
    // The hosts are the configured ones (the control-plane tier runs the CEL itself).
    const ingressPolicy = JSON.stringify(policies[0].inputs.spec);
    expect(ingressPolicy).toContain(JSON.stringify(JSON.stringify(platformHosts)).slice(1, -1));
    expect(ingressPolicy).toContain('.endsWith(\\".apps.example.com\\")');
  });

  it("grants the worker its rights only once the fence is bound", async () => {
    const { DeployTarget } = await deployTarget();
    const recorder = optionRecorder();
    new DeployTarget(
      "fence-first",
      { namespace: PLATFORM, targetNamespaces: TARGETS },
      { transformations: recorder.transformations },
    );
    const roleBindings = recorder.seen.filter((child) => child.type.endsWith(":RoleBinding"));
    expect(roleBindings).toHaveLength(TARGETS.length);
    for (const { opts } of roleBindings) {
      const after = await Promise.all(
        ((opts.dependsOn ?? []) as pulumi.Resource[]).map((resource) => unwrap(resource.urn)),
      );
      expect(after).toEqual([
        expect.stringContaining(
          "ValidatingAdmissionPolicyBinding::fence-first-platform-deploy-target-ingress-hosts",
        ),
        expect.stringContaining(
          "ValidatingAdmissionPolicyBinding::fence-first-platform-deploy-target-services",
        ),
      ]);
    }
  });

  it("refuses an apps domain that is not a DNS name, or is or contains a platform host", async () => {
    const { deployTargetRules } = await deployTarget();
    const platformHosts = ["app.example.com", "grafana.example.com"];
    const rules = (appsDomain: string) =>
      deployTargetRules({ namespace: PLATFORM, appsDomain, platformHosts }).map(
        (error) => `${error.propertyPath}: ${error.reason}`,
      );
    expect(rules("apps.example.com")).toEqual([]);
    // Under a platform host is fine: Traefik matches hosts exactly, so none of it is the host.
    expect(rules("apps.app.example.com")).toEqual([]);
    expect(rules("apps")).toEqual([
      expect.stringMatching(/^appsDomain: must be a lowercase DNS name/),
    ]);
    expect(rules("Apps.example.com")).toEqual([expect.stringMatching(/lowercase DNS name/)]);
    expect(rules("app.example.com")).toEqual([
      expect.stringMatching(/^appsDomain: must not be the platform host "app\.example\.com"/),
    ]);
    expect(rules("example.com")).toEqual([
      expect.stringMatching(/must not contain the platform host "app\.example\.com"/),
      expect.stringMatching(/must not contain the platform host "grafana\.example\.com"/),
    ]);
    await expect(create("bad-apps", { appsDomain: "example.com", platformHosts })).rejects.toThrow(
      /appsDomain: must not contain the platform host/,
    );
  });

  it("gives the worker, and only it, its edge to the API server", async () => {
    const { deployTargetEdges } = await deployTarget();
    const worker = { name: "worker", component: "worker", instance: PLATFORM, version: "1.2.3" };
    const [apiEdge] = deployTargetEdges(worker, PLATFORM);
    expect(apiEdge).toMatchObject({
      from: {
        kind: "workload",
        namespace: PLATFORM,
        identity: { name: "worker", component: "worker" },
      },
      to: { kind: "kubernetes-api" },
      ports: [{ port: 6443, protocol: "TCP" }],
    });
    const { component } = await create("edges", {
      apiServer: { cidrs: ["192.168.1.10/32"], port: 16443 },
    });
    const edges = component.workerEdges(worker);
    expect(edges).toHaveLength(1);
    expect(edges[0].to).toEqual({ kind: "kubernetes-api", cidrs: ["192.168.1.10/32"] });
    expect(edges[0].ports).toEqual([{ port: 16443, protocol: "TCP" }]);
    const cidrs = { namespace: PLATFORM, podCidr: "10.42.0.0/16", serviceCidr: "10.43.0.0/16" };
    expect(validateEdges(edges, cidrs)).toEqual([]);
  });

  it("passes the policy pack: rbac-least and rbac-refs hold on what it registers", async () => {
    const { resources } = await create("policy");
    const render = rendered(resources);
    const violations = await runPolicyPack(render);
    expect(violations.filter((violation) => violation.level === "mandatory")).toEqual([]);
    // The rules did look: without the ServiceAccount the bindings point nowhere (rbac-refs).
    const withoutAccount = render.filter((resource) => !resource.type.endsWith(":ServiceAccount"));
    const dangling = await runPolicyPack(withoutAccount);
    expect(dangling.map((violation) => violation.policy)).toEqual(["rbac-refs", "rbac-refs"]);
  });

  it("rbac-least fails on a widened copy of the Role", async () => {
    const { resources } = await create("widened");
    const [role] = rendered(resources).filter((resource) => resource.type.endsWith(":Role"));
    const rules = role.props.rules as { verbs: string[] }[];
    const widened = {
      ...role,
      props: {
        ...role.props,
        rules: [...rules, { apiGroups: [""], resources: ["*"], verbs: ["*"] }],
      },
    };
    const messages = (await runPolicies([rbacLeast], [widened])).map(
      (violation) => violation.message,
    );
    expect(messages).toEqual([
      expect.stringContaining("grants every verb"),
      expect.stringContaining("grants every resource"),
    ]);
    // The Secret allowance is keyed by the worker's component: the same Role without it fails.
    const labels = { ...(role.props.metadata as { labels: Record<string, string> }).labels };
    delete labels[COMPONENT_LABEL];
    const anonymous = {
      ...role,
      props: { ...role.props, metadata: { ...(role.props.metadata as object), labels } },
    };
    const secretMessages = await runPolicies([rbacLeast], [anonymous]);
    expect(secretMessages.map((violation) => violation.message)).toEqual([
      expect.stringContaining("can read Secrets"),
    ]);
  });
});

describe("DeployTarget's settings in the stack config", () => {
  it("the API server is at deployTargets.apiServer.cidrs, else the node network", async () => {
    const { argsForDeployTarget, apiServerCidrs } =
      await import("../../platform/args/deploy-target");
    const nodes = parsedStackConfig({ cluster: { nodeCidrs: ["192.168.56.0/24"] } });
    expect(argsForDeployTarget(nodes).apiServer).toEqual({
      cidrs: ["192.168.56.0/24"],
      port: 6443,
    });
    const servers = parsedStackConfig({
      cluster: { nodeCidrs: ["192.168.56.0/24"] },
      deployTargets: { apiServer: { cidrs: ["192.168.56.10/32"], port: 16443 } },
    });
    expect(argsForDeployTarget(servers).apiServer).toEqual({
      cidrs: ["192.168.56.10/32"],
      port: 16443,
    });
    // Prod names both (the stack refuses it otherwise), so nothing falls back to them.
    const prod = parsedStackConfig({ profile: "prod" });
    expect(prod.cluster.nodeCidrs).toEqual(["10.0.0.0/24"]);
    expect(apiServerCidrs(prod)).toEqual(["10.0.0.10/32"]);
  });

  it("the stack config's settings are the component's, with the target list as given", async () => {
    const { argsForDeployTarget } = await import("../../platform/args/deploy-target");
    const { DEPLOY_TARGET_PRESETS } = await deployTarget();
    const config = parsedStackConfig();
    expect(argsForDeployTarget(config)).toEqual({
      targetNamespaces: undefined,
      quota: DEPLOY_TARGET_PRESETS.dev.quota,
      containerLimits: DEPLOY_TARGET_PRESETS.dev.containerLimits,
      podCidr: "10.42.0.0/16",
      serviceCidr: "10.43.0.0/16",
      // Dev's node network (the private ranges) stands in for the server nodes' addresses.
      apiServer: { port: 6443, cidrs: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] },
      appsDomain: "apps.platform.localhost",
      platformHosts: [
        "app.platform.localhost",
        "grafana.platform.localhost",
        "temporal.platform.localhost",
      ],
    });
  });

  it.each([
    [
      { namespaces: ["team-a", "platform"] },
      "k3s-platform:deployTargets.namespaces.1",
      /platform itself/,
    ],
    [
      { namespaces: ["team-a", "team-a"] },
      "k3s-platform:deployTargets.namespaces.1",
      /repeats "team-a"/,
    ],
    [
      { quota: { limitsMemory: "256Mi" } },
      "k3s-platform:deployTargets.quota.limitsMemory",
      /at least containerLimits\.default\.memory/,
    ],
    [
      { containerLimits: { max: { cpu: "2", memory: "256Mi" } } },
      "k3s-platform:deployTargets.containerLimits.max.memory",
      /refuses the LimitRange/,
    ],
  ])("%j is reported at %s", (deployTargets, key, reason) => {
    const issues = stackConfigIssues({ deployTargets });
    const issue = issues.find((candidate) => candidate.key === key);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue?.message).toMatch(reason);
  });

  it("the default target is checked against the namespace, and reported there", () => {
    // 60 characters: a DNS label, but <namespace>-apps is not. The stack wrote the namespace, not
    // the targets, so the namespace is the key it hears about.
    const issues = stackConfigIssues({ namespace: "a".repeat(60) });
    expect(issues).toContainEqual({
      key: "k3s-platform:namespace",
      message: expect.stringMatching(
        /deployTargets\.namespaces\.0 \(left to its default\) must be a DNS label/,
      ),
    });
  });

  it("a target list the stack gives is reported at its own key", () => {
    const issues = stackConfigIssues({ deployTargets: { namespaces: ["a".repeat(64)] } });
    expect(issues).toContainEqual({
      key: "k3s-platform:deployTargets.namespaces.0",
      message: "must be at most 63 characters (got 64)",
    });
  });

  it("deployTargets.notify opens the worker's egress to the webhook, and only the worker's", async () => {
    const { Platform } = await import("../../platform/platform");
    const { kubernetes: _kubernetes, ...args } = parsedStackConfig({
      app: { image: APP_IMAGE },
      deployTargets: { notify: { cidrs: ["203.0.113.0/24"], ports: [443, 8443] } },
    });
    await unwrap(new Platform("notify", args).namespace);
    // The Platform names its children by role, not after itself: every policy registered so far.
    const policies = (
      await registeredOfType(mocks, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    ).map((policy) => ({ ...policy, inputs: policy.inputs as Recorded["inputs"] }));
    type Egress = { to: { ipBlock?: { cidr: string } }[]; ports?: { port: number }[] }[];
    const toWebhook = policies.flatMap((policy) =>
      ((policy.inputs.spec.egress ?? []) as Egress)
        .filter((rule) => rule.to.some((to) => to.ipBlock?.cidr === "203.0.113.0/24"))
        .map((rule) => ({
          pods: policy.inputs.spec.podSelector.matchLabels["app.kubernetes.io/name"],
          ports: (rule.ports ?? []).map((entry) => entry.port),
        })),
    );
    expect(toWebhook).toEqual([{ pods: "worker", ports: [443, 8443] }]);
    const wiring = policies.find(
      (policy) =>
        policy.inputs.metadata.name === "default-deny" &&
        policy.inputs.metadata.namespace === args.namespace,
    );
    expect(JSON.stringify(wiring?.inputs.metadata.annotations)).toContain(
      "notifies users (webhook)",
    );
  });

  it("an empty target list maps to deployTargets.namespaces", async () => {
    // The schema refuses an empty list first; the component's rule maps to the same key.
    const { componentProblems } = await import("../../platform/validate");
    const config = parsedStackConfig();
    const empty = { ...config, deployTargets: { ...config.deployTargets, namespaces: [] } };
    expect(componentProblems(empty)).toEqual([
      { key: "deployTargets.namespaces", reason: "must list at least one target namespace" },
    ]);
  });
});
