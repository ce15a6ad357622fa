import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPolicies } from "../../policy/run";
import { rbacLeast } from "../../policy/rules/rbac-least";
import { objectId } from "../../tools/lib/manifests";
import type { Manifest, RenderedResource } from "../../policy/model/render-model";
import {
  deployTargetAccessMatrix,
  serviceAccountUser,
  type AccessQuestion,
} from "../deploy-target-access";
import { canI, servedResources } from "./lib/access-review";
import { applyRender, type Applied } from "./lib/apply-render";
import { startControlPlane, waitFor, type ControlPlane } from "./lib/control-plane";
import type { KubeClient, KubeObject } from "./lib/kube-client";
import { renderObjects, type PlanResource } from "./lib/render-objects";
import { ensureE2eBinaries } from "./lib/tools";
import {
  cpuMillis,
  podsOf,
  replicaFailure,
  restrictedContainer,
  userDeployment,
  userPod,
} from "./lib/user-workloads";

/**
 * The deploy targets on a real API server: the dev render applied as the provider applies it, then the deploy
 * targets' promises asked of the server's own RBAC authorizer (SubjectAccessReviews, the same
 * matrix the unit tier answers from the rendered objects) and of its admission chain
 * (ResourceQuota, LimitRanger, Pod Security) with user workloads in a target namespace.
 */

const STACK = "dev";
const DEPLOY_TARGET_TYPE = "k3s-platform:app:DeployTarget";
const ROLE_TYPE = "kubernetes:rbac.authorization.k8s.io/v1:Role";

const binaries = ensureE2eBinaries();
const render = renderObjects(STACK);
// A rejected promise held for beforeAll must not count as unhandled meanwhile.
for (const pending of [binaries, render]) pending.catch(() => undefined);

/** What the render says the deploy targets are: the worker's account and its namespaces. */
interface Targets {
  platformNamespace: string;
  account: string;
  namespaces: string[];
  /** The Role of each target namespace, as rendered. */
  roles: Manifest[];
  /** Every manifest the DeployTarget component (or a child of it) registered. */
  manifests: Manifest[];
}

describe(`deploy targets of the ${STACK} render on a real API server`, () => {
  let cluster: ControlPlane | undefined;
  let results: Applied[] = [];
  let targets: Targets;
  const client = () => (cluster as ControlPlane).client;

  beforeAll(async () => {
    cluster = await startControlPlane(await binaries);
    const resources = await render;
    targets = deployTargets(resources);
    results = await applyRender(cluster.client, resources);
    // Quota admission refuses what it cannot count yet: wait for the quota controller's status.
    const client = cluster.client;
    for (const quota of targets.manifests.filter((m) => m.kind === "ResourceQuota")) {
      const { namespace, name } = quota.metadata;
      await waitFor(`ResourceQuota ${namespace}/${name} counted`, 60_000, async () => {
        const live = await client.get(`/api/v1/namespaces/${namespace}/resourcequotas/${name}`);
        return Object.keys((live.status?.hard ?? {}) as object).length > 0;
      });
    }
  }, 420_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("applies every deploy-target object (namespaces, account, RBAC, quotas, policies)", () => {
    const ids = new Set(targets.manifests.map((manifest) => objectId(manifest)));
    const ours = results.filter((result) => ids.has(result.id));
    expect(ours.length).toBe(ids.size);
    expect(ours.filter((r) => r.status >= 300).map((r) => `${r.id}: ${r.error}`)).toEqual([]);
    const kinds = new Set(targets.manifests.map((manifest) => manifest.kind));
    for (const kind of [
      "Namespace",
      "ServiceAccount",
      "Role",
      "RoleBinding",
      "ResourceQuota",
      "LimitRange",
      "NetworkPolicy",
    ]) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it("answers every question of the access matrix as the platform promises (SubjectAccessReview)", async () => {
    const matrix = deployTargetAccessMatrix(
      targets.platformNamespace,
      targets.account,
      targets.namespaces,
    );
    const answers = await Promise.all(
      matrix.map(async (question) => ({ question, allowed: await canI(client(), question) })),
    );
    const wrong = answers
      .filter(({ question, allowed }) => allowed !== question.allowed)
      .map(({ question, allowed }) => `${describeQuestion(question)}: server says ${allowed}`);
    expect(wrong).toEqual([]);
    // The matrix holds promises both ways: the worker really can deploy and read logs in each.
    for (const namespace of targets.namespaces) {
      const granted = answers.filter(({ question, allowed }) => {
        return allowed && question.namespace === namespace;
      });
      expect(granted.map(({ question }) => describeQuestion(question))).toEqual(
        expect.arrayContaining([
          expect.stringContaining("create apps/deployments"),
          expect.stringContaining("get pods/log"),
        ]),
      );
    }
  });

  it("the worker creates nothing (RoleBindings included) in any namespace but its targets", async () => {
    const worker = serviceAccountUser(targets.platformNamespace, targets.account);
    const creatable = (await servedResources(client())).filter(
      (resource) => resource.namespaced && resource.verbs.includes("create"),
    );
    const namespaces = ((await client().get("/api/v1/namespaces")).items ?? [])
      .map((namespace) => namespace.metadata?.name as string)
      .filter((name) => !targets.namespaces.includes(name));
    expect(namespaces).toContain(targets.platformNamespace);
    expect(creatable.map((resource) => resource.resource)).toContain("rolebindings");
    const questions = namespaces.flatMap((namespace) =>
      creatable.map((resource): AccessQuestion => ({
        user: worker,
        verb: "create",
        group: resource.group,
        resource: resource.resource,
        namespace,
        allowed: false,
      })),
    );
    const allowed = await allowedOnes(client(), questions);
    expect(allowed).toEqual([]);
  });

  it("web's identity (the platform namespace's default account) may do nothing anywhere", async () => {
    const web = serviceAccountUser(targets.platformNamespace, "default");
    const served = await servedResources(client());
    const namespaces = [targets.platformNamespace, ...targets.namespaces];
    const questions = served.flatMap((resource) =>
      resource.verbs
        .filter((verb) => ["get", "list", "watch", "create", "update", "delete"].includes(verb))
        .flatMap((verb) =>
          (resource.namespaced ? namespaces : [undefined]).map((namespace): AccessQuestion => ({
            user: web,
            verb,
            group: resource.group,
            resource: resource.resource,
            ...(namespace !== undefined ? { namespace } : {}),
            allowed: false,
          })),
        ),
    );
    expect(questions.length).toBeGreaterThan(100);
    // Kubernetes itself grants every ServiceAccount a little (asking who it is and what it may
    // do; reading ClusterTrustBundles' public CAs). Web may have nothing beyond what an account
    // of a namespace the stack never heard of gets: the stack grants web's account nothing.
    const stranger = serviceAccountUser("e2e-unrelated", "nobody");
    const strangerMay = await Promise.all(
      questions.map((question) => canI(client(), { ...question, user: stranger })),
    );
    const beyondStranger = questions.filter((_, index) => !strangerMay[index]);
    expect(await allowedOnes(client(), beyondStranger)).toEqual([]);
    // ...nor any group web shares with that stranger (every ServiceAccount, every user).
    const groupSubjects = (await render)
      .flatMap((resource) => (resource.manifest?.subjects ?? []) as { kind?: string }[])
      .filter((subject) => subject.kind === "Group");
    expect(groupSubjects).toEqual([]);
  });

  it("refuses a pod that breaks Pod Security restricted in a target namespace", async () => {
    const namespace = targets.namespaces[0];
    const privileged = userPod(namespace, "privileged", {
      ...restrictedContainer(),
      // allowPrivilegeEscalation: false with privileged is invalid, so validation would answer.
      securityContext: {
        ...restrictedContainer().securityContext,
        privileged: true,
        allowPrivilegeEscalation: true,
      },
    });
    const refused = await client().request(
      "POST",
      `/api/v1/namespaces/${namespace}/pods`,
      JSON.stringify(privileged),
    );
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('violates PodSecurity "restricted');
    expect(refused.body.message).toContain("privileged");

    // Through a Deployment the refusal lands on its ReplicaSet: no root pod ever runs.
    const root = userDeployment(namespace, "runs-as-root", 1, {
      ...restrictedContainer(),
      securityContext: { ...restrictedContainer().securityContext, runAsUser: 0 },
    });
    const created = await client().request(
      "POST",
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      JSON.stringify(root),
    );
    expect(created.status).toBe(201);
    expect(created.warnings.join("\n")).toContain('would violate PodSecurity "restricted');
    const failure = await replicaFailure(client(), namespace, "runs-as-root");
    expect(failure).toContain('violates PodSecurity "restricted');
    expect(failure).toContain("runAsUser=0");
    expect(await podsOf(client(), namespace, "runs-as-root")).toEqual([]);
  });

  it("refuses a container above the LimitRange max in a target namespace", async () => {
    const namespace = targets.namespaces[0];
    const max = limitRangeMax(targets, namespace);
    const tooBig = userPod(
      namespace,
      "too-big",
      restrictedContainer({ cpu: `${cpuMillis(max.cpu) + 1000}m`, memory: "256Mi" }),
    );
    const refused = await client().request(
      "POST",
      `/api/v1/namespaces/${namespace}/pods`,
      JSON.stringify(tooBig),
    );
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain(`maximum cpu usage per Container is ${max.cpu}`);
  });

  it("stops a Deployment at the quota: its ReplicaSet creates only the pods that fit", async () => {
    const namespace = targets.namespaces[0];
    const max = limitRangeMax(targets, namespace);
    const quota = targets.manifests.find(
      (manifest) => manifest.kind === "ResourceQuota" && manifest.metadata.namespace === namespace,
    ) as Manifest;
    const hard = (quota.spec as { hard: Record<string, string> }).hard;
    // Each pod is as big as the LimitRange allows, so the quota's limits.cpu runs out first.
    const fit = Math.floor(cpuMillis(hard["limits.cpu"]) / cpuMillis(max.cpu));
    expect(fit).toBeLessThan(Number(hard.pods));
    const deployment = userDeployment(
      namespace,
      "over-quota",
      fit + 1,
      restrictedContainer({ cpu: max.cpu, memory: "256Mi" }),
    );
    await client().create(`/apis/apps/v1/namespaces/${namespace}/deployments`, deployment);
    const failure = await replicaFailure(client(), namespace, "over-quota");
    expect(failure).toContain(`exceeded quota: ${quota.metadata.name}`);
    expect(failure).toContain("limits.cpu");
    expect(await podsOf(client(), namespace, "over-quota")).toHaveLength(fit);
  });

  it("rbac-least passes on the Role as the API server stores it, and fails on a widened copy", async () => {
    expect(targets.roles.length).toBe(targets.namespaces.length);
    for (const role of targets.roles) {
      const stored = await client().get(
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${role.metadata.namespace}/roles/${role.metadata.name}`,
      );
      // The server keeps the rules as applied: the policy judges what the worker really gets.
      expect(stored.rules).toEqual(role.rules);
      const asRendered = renderedRole(stored);
      expect(await runPolicies([rbacLeast], [asRendered])).toEqual([]);

      const rules = stored.rules as Record<string, unknown>[];
      const widened = renderedRole({
        ...stored,
        rules: [...rules, { apiGroups: [""], resources: ["*"], verbs: ["*"] }],
      });
      const messages = (await runPolicies([rbacLeast], [widened])).map(
        (violation) => violation.message,
      );
      expect(messages).toEqual([
        expect.stringContaining("grants every verb"),
        expect.stringContaining("grants every resource"),
      ]);
    }
  });
});

/** The deploy targets as the render declares them, found through the component's URN. */
function deployTargets(resources: PlanResource[]): Targets {
  const component = resources.find((resource) => resource.type === DEPLOY_TARGET_TYPE);
  if (!component) throw new Error(`the ${STACK} render has no ${DEPLOY_TARGET_TYPE}`);
  const under = new Set([component.urn]);
  // Children are listed after their parents, so one pass collects the whole subtree.
  for (const resource of resources) {
    if (resource.parent && under.has(resource.parent)) under.add(resource.urn);
  }
  const manifests = resources
    .filter((resource) => under.has(resource.urn) && resource.manifest)
    .map((resource) => resource.manifest as Manifest);
  const accounts = manifests.filter((manifest) => manifest.kind === "ServiceAccount");
  if (accounts.length !== 1) throw new Error(`expected one worker account, got ${accounts.length}`);
  const [account] = accounts;
  const platformNamespace = account.metadata.namespace as string;
  return {
    platformNamespace,
    account: account.metadata.name,
    namespaces: manifests
      .filter((manifest) => manifest.kind === "Namespace")
      .map((manifest) => manifest.metadata.name),
    roles: manifests.filter((manifest) => manifest.kind === "Role"),
    manifests,
  };
}

function describeQuestion(question: AccessQuestion): string {
  const group = question.group === "" ? "" : `${question.group}/`;
  const resource = question.subresource
    ? `${question.resource}/${question.subresource}`
    : question.resource;
  const where = question.namespace ?? "(cluster)";
  return `${question.user} ${question.verb} ${group}${resource} in ${where}`;
}

/** The questions the server allows, described; asked in parallel (loopback, a few hundred). */
async function allowedOnes(client: KubeClient, questions: AccessQuestion[]): Promise<string[]> {
  const answers = await Promise.all(questions.map((question) => canI(client, question)));
  return questions
    .filter((_, index) => answers[index])
    .map((question) => `${describeQuestion(question)} `);
}

/** A Role as the policy pack sees a rendered resource. */
function renderedRole(role: KubeObject): RenderedResource {
  const name = role.metadata?.name as string;
  return {
    urn: `urn:pulumi:${STACK}::k3s-platform::${ROLE_TYPE}::${name}`,
    type: ROLE_TYPE,
    name,
    custom: true,
    dependencies: [],
    protect: false,
    retainOnDelete: false,
    props: role as Record<string, unknown>,
  };
}

function limitRangeMax(targets: Targets, namespace: string): { cpu: string; memory: string } {
  const range = targets.manifests.find(
    (manifest) => manifest.kind === "LimitRange" && manifest.metadata.namespace === namespace,
  );
  const limits = (range?.spec as { limits: { type: string; max?: Record<string, string> }[] })
    .limits;
  const max = limits.find((limit) => limit.type === "Container")?.max;
  if (!max) throw new Error(`no Container max in the LimitRange of ${namespace}`);
  return { cpu: max.cpu, memory: max.memory };
}
