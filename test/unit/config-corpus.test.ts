import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../config";
import { readStackConfig } from "../../tools/lib/stack-file";
import { fullKey, INVALID_STACKS, rawConfigOf } from "./config-corpus";
import { rawConfigIssues } from "./stack-config";

/**
 * The corpus of invalid stack configs (config-corpus.ts), each refused before anything exists at
 * the key it names and for the reason it gives; and valid stack files, `secure:` values
 * included, accepted as the engine-less tools read them.
 */

describe(`the corpus of ${INVALID_STACKS.length} invalid stack configs`, () => {
  it("is large and names each case once", () => {
    expect(INVALID_STACKS.length).toBeGreaterThanOrEqual(120);
    const names = INVALID_STACKS.map(({ name }) => name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(INVALID_STACKS.map((stack) => [stack.name, stack] as const))("%s", (_name, stack) => {
    const issues = rawConfigIssues(rawConfigOf(stack), stack.secretKeys);
    const key = fullKey(stack);
    const found = issues.some((issue) => issue.key === key && stack.reason.test(issue.message));
    expect(found, `wanted ${key}: ${stack.reason}\ngot ${JSON.stringify(issues, null, 2)}`).toBe(
      true,
    );
    // One problem, one line: arguments that come from the same key are reported once.
    const lines = issues.map((issue) => `${issue.key}: ${issue.message}`);
    expect(new Set(lines).size, lines.join("\n")).toBe(lines.length);
  });

  it("speaks in the stack file's words, never zod's, and never repeats a secret", () => {
    for (const stack of INVALID_STACKS) {
      const issues = rawConfigIssues(rawConfigOf(stack), stack.secretKeys);
      for (const { message } of issues) {
        expect(message, stack.name).not.toMatch(/Invalid input|Too small|Too big/);
        expect(message, stack.name).not.toContain("p@ss/word");
      }
      // A value refused on its own is not refused again by a rule comparing it with another.
      const memoryLimitTwice = issues.filter(({ key }) => key.endsWith(".memoryLimit"));
      expect(memoryLimitTwice.length, stack.name).toBeLessThanOrEqual(1);
    }
  });

  it("reports every problem of a stack at once, across the schema and the stack's other namespaces", () => {
    const issues = rawConfigIssues({
      ...rawConfigOf(INVALID_STACKS[0]),
      "k3s-platform:pgbouncer": JSON.stringify({ replicas: 0 }),
      "k3s-platform:namespace": "kube-system",
      "k3s_platform:app": "{}",
    });
    expect(issues.map(({ key }) => key)).toEqual(
      expect.arrayContaining([
        "k3s-platform:postgress",
        "k3s-platform:pgbouncer.replicas",
        "k3s-platform:namespace",
        "k3s_platform:app",
      ]),
    );
  });

  it("a missing profile is reported with the stack's other namespaces' problems", () => {
    const issues = rawConfigIssues({ "k3s_platform:profile": "dev" });
    expect(issues.map(({ key }) => key)).toEqual(["k3s-platform:profile", "k3s_platform:profile"]);
  });
});

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "config-corpus-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A stack file with the given config lines, read as `render` and `check` read it. */
function stackFile(name: string, lines: string[]): ReturnType<typeof readStackConfig> {
  const file = path.join(scratch, `Pulumi.${name}.yaml`);
  fs.writeFileSync(file, ["config:", ...lines.map((line) => `  ${line}`), ""].join("\n"));
  return readStackConfig(file);
}

const SECURE = "secure: v1:c2VjcmV0IGNpcGhlcnRleHQ=";

const VALID_FILES: [string, string[]][] = [
  [
    "dev with every secret key given with --secret",
    [
      "k3s-platform:profile: dev",
      "k3s-platform:app: {image: registry.example.com/app:1.0.0, registryUsername: ci}",
      `k3s-platform:arcjetKey: {${SECURE}}`,
      `k3s-platform:registryPassword: {${SECURE}}`,
      "k3s-platform:credentials:",
      `  postgres: {superuser: {${SECURE}}, app: {${SECURE}}, temporal: {${SECURE}}}`,
      `  pgbouncer: {stats: {${SECURE}}}`,
      `  dragonfly: {password: {${SECURE}}}`,
      `  objectStore: {root: {${SECURE}}, app: {${SECURE}}, backups: {${SECURE}}}`,
      `  grafana: {admin: {${SECURE}}}`,
    ],
  ],
  [
    "prod with a secret registry password and the providers' own keys",
    [
      "k3s-platform:profile: prod",
      "k3s-platform:cluster: {domain: platform.example.com, tlsSecretName: platform-tls, nodeCidrs: [10.0.0.0/24], nodes: 3}",
      "k3s-platform:deployTargets: {apiServer: {cidrs: [10.0.0.10/32]}}",
      `k3s-platform:app: {image: "registry.example.com/app@sha256:${"b".repeat(64)}", registryUsername: ci}`,
      `k3s-platform:registryPassword: {${SECURE}}`,
      "k3s-platform:observability: {alerting: {receivers: {oncall: {kind: webhook}}}}",
      `k3s-platform:credentials: {alerting: {oncall: {${SECURE}}}}`,
      "k3s-platform:postgres: {ha: {enabled: true}, backup: {acceptBackupsOnNode: true}}",
      "kubernetes:context: k3s-prod",
      "pulumi:tags: {team: platform}",
    ],
  ],
  ["dev with the app off, as shipped", ["k3s-platform:profile: dev"]],
  [
    "prod with a build whose login also pulls",
    [
      "k3s-platform:profile: prod",
      "k3s-platform:cluster: {domain: platform.example.com, tlsSecretName: platform-tls, nodeCidrs: [10.0.0.0/24], nodes: 3}",
      "k3s-platform:deployTargets: {apiServer: {cidrs: [10.0.0.10/32]}}",
      "k3s-platform:app:",
      "  build: {context: app-source, registry: {server: ghcr.io, username: ci}, repository: acme/app}",
      "  web: {port: 8000, probes: {readiness: {path: /api/health}, liveness: {exec: [/bin/alive]}}}",
      "  worker: {command: [node, dist/worker.js], probes: {readiness: {exec: [/bin/ready]}, liveness: {exec: [/bin/alive]}}}",
      `k3s-platform:registryPassword: {${SECURE}}`,
      "k3s-platform:observability:",
      "  alerting: {receivers: {ops: {kind: email, to: ops@example.com, from: alerts@example.com, smarthost: 'smtp.example.com:587'}}}",
      `k3s-platform:credentials: {alerting: {ops: {${SECURE}}}}`,
      "k3s-platform:postgres:",
      "  ha: {enabled: true}",
      "  backup:",
      "    target: {type: s3, endpoint: 'https://s3.eu-central-1.amazonaws.com', region: eu-central-1, bucket: acme-backups, prefix: prod/postgres, pathStyle: false}",
      `k3s-platform:backupS3AccessKeyId: {${SECURE}}`,
      `k3s-platform:backupS3SecretAccessKey: {${SECURE}}`,
    ],
  ],
  [
    "dev with an existing pull Secret",
    [
      "k3s-platform:profile: dev",
      "k3s-platform:app: {image: registry.example.com/app:1.0.0, imagePullSecret: acme-pull}",
    ],
  ],
  [
    "dev with a numeric namespace, valid as Kubernetes has it",
    [
      "k3s-platform:profile: dev",
      "k3s-platform:namespace: 123",
      "k3s-platform:app: {image: registry.example.com/app:1.0.0}",
    ],
  ],
  [
    "prod that knowingly runs without backups and without alert receivers",
    [
      "k3s-platform:profile: prod",
      "k3s-platform:cluster: {domain: platform.example.com, tlsSecretName: platform-tls, nodeCidrs: [10.0.0.0/24], nodes: 3}",
      "k3s-platform:deployTargets: {apiServer: {cidrs: [10.0.0.10/32]}}",
      `k3s-platform:app: {image: "registry.example.com/app@sha256:${"c".repeat(64)}"}`,
      "k3s-platform:postgres: {ha: {enabled: true}, backup: {enabled: false, acceptNoBackups: true}}",
      "k3s-platform:observability: {alerting: {acceptNoReceivers: true}}",
    ],
  ],
  [
    "dev with its own resources, the default memory limit not merged in",
    [
      "k3s-platform:profile: dev",
      "k3s-platform:app: {image: registry.example.com/app:1.0.0}",
      "k3s-platform:postgres: {resources: {cpu: 250m, memory: 2Gi}}",
      "k3s-platform:dragonfly: {resources: {cpu: 100m, memory: 1Gi}, snapshotCron: '0 */6 * * MON-FRI'}",
    ],
  ],
];

describe("valid stack files are accepted", () => {
  it.each(VALID_FILES)("%s", (name, lines) => {
    const { values, secretKeys } = stackFile(name.replace(/\W+/g, "-"), lines);
    let issues: unknown[] = [];
    try {
      parseConfig(values, secretKeys);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues = error.issues;
    }
    expect(issues).toEqual([]);
  });

  it("a stack's resources replace the default whole", () => {
    const [, lines] =
      VALID_FILES.find(([name]) => name.startsWith("dev with its own resources")) ?? [];
    const { values, secretKeys } = stackFile("own-resources", lines ?? []);
    const config = parseConfig(values, secretKeys);
    expect(config.postgres.resources).toEqual({ cpu: "250m", memory: "2Gi" });
  });
});
