import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  BACKUP_RULE_FILE,
  backupRuleFile,
  DEFAULT_ALERTS_DIR,
} from "../../components/observability";
import type { Manifest } from "../../policy/model/render-model";
import { serviceAccountUser, type AccessQuestion } from "../deploy-target-access";
import { binaryPath, ensureGoTool } from "../integration/lib/go-tools";
import { queriedMetrics, sourceOf } from "../integration/lib/dashboard-metrics";
import { freePort } from "../integration/lib/process";
import { startServer, type LoopbackServer } from "../integration/lib/prometheus-server";
import { run } from "../integration/lib/rendered-stack";
import { kubeStateMetricsTool, prometheusTool } from "../integration/lib/test-tools";
import { canI } from "./lib/access-review";
import { applyRender } from "./lib/apply-render";
import { startControlPlane, type ControlPlane } from "./lib/control-plane";
import type { KubeClient } from "./lib/kube-client";
import { renderObjects, type PlanResource } from "./lib/render-objects";
import { serviceAccountToken } from "./lib/service-account-token";
import { ensureE2eBinaries } from "./lib/tools";
import { restrictedContainer } from "./lib/user-workloads";

/**
 * kube-state-metrics as the dev render runs it, on a real API server: its rendered
 * ServiceAccount, Role and RoleBinding applied, the exporter (built at the catalogue's release)
 * run with the rendered arguments and a token of that account, and the Jobs and CronJob the
 * alerts read put in place with the status the controllers would give them. Its `/metrics` must
 * carry the series and labels the alert rules join on, and its Role must be exactly as narrow as
 * promised: the API server's own authorizer answers.
 */

const STACK = "dev";
/** `app.kubernetes.io/name` of the kube-state-metrics objects. */
const KSM = "kube-state-metrics";
/** A namespace of the same cluster that is not the platform's. */
const ELSEWHERE = "e2e-elsewhere";
/** Job status is written by whoever `spec.managedBy` names; the Job controller leaves it alone. */
const MANAGED_BY = "e2e.k3s-platform.dev/status-writer";
const BACKUP_CRONJOB = "postgres-backup";
const FAILED_BACKUP = "postgres-backup-29400180";
const FAILED_MIGRATIONS = "migrations-f06e75e1";
const LAST_SUCCESS = new Date("2026-11-30T03:04:05Z");

const binaries = Promise.all([
  ensureE2eBinaries(),
  ensureGoTool(kubeStateMetricsTool()),
  ensureGoTool(prometheusTool()),
]);
const render = renderObjects(STACK);
// A rejected promise held for beforeAll must not count as unhandled meanwhile.
for (const pending of [binaries, render]) pending.catch(() => undefined);

describe(`kube-state-metrics of the ${STACK} render on a real API server`, () => {
  let cluster: ControlPlane | undefined;
  let exporter: LoopbackServer | undefined;
  let namespace = "";
  let deployment: Manifest;
  let scraped: Sample[] = [];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-kube-state-metrics-"));
  const client = () => (cluster as ControlPlane).client;

  beforeAll(async () => {
    const [controlPlane] = await binaries;
    const resources = await render;
    cluster = await startControlPlane(controlPlane);
    deployment = manifestOf(resources, "Deployment");
    namespace = deployment.metadata.namespace as string;
    const applied = await applyRender(cluster.client, kubeStateMetricsObjects(resources));
    const refused = applied.filter((result) => result.status >= 300);
    if (refused.length > 0) throw new Error(`not applied: ${JSON.stringify(refused)}`);
    await createJobsAndCronJob(cluster.client, namespace);
    exporter = await runExporter(cluster, namespace, deployment, scratch);
    scraped = await scrapeUntil(exporter.url, (samples) =>
      samples.some((s) => s.name === "kube_cronjob_status_last_successful_time"),
    );
  }, 600_000);

  afterAll(async () => {
    await exporter?.stop();
    await cluster?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }, 60_000);

  it("reports the failed backup Job with the labels the backup alert joins on", () => {
    const job = { namespace, job_name: FAILED_BACKUP };
    expect(
      find(scraped, "kube_job_status_failed", { ...job, reason: "BackoffLimitExceeded" }),
    ).toBe(1);
    expect(find(scraped, "kube_job_failed", { ...job, condition: "true" })).toBe(1);
    expect(
      find(scraped, "kube_job_owner", {
        ...job,
        owner_kind: "CronJob",
        owner_name: BACKUP_CRONJOB,
        owner_is_controller: "true",
      }),
    ).toBe(1);
    expect(find(scraped, "kube_job_status_start_time", job)).toBeGreaterThan(0);
  });

  it("reports the backup CronJob's last success, to the second", () => {
    const cronJob = { namespace, cronjob: BACKUP_CRONJOB };
    expect(find(scraped, "kube_cronjob_status_last_successful_time", cronJob)).toBe(
      LAST_SUCCESS.getTime() / 1000,
    );
    expect(find(scraped, "kube_cronjob_created", cronJob)).toBeGreaterThan(0);
  });

  it("copies the migrations Job's component label, by which the migrations alert finds it", () => {
    const job = { namespace, job_name: FAILED_MIGRATIONS };
    expect(
      find(scraped, "kube_job_labels", { ...job, label_app_kubernetes_io_component: "migrations" }),
    ).toBe(1);
    expect(find(scraped, "kube_job_failed", { ...job, condition: "true" })).toBe(1);
  });

  it("exposes every kube_* series the alert rules query, and nothing of other namespaces", () => {
    const names = new Set(scraped.map((sample) => sample.name));
    const queried = queriedMetrics()
      .filter((metric) => sourceOf(metric.name)[0] === "kubeStateMetrics")
      .map((metric) => metric.name);
    expect(queried.length).toBeGreaterThan(4);
    expect(queried.filter((name) => !names.has(name))).toEqual([]);
    const namespaces = new Set(
      scraped.flatMap((s) => (s.labels.namespace ? [s.labels.namespace] : [])),
    );
    expect([...namespaces]).toEqual([namespace]);
    // Only the resources it was given: no pod, deployment or secret families.
    expect([...names].filter((name) => !/^kube_(job|cronjob)_/.test(name))).toEqual([]);
  });

  it("the backup and migrations alerts fire on its real series (promtool, the pinned release)", async () => {
    const testFile = promtoolTestFile(scraped, namespace, scratch);
    const { stdout } = await run(binaryPath(prometheusTool(), "promtool"), [
      "test",
      "rules",
      testFile,
    ]);
    expect(stdout).toMatch(/SUCCESS/);
  });

  it("runs on its Role alone: no request of it was refused", () => {
    expect(exporter?.log() ?? "").not.toMatch(/forbidden/i);
  });

  it("its Role is exact: list and watch Jobs and CronJobs in the platform namespace, nothing else", async () => {
    const user = serviceAccountUser(namespace, KSM);
    const ask = (
      verb: string,
      group: string,
      resource: string,
      where: string | undefined,
      allowed: boolean,
    ): AccessQuestion => ({
      user,
      verb,
      group,
      resource,
      ...(where !== undefined ? { namespace: where } : {}),
      allowed,
    });
    const questions = [
      ask("list", "batch", "jobs", namespace, true),
      ask("watch", "batch", "jobs", namespace, true),
      ask("list", "batch", "cronjobs", namespace, true),
      ask("watch", "batch", "cronjobs", namespace, true),
      ask("get", "batch", "jobs", namespace, false),
      ask("create", "batch", "jobs", namespace, false),
      ask("list", "", "secrets", namespace, false),
      ask("get", "", "secrets", namespace, false),
      ask("list", "", "pods", namespace, false),
      ask("list", "batch", "jobs", ELSEWHERE, false),
      ask("list", "batch", "cronjobs", ELSEWHERE, false),
      ask("list", "batch", "jobs", undefined, false),
    ];
    const answers = await Promise.all(questions.map((question) => canI(client(), question)));
    const wrong = questions
      .filter((question, index) => answers[index] !== question.allowed)
      .map((q) => `${q.verb} ${q.group}/${q.resource} in ${q.namespace ?? "(cluster)"}`);
    expect(wrong).toEqual([]);
  });
});

/** `app.kubernetes.io/name` of a rendered object. */
function nameLabel(manifest: Manifest): string | undefined {
  return (manifest.metadata.labels as Record<string, string> | undefined)?.[
    "app.kubernetes.io/name"
  ];
}

/** The one rendered manifest of kube-state-metrics of a kind. */
function manifestOf(resources: PlanResource[], kind: string): Manifest {
  const found = resources.flatMap((resource) =>
    resource.manifest?.kind === kind && nameLabel(resource.manifest) === KSM
      ? [resource.manifest]
      : [],
  );
  if (found.length !== 1) throw new Error(`the render has ${found.length} ${KSM} ${kind}s`);
  return found[0];
}

/**
 * What is applied: the platform Namespace and kube-state-metrics' ServiceAccount, Role and
 * RoleBinding. Not its Deployment: no kubelet runs the image here, the test runs the binary.
 */
function kubeStateMetricsObjects(resources: PlanResource[]): PlanResource[] {
  const kinds = ["ServiceAccount", "Role", "RoleBinding"];
  return resources.filter(({ manifest }) => {
    if (!manifest) return false;
    if (manifest.kind === "Namespace") return !manifest.metadata.name.endsWith("-node-logs");
    return nameLabel(manifest) === KSM && kinds.includes(manifest.kind);
  });
}

/** A Job no controller runs (`managedBy`), whose status the test writes as the Job controller would. */
function job(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  owner?: { name: string; uid: string },
) {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace,
      labels,
      ...(owner
        ? {
            ownerReferences: [
              { apiVersion: "batch/v1", kind: "CronJob", ...owner, controller: true },
            ],
          }
        : {}),
    },
    spec: {
      managedBy: MANAGED_BY,
      backoffLimit: 2,
      template: {
        metadata: { labels },
        spec: { restartPolicy: "Never", containers: [restrictedContainer()] },
      },
    },
  };
}

/** The status the Job controller writes when a Job's retries are spent. */
function failedStatus(started: Date) {
  const at = new Date(started.getTime() + 60_000).toISOString();
  const condition = (type: string) => ({
    type,
    status: "True",
    reason: "BackoffLimitExceeded",
    message: "Job has reached the specified backoff limit",
    lastProbeTime: at,
    lastTransitionTime: at,
  });
  return {
    status: {
      startTime: started.toISOString(),
      failed: 3,
      active: 0,
      ready: 0,
      terminating: 0,
      conditions: [condition("FailureTarget"), condition("Failed")],
    },
  };
}

/** Merge-patches an object's status subresource. */
async function patchStatus(client: KubeClient, objectPath: string, patch: object): Promise<void> {
  const response = await client.request(
    "PATCH",
    `${objectPath}/status`,
    JSON.stringify(patch),
    "application/merge-patch+json",
  );
  if (response.status >= 300) {
    throw new Error(
      `PATCH ${objectPath}/status: ${response.status} ${response.body.message ?? ""}`,
    );
  }
}

/**
 * The objects the alerts read: the backup CronJob (suspended: the controller must not start runs)
 * with a last success, a failed Job it owns, a failed migrations Job; and a failed Job in another
 * namespace, which kube-state-metrics must neither see nor be allowed to list.
 */
async function createJobsAndCronJob(admin: KubeClient, namespace: string): Promise<void> {
  const jobs = `/apis/batch/v1/namespaces/${namespace}`;
  const cronJob = await admin.create(`${jobs}/cronjobs`, {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: {
      name: BACKUP_CRONJOB,
      namespace,
      labels: { "app.kubernetes.io/component": "database-backup" },
    },
    spec: {
      schedule: "0 3 * * *",
      suspend: true,
      jobTemplate: { spec: { template: job(namespace, "template", {}).spec.template } },
    },
  });
  await patchStatus(admin, `${jobs}/cronjobs/${BACKUP_CRONJOB}`, {
    status: {
      lastScheduleTime: new Date(LAST_SUCCESS.getTime() - 240_000).toISOString(),
      lastSuccessfulTime: LAST_SUCCESS.toISOString(),
    },
  });
  const owner = { name: BACKUP_CRONJOB, uid: cronJob.metadata?.uid as string };
  const started = new Date(LAST_SUCCESS.getTime() + 86_400_000);
  const failures: [string, string, ReturnType<typeof job>][] = [
    [
      jobs,
      FAILED_BACKUP,
      job(namespace, FAILED_BACKUP, { "app.kubernetes.io/component": "database-backup" }, owner),
    ],
    [
      jobs,
      FAILED_MIGRATIONS,
      job(namespace, FAILED_MIGRATIONS, { "app.kubernetes.io/component": "migrations" }),
    ],
    [
      `/apis/batch/v1/namespaces/${ELSEWHERE}`,
      "elsewhere-1",
      job(ELSEWHERE, "elsewhere-1", { "app.kubernetes.io/component": "migrations" }),
    ],
  ];
  await admin.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: ELSEWHERE },
  });
  for (const [base, name, object] of failures) {
    await admin.create(`${base}/jobs`, object);
    await patchStatus(admin, `${base}/jobs/${name}`, failedStatus(started));
  }
}

/**
 * The exporter with the rendered arguments, listening on free loopback ports instead of the
 * container's, and authenticating with a token of its rendered ServiceAccount.
 */
async function runExporter(
  cluster: ControlPlane,
  namespace: string,
  deployment: Manifest,
  scratch: string,
): Promise<LoopbackServer> {
  const pod = (deployment.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  const container = (pod.containers as { args: string[] }[])[0];
  const account = pod.serviceAccountName as string;
  const token = await serviceAccountToken(cluster.client, namespace, account);
  const admin = JSON.parse(fs.readFileSync(path.join(cluster.dir, "admin.kubeconfig"), "utf8"));
  const kubeconfig = path.join(scratch, "kube-state-metrics.kubeconfig");
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({ ...admin, users: [{ name: "admin", user: { token } }] }),
    { mode: 0o600 },
  );
  const [port, telemetryPort] = [await freePort(), await freePort()];
  const args = container.args
    .filter((arg) => !/^--(port|telemetry-port)=/.test(arg))
    .concat([
      `--port=${port}`,
      `--telemetry-port=${telemetryPort}`,
      "--host=127.0.0.1",
      "--telemetry-host=127.0.0.1",
      `--kubeconfig=${kubeconfig}`,
    ]);
  console.log(`kube-state-metrics ${args.join(" ")}`);
  return startServer(
    binaryPath(kubeStateMetricsTool(), "kube-state-metrics"),
    args,
    `http://127.0.0.1:${port}`,
    `http://127.0.0.1:${telemetryPort}/readyz`,
  );
}

/** One sample of a text exposition. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments and blank lines skipped). */
function parseExposition(text: string): Sample[] {
  return text.split("\n").flatMap((line) => {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) return [];
    const labels = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(
        ([, key, value]) => [key, value.replace(/\\(.)/g, "$1")],
      ),
    );
    return [{ name: match[1], labels, value: Number(match[3]) }];
  });
}

/** Scrapes `/metrics` until `done` holds of the samples (its informers sync after start). */
async function scrapeUntil(url: string, done: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const samples = parseExposition(await (await fetch(`${url}/metrics`)).text());
    if (done(samples)) return samples;
    if (Date.now() > deadline) throw new Error(`no complete scrape of ${url} within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The value of the one sample of `name` with these labels (and maybe others), or undefined. */
function find(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1)
    throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/**
 * A promtool unit test over the scraped series as Prometheus's kube-state-metrics job stores them
 * (its target labels added, the series' own kept), the alert files of `charts/alerts` and the
 * backup threshold the stack records: the failed backup and migrations Jobs fire their alerts,
 * with exactly the labels the rules promise, and nothing else fires (the Job in another namespace
 * was never scraped). Alerts without `for`, so they fire at once; the
 * backup-age alert would need the clock at the scrape's timestamps, and its input, the last
 * success, is asserted above to the second.
 */
function promtoolTestFile(samples: Sample[], namespace: string, scratch: string): string {
  const thresholdFile = path.join(scratch, BACKUP_RULE_FILE);
  fs.writeFileSync(
    thresholdFile,
    backupRuleFile([{ cronJob: BACKUP_CRONJOB, maxAgeSeconds: 108000 }]),
  );
  const target = { job: KSM, instance: "10.42.0.12:8080", pod: "kube-state-metrics-7c9d-x2k4p" };
  const series = samples
    .filter((sample) => /^kube_(job|cronjob)_/.test(sample.name) && Number.isFinite(sample.value))
    .map((sample) => {
      const labels = Object.entries({ ...target, ...sample.labels })
        .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
        .join(", ");
      return { series: `${sample.name}{${labels}}`, values: `${sample.value}x5` };
    });
  // The firing alerts as Prometheus stores them (ALERTS): labels only, no annotations to copy.
  const firing = (alertname: string, labels: Record<string, string>) => ({
    labels: `ALERTS{${Object.entries({ alertname, alertstate: "firing", ...labels })
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(", ")}}`,
    value: 1,
  });
  const test = {
    rule_files: [
      path.join(DEFAULT_ALERTS_DIR, "data.yaml"),
      path.join(DEFAULT_ALERTS_DIR, "app.yaml"),
      thresholdFile,
    ],
    evaluation_interval: "1m",
    tests: [
      {
        interval: "1m",
        input_series: series,
        promql_expr_test: [
          {
            expr: 'ALERTS{alertstate="firing"}',
            eval_time: "2m",
            exp_samples: [
              firing("MigrationsJobFailed", {
                job_name: FAILED_MIGRATIONS,
                namespace,
                severity: "warning",
              }),
              firing("PostgresBackupFailed", {
                cronjob: BACKUP_CRONJOB,
                job_name: FAILED_BACKUP,
                namespace,
                severity: "warning",
              }),
            ],
          },
        ],
      },
    ],
  };
  const file = path.join(scratch, "alerts.test.yaml");
  fs.writeFileSync(file, stringify(test));
  return file;
}
