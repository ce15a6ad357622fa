import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../e2e/lib/control-plane";
import type { KubeObject } from "../e2e/lib/kube-client";
import { copyRepository, type RepoCopy } from "./lib/repo-copy";
import { ensureE2eBinaries } from "../e2e/lib/tools";
import {
  destroy,
  ensureEngineBinaries,
  OperationFailure,
  preview,
  setConfig,
  up,
  type EngineStack,
} from "./lib/engine";
import { errors, steps, urnKind, urnName, type Step } from "./lib/events";
import { JOB_NAME_LABEL, withFailingPods } from "./lib/failing-pods";
import { npmRun } from "./lib/renders";
import { seconds, shippedStack } from "./lib/stacks";

/**
 * A migration that fails, under the real engine: kwok fails every pod of one release's migrations
 * Job (selected by the Job controller's `batch.kubernetes.io/job-name` label), so the real Job
 * controller marks it Failed after its retries and the provider reports that. The release is a
 * scratch copy of the repository with one more migration (its Job gets a new name) and a new app
 * image. On one control plane: the shipped dev stack installs (its own Job is not selected), the
 * release's upgrade fails and leaves the running app as it was, then after a destroy the release's
 * first install fails before any app Deployment exists.
 */

const MIGRATION = "20990101000000_engine_failing.sql";
const RELEASE_IMAGE = "registry.example.com/acme/app:0.2.0";
const APPS = ["app-web", "app-worker"];

/** The release: its copy of the repository, and its migrations Job's name from its render. */
async function prepareRelease(): Promise<{ copy: RepoCopy; job: string }> {
  const copy = copyRepository();
  fs.writeFileSync(
    path.join(copy.root, "atlas", "migrations", MIGRATION),
    "CREATE TABLE engine_failing (id bigint PRIMARY KEY);\n",
  );
  await copy.tsx("tools/migrate.ts", "hash");
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-engine-release-"));
  try {
    // The Job's name hashes the migration files, the image and the Job's settings, not the
    // cluster or the credentials, so the shipped stack file names it as the engine stack will.
    await npmRun(copy.root, "render", "dev", "--out", out);
    const files = fs
      .readdirSync(path.join(out, "manifests"))
      .filter((file) => file.startsWith("job-migrations-"));
    expect(files).toHaveLength(1);
    const job = parse(fs.readFileSync(path.join(out, "manifests", files[0]), "utf8")) as {
      metadata: { name: string };
    };
    return { copy, job: job.metadata.name };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const release = prepareRelease();
const binaries = Promise.all([
  ensureEngineBinaries(),
  Promise.all([ensureE2eBinaries(), release]).then(([controlPlane, { job }]) =>
    withFailingPods(controlPlane, JOB_NAME_LABEL, job),
  ),
]);
// Awaited in beforeAll; not unhandled meanwhile.
for (const pending of [release, binaries]) pending.catch(() => undefined);

describe("a failed migrations Job under the real engine", () => {
  let cluster: ControlPlane | undefined;
  let stack: EngineStack | undefined;
  let releaseJob = "";
  let program: { projectDir: string } = { projectDir: "" };
  const figures: string[] = [];
  const the = () => stack as EngineStack;
  const client = () => (cluster as ControlPlane).client;
  const appPath = (name: string) => `/apis/apps/v1/namespaces/platform/deployments/${name}`;

  beforeAll(async () => {
    const [engine, controlPlane] = await binaries;
    const { copy, job } = await release;
    releaseJob = job;
    program = { projectDir: copy.root };
    cluster = await startControlPlane(controlPlane);
    stack = await shippedStack("dev", cluster, engine);
    const installed = await up(stack);
    figures.push(`install of the shipped release: ${seconds(installed.durationMs)} s`);
  }, 1_800_000);

  afterAll(async () => {
    console.log(`[migrations failure figures]\n${figures.join("\n")}`);
    stack?.dispose();
    (await release.catch(() => undefined))?.copy.remove();
    await cluster?.stop();
  }, 60_000);

  it("fails an upgrade at its migrations Job and leaves the running app Deployments as they were", async () => {
    const before = await Promise.all(APPS.map((name) => client().get(appPath(name))));
    await setConfig(the(), { "k3s-platform:app.image": RELEASE_IMAGE });
    // The release really changes the app's Deployments: otherwise "unchanged" proves nothing.
    const planned = steps((await preview(the(), { program })).events);
    for (const name of APPS) expect(appSteps(planned, name).map((s) => s.op)).toEqual(["update"]);

    const failure = await failedUp();
    figures.push(`failed upgrade: ${seconds(failure.durationMs)} s`);
    expect(failure.message).toContain(releaseJob);
    const taken = steps(failure.events);
    const job = taken.filter((step) => urnName(step.urn) === releaseJob);
    expect(job.map((step) => [step.op, step.failed])).toEqual([["create", true]]);
    for (const name of APPS) expect(appSteps(taken, name), name).toEqual([]);

    const after = await Promise.all(APPS.map((name) => client().get(appPath(name))));
    for (const [index, name] of APPS.entries()) {
      expect(template(after[index]), name).toEqual(template(before[index]));
      expect(after[index].metadata?.generation, name).toBe(before[index].metadata?.generation);
      expect(JSON.stringify(template(after[index])), name).not.toContain(RELEASE_IMAGE);
    }
  }, 900_000);

  it("fails a first install at its migrations Job before any app Deployment exists", async () => {
    const removed = await destroy(the());
    figures.push(`destroy after the failed upgrade: ${seconds(removed.durationMs)} s`);
    expect((await client().request("GET", "/api/v1/namespaces/platform")).status).toBe(404);

    const failure = await failedUp();
    figures.push(`failed first install: ${seconds(failure.durationMs)} s`);
    expect(failure.message).toContain(releaseJob);
    const taken = steps(failure.events);
    expect(taken.some((step) => urnName(step.urn) === releaseJob && step.failed)).toBe(true);
    for (const name of APPS) {
      expect(appSteps(taken, name), name).toEqual([]);
      expect((await client().request("GET", appPath(name))).status, name).toBe(404);
    }
  }, 900_000);

  /** `up` of the release, which must fail. */
  async function failedUp(): Promise<OperationFailure> {
    const outcome = await up(the(), { program }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(OperationFailure);
    const failure = outcome as OperationFailure;
    // The engine's error for the release's Job says why: the Job failed.
    const job = steps(failure.events).find((step) => urnName(step.urn) === releaseJob);
    const reasons = errors(failure.events, job?.urn);
    console.log(`[migrations failure] ${releaseJob}: ${reasons.join(" | ").trim()}`);
    expect(reasons.join("\n")).toMatch(/BackoffLimitExceeded/);
    return failure;
  }
});

function appSteps(all: Step[], name: string): Step[] {
  return all.filter((step) => urnKind(step.urn) === "Deployment" && urnName(step.urn) === name);
}

function template(deployment: KubeObject): unknown {
  return (deployment.spec as { template: unknown }).template;
}
