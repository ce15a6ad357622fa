import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { objectId } from "../../tools/lib/manifests";
import type { Manifest } from "../../policy/model/render-model";
import { kubernetesVersion, CONTROL_PLANE_MODULE_DIR } from "../integration/lib/test-tools";
import { applyRender, type Applied } from "./lib/apply-render";
import { startControlPlane, type ControlPlane } from "./lib/control-plane";
import { renderObjects, type PlanResource } from "./lib/render-objects";
import { FIELD_MANAGER } from "./lib/kube-client";
import { kubeconfigOf, kubectlApply, renderToFiles, type RenderedFiles } from "./lib/kubectl";
import { ensureE2eBinaries } from "./lib/tools";

/**
 * The control-plane tier: every manifest of `dev` and `prod` put to a real kube-apiserver of the
 * Kubernetes release K3s ships, as the provider applies it (server-side apply under its field
 * manager, strict field validation), with Pod Security enforced by our own namespace labels: the
 * API server's own verdict on every object and every pod template. How `pulumi up` orders,
 * awaits, upgrades and destroys them is the engine tier's (test/engine), run by the real engine
 * and provider. What only K3s shows (image pulls, real probes) is out of reach here. The files
 * `npm run render` writes are also applied by `kubectl`, as a reviewer applies them: kubectl reads
 * YAML 1.1, so a string the render left plain (`off`) would reach the server as another type.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-restoring-"));
const binaries = ensureE2eBinaries();
const renders = new Map(["dev", "prod"].map((stack) => [stack, renderObjects(stack)]));
const restoring = renderObjects("prod", ROOT, restoringStackFile());
const renderedFiles = new Map(["dev", "prod"].map((stack) => [stack, renderToFiles(stack)]));
// A rejected promise held for a later test must not count as unhandled meanwhile.
for (const render of [binaries, restoring, ...renders.values(), ...renderedFiles.values()]) {
  render.catch(() => undefined);
}
afterAll(async () => {
  fs.rmSync(scratch, { recursive: true, force: true });
  const settled = await Promise.allSettled(renderedFiles.values());
  for (const files of settled) {
    if (files.status === "fulfilled") fs.rmSync(files.value.dir, { recursive: true, force: true });
  }
});

describe.each(["dev", "prod"])("the %s render on a real control plane", (stack) => {
  let cluster: ControlPlane | undefined;
  let resources: PlanResource[] = [];
  let results: Applied[] = [];

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startControlPlane(await binaries);
    console.log(`[${stack}] control plane ${cluster.version} up in ${seconds(started)} s`);
    resources = await (renders.get(stack) as Promise<PlanResource[]>);
    const applyStarted = Date.now();
    results = await applyRender(cluster.client, resources);
    console.log(`[${stack}] ${results.length} objects applied in ${seconds(applyStarted)} s`);
  }, 420_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("runs the Kubernetes release the wrapper module pins, reporting its own version", () => {
    const goMod = fs.readFileSync(path.join(CONTROL_PLANE_MODULE_DIR, "go.mod"), "utf8");
    expect(cluster?.version).toBe(kubernetesVersion(goMod).version);
  });

  it("would catch a misspelled field and a pod template Pod Security refuses (dry run)", async () => {
    // The checks below are only worth something if the server really refuses these: prove it on
    // a copy of one of our own Deployments in the restricted namespace.
    const client = (cluster as ControlPlane).client;
    const deployment = manifests(resources).find((manifest) => manifest.kind === "Deployment");
    const template = (copy: Manifest) =>
      (copy.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template;
    const misspelled = structuredClone(deployment as Manifest);
    template(misspelled).spec.containers[0].imagePullPolicyy = "IfNotPresent";
    const rejected = await client.apply(misspelled, { dryRun: true });
    console.log(`[${stack}] misspelled field: ${rejected.status} ${rejected.body.message}`);
    expect(rejected.status).toBeGreaterThanOrEqual(400);
    expect(rejected.body.message).toContain("imagePullPolicyy");

    const privileged = structuredClone(deployment as Manifest);
    template(privileged).spec.containers[0].securityContext = { privileged: true };
    const warned = await client.apply(privileged, { dryRun: true });
    expect(warned.warnings.join("\n")).toContain('violate PodSecurity "restricted');
    // ...and refused outright as the pod the admission check below creates from a template.
    const namespace = privileged.metadata.namespace as string;
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "probe", namespace } };
    const refused = await client.request(
      "POST",
      `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`,
      JSON.stringify({ ...pod, spec: template(privileged).spec }),
    );
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('violates PodSecurity "restricted');
  });

  it("has every manifest accepted by server-side apply with strict field validation", () => {
    expect(results.length).toBe(resources.filter((resource) => resource.manifest).length);
    expect(results.filter((r) => r.status >= 300).map((r) => `${r.id}: ${r.error}`)).toEqual([]);
  });

  /** kubectl on this control plane, as the provider's field manager, caching in the render's dir. */
  const kubectlOptions = async (files: RenderedFiles) => ({
    controlPlane: (await binaries).controlPlane,
    kubeconfig: kubeconfigOf(cluster as ControlPlane),
    fieldManager: FIELD_MANAGER,
    cacheDir: path.join(files.dir, "kube-cache"),
  });

  it("has kubectl apply the rendered files as they are (server-side, strict, dry run)", async () => {
    // The provider's apply again, from the files: under its field manager (another manager
    // would conflict on what the server defaults or never stores, such as a Secret's stringData),
    // so what fails is only what kubectl reads from the files and the server refuses.
    const files = await (renderedFiles.get(stack) as Promise<RenderedFiles>);
    const count = fs.readdirSync(files.manifests).length;
    const options = await kubectlOptions(files);
    const started = Date.now();
    const result = await kubectlApply(files.manifests, options);
    const applied = result.stdout.split("\n").filter((line) => line.includes("serverside-applied"));
    console.log(
      `[${stack}] kubectl apply --server-side --dry-run=server -f ${count} files: ` +
        `exit ${result.status}, ${applied.length} applied in ${seconds(started)} s`,
    );
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
    expect(applied.length).toBe(count);
    expect(count).toBe(results.length);
  });

  it("would catch a plain YAML 1.1 boolean in a file kubectl applies", async () => {
    // The check above is only worth something if kubectl reads `off` as false and the server then
    // refuses the object: prove both on a ConfigMap written as the render wrote MinIO's env before.
    const files = await (renderedFiles.get(stack) as Promise<RenderedFiles>);
    const probe = path.join(files.dir, "yaml-1-1-probe.yaml");
    fs.writeFileSync(
      probe,
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-1-1-probe\n" +
        "  namespace: default\ndata:\n  MINIO_UPDATE: off\n",
    );
    const options = await kubectlOptions(files);
    const refused = await kubectlApply(probe, options);
    console.log(`[${stack}] plain off: exit ${refused.status}, ${refused.stderr.trim()}`);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/MINIO_UPDATE: expected string, got .*false/);
    fs.writeFileSync(probe, fs.readFileSync(probe, "utf8").replace(": off", ': "off"'));
    expect((await kubectlApply(probe, options)).status).toBe(0);
  });

  it.runIf(stack === "prod")(
    "admits the database pod of a stack restoring from the archive, its restore first",
    async () => {
      // The restore is two init containers of the database pod: the pod the StatefulSet
      // controller makes, admitted here, runs them to completion before the server starts, and
      // everything that waits for the database waits for them.
      const client = (cluster as ControlPlane).client;
      const statefulSet = manifests(await restoring).find(
        (manifest) => manifest.kind === "StatefulSet" && manifest.metadata.name === "postgres",
      ) as Manifest;
      const applied = await client.apply(statefulSet, { dryRun: true });
      expect({ status: applied.status < 300, warnings: applied.warnings }).toEqual({
        status: true,
        warnings: [],
      });
      const template = podTemplateOf(statefulSet) as PodTemplate;
      const namespace = statefulSet.metadata.namespace as string;
      const created = await client.request(
        "POST",
        `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "postgres-restore-admission", namespace, ...template.metadata },
          spec: podSpecOf(statefulSet, template),
        }),
      );
      expect({ status: created.status, warnings: created.warnings }).toEqual({
        status: 201,
        warnings: [],
      });
      const spec = created.body.spec as { initContainers: { name: string }[] };
      expect(spec.initContainers.map((c) => c.name)).toEqual(["restore-fetch", "restore-apply"]);
    },
  );

  it("draws no warning from the API server, Pod Security's included", () => {
    const warned = results.flatMap((result) => result.warnings.map((w) => `${result.id}: ${w}`));
    expect(warned).toEqual([]);
  });

  it("admits every pod template as a pod of its namespace, and only the exception outside restricted", async () => {
    // Each workload's pod template, created as a Pod in its namespace (dry run): Pod Security
    // enforce (and every other admission plugin) judges exactly what the controller would create.
    const client = (cluster as ControlPlane).client;
    const namespaces = new Map(
      manifests(resources)
        .filter((manifest) => manifest.kind === "Namespace")
        .map((manifest) => [manifest.metadata.name, manifest]),
    );
    const refused: string[] = [];
    const strangers: string[] = [];
    const workloads = manifests(resources).filter((manifest) => podTemplateOf(manifest));
    expect(workloads.length).toBeGreaterThan(10);
    for (const workload of workloads) {
      const template = podTemplateOf(workload) as PodTemplate;
      const namespace = workload.metadata.namespace as string;
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `${workload.metadata.name}-admission`, namespace, ...template.metadata },
        spec: podSpecOf(workload, template),
      };
      const response = await client.request(
        "POST",
        `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`,
        JSON.stringify(pod),
      );
      if (response.status >= 300 || response.warnings.length > 0) {
        const why = [response.body.message, ...response.warnings].filter(Boolean).join("; ");
        refused.push(`${objectId(workload)}: ${response.status} ${why}`);
      }
      const labels = namespaces.get(namespace)?.metadata.labels ?? {};
      if (labels["pod-security.kubernetes.io/enforce"] === "restricted") continue;
      // Outside restricted only the exception its namespace names may run.
      const exception =
        namespaces.get(namespace)?.metadata.annotations?.["k3s-platform/security-exception"];
      if (exception !== workload.metadata.name) strangers.push(objectId(workload));
    }
    expect(refused).toEqual([]);
    expect(strangers).toEqual([]);
  });
});

/** The shipped prod stack, starting its database from the newest base backup. */
function restoringStackFile(): string {
  const document = parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  const postgres = document.config["k3s-platform:postgres"];
  // The restore rebuilds the single server; a Patroni cluster bootstraps its own members.
  postgres.ha = { ...postgres.ha, enabled: false };
  postgres.restoreFrom = "latest";
  const file = path.join(scratch, "Pulumi.prod.yaml");
  fs.writeFileSync(file, stringify(document));
  return file;
}

interface PodTemplate {
  metadata?: Record<string, unknown>;
  spec: Record<string, unknown>;
}

/** The pod template of a workload kind (a CronJob's through its Job template). */
function podTemplateOf(manifest: Manifest): PodTemplate | undefined {
  const spec = manifest.spec as
    { template?: PodTemplate; jobTemplate?: { spec?: { template?: PodTemplate } } } | undefined;
  if (["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(manifest.kind)) {
    return spec?.template;
  }
  if (manifest.kind === "CronJob") return spec?.jobTemplate?.spec?.template;
  return undefined;
}

/**
 * The pod spec the workload's controller creates: the template's, plus, for a StatefulSet, a
 * volume per claim template bound to the first replica's claim, as the StatefulSet controller adds.
 */
function podSpecOf(workload: Manifest, template: PodTemplate): Record<string, unknown> {
  if (workload.kind !== "StatefulSet") return template.spec;
  const claims = ((workload.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] })
    .volumeClaimTemplates ?? []) as { metadata: { name: string } }[];
  const volumes = claims.map(({ metadata: { name } }) => ({
    name,
    persistentVolumeClaim: { claimName: `${name}-${workload.metadata.name}-0` },
  }));
  const own = (template.spec.volumes ?? []) as unknown[];
  return { ...template.spec, volumes: [...own, ...volumes] };
}

function manifests(resources: PlanResource[]): Manifest[] {
  return resources.flatMap((resource) => (resource.manifest ? [resource.manifest] : []));
}

function seconds(since: number): number {
  return Math.round((Date.now() - since) / 1000);
}
