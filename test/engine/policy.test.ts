import * as fs from "node:fs";
import { createRequire } from "node:module";
import type * as K8s from "@pulumi/kubernetes";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POLICIES } from "../../policy/catalogue";
import { startControlPlane, type ControlPlane } from "../e2e/lib/control-plane";
import { ensureE2eBinaries } from "../e2e/lib/tools";
import {
  ensureEngineBinaries,
  OperationFailure,
  preview,
  type EngineBinaries,
  type EngineStack,
  type OperationSummary,
} from "./lib/engine";
import { policyFindings, steps, type PolicyFinding } from "./lib/events";
import { engineObjects, npmRun } from "./lib/renders";
import { shippedStack } from "./lib/stacks";

/**
 * The policy pack as the engine runs it (`pulumi preview --policy-pack policy
 * [--policy-pack-config policy/config/prod.json]`, the analyzer plugin running policy/index.ts)
 * against what `npm run check` finds with the same rules in process: the same findings, mandatory
 * and advisory, rule by rule and resource by resource. And a change that breaks a mandatory rule is
 * refused by the engine's preview, naming the rules.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const nodeRequire = createRequire(__filename);

const binaries = Promise.all([ensureEngineBinaries(), ensureE2eBinaries()]);
binaries.catch(() => undefined); // awaited in beforeAll; not unhandled meanwhile

let cluster: ControlPlane | undefined;
let engine: EngineBinaries | undefined;

beforeAll(async () => {
  const [engineBinaries, controlPlane] = await binaries;
  engine = engineBinaries;
  cluster = await startControlPlane(controlPlane);
}, 1_800_000); // a cold build of the CLI and the provider takes minutes

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** A finding as both sides can name it: level, rule id, object and the rule's message. */
type Line = string;

describe.each(["dev", "prod"])("the policy pack on the %s stack under the real engine", (name) => {
  let stack: EngineStack | undefined;
  let previewed: OperationSummary | undefined;
  // Levels as `npm run check` reads them: policy/config/<profile>.json where there is one.
  const levels = `policy/config/${name}.json`;
  const policy = () => ({
    policyPacks: ["policy"],
    policyPackConfigs: fs.existsSync(path.join(ROOT, levels)) ? [levels] : [],
  });

  beforeAll(async () => {
    stack = await shippedStack(name, cluster as ControlPlane, engine as EngineBinaries);
    previewed = await preview(stack, policy());
  }, 300_000);

  afterAll(() => stack?.dispose());

  it("registers no random resource when every credential is given", () => {
    const types = new Set(steps(previewed?.events ?? []).map((step) => step.type));
    expect(types).toContain("kubernetes:apps/v1:StatefulSet");
    expect([...types].filter((type) => type.startsWith("random:"))).toEqual([]);
  });

  it("finds what npm run check finds, mandatory and advisory, rule by rule and resource by resource", async () => {
    const events = previewed?.events ?? [];
    const objects = engineObjects(events);
    const engineLines = policyFindings(events).map((finding) => line(finding, objects));
    // The engine's stack file: the same config, cluster and credentials (`secure:` values read as
    // mock secrets), so both sides judge the same objects.
    const report = await npmRun(
      ROOT,
      "check",
      name,
      "--stack-file",
      (stack as EngineStack).stackFile,
    );
    const checkLines = [...report.matchAll(/^\s+(✗|·) \[([\w-]+)\] (.*)$/gm)].map(
      ([, mark, rule, message]) =>
        `${mark === "✗" ? "mandatory" : "advisory"} [${rule}] ${message.trim()}`,
    );
    console.log(
      `[policy ${name}] engine: ${engineLines.length} findings ` +
        `(${engineLines.filter((l) => l.startsWith("mandatory")).length} mandatory); ` +
        `npm run check: ${checkLines.length}`,
    );
    expect(engineLines.map(sameCredentials).sort()).toEqual(checkLines.map(sameCredentials).sort());
    expect(engineLines.filter((l) => l.startsWith("mandatory"))).toEqual([]);
    // prod's images are not all pinned by digest: advisory there, so the comparison is not empty.
    if (name === "prod") expect(engineLines.length).toBeGreaterThan(0);
  });

  it("refuses a change that breaks mandatory rules, naming them", async () => {
    const kubeconfig = path.join((cluster as ControlPlane).dir, "admin.kubeconfig");
    const outcome = await preview(stack as EngineStack, {
      ...policy(),
      program: { extra: () => privilegedLatestDeployment(kubeconfig) },
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(OperationFailure);
    const failure = outcome as OperationFailure;
    const isProbe = (urn: string) => urn.endsWith("kubernetes:apps/v1:Deployment::policy-probe");
    const mandatory = policyFindings(failure.events)
      .filter((finding) => isProbe(finding.urn) && finding.level === "mandatory")
      .map((finding) => finding.policy);
    console.log(`[policy ${name}] the probe broke: ${[...new Set(mandatory)].join(", ")}`);
    expect(mandatory).toEqual(expect.arrayContaining(["pss-baseline", "image-pinned"]));
    for (const rule of mandatory) expect(failure.message, rule).toContain(rule);
    // Nothing else changed: the shipped objects' findings are those of the clean preview.
    const others = policyFindings(failure.events).filter((finding) => !isProbe(finding.urn));
    const objects = engineObjects(failure.events);
    const clean = engineObjects(previewed?.events ?? []);
    expect(others.map((finding) => line(finding, objects)).sort()).toEqual(
      policyFindings(previewed?.events ?? [])
        .map((finding) => line(finding, clean))
        .sort(),
    );
  }, 300_000);
});

/**
 * The role-reconcile Job is named after a hash of the verifiers it applies: the engine's come from
 * the stack's decrypted passwords, `check`'s from the mock secrets its stack file reads, so the
 * same Job has two names. Everything else in the line must agree.
 */
function sameCredentials(line: Line): Line {
  return line.replace(/\bpostgres-roles-[0-9a-f]{8}\b/g, "postgres-roles-<verifiers' hash>");
}

/** Each rule's description, which the engine's message starts with (on a line of its own). */
const DESCRIPTIONS = new Map<string, string>(
  POLICIES.map((policy) => [policy.name, policy.description]),
);

/**
 * `<level> [<rule>] <message>` as `npm run check` prints it: the engine's message is the rule's
 * description, a newline, then the rule's message; every rule's message starts with the object it
 * is about, `Kind/namespace/name: …`, so the object the engine's URN names is checked against it.
 */
function line(finding: PolicyFinding, objects: Map<string, string>): Line {
  const description = `${DESCRIPTIONS.get(finding.policy) ?? "(unknown rule)"}\n`;
  const text = finding.message.trim();
  const message = text.startsWith(description) ? text.slice(description.length).trim() : text;
  const object = objects.get(finding.urn);
  if (object !== undefined && !message.startsWith(`${object}: `)) {
    return `${finding.level} [${finding.policy}] (on ${object}) ${message}`;
  }
  return `${finding.level} [${finding.policy}] ${message}`;
}

/**
 * The probe: a Deployment in the platform namespace that runs `nginx:latest` privileged, which
 * the pack must refuse (pss-baseline: privileged; image-pinned: `latest`), among others.
 */
function privilegedLatestDeployment(kubeconfig: string): void {
  // Node's require, as the harness loads the program: the one SDK instance the engine serves.
  const k8s = nodeRequire("@pulumi/kubernetes") as typeof K8s;
  const provider = new k8s.Provider("policy-probe", { kubeconfig, enableServerSideApply: true });
  const labels = { "app.kubernetes.io/name": "policy-probe" };
  new k8s.apps.v1.Deployment(
    "policy-probe",
    {
      metadata: { name: "policy-probe", namespace: "platform", labels },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              { name: "nginx", image: "nginx:latest", securityContext: { privileged: true } },
            ],
          },
        },
      },
    },
    { provider },
  );
}
