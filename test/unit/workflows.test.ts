import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/*
 * The GitHub workflows, parsed and held to what the repository relies on: which events run what,
 * tokens no wider than each job needs, fork pull requests never near a secret or a write token,
 * prod only behind an approval, and every command one that exists in this repository.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const DIR = path.join(ROOT, ".github", "workflows");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, string | number | boolean>;
  env?: Record<string, string>;
}
interface Job {
  name?: string;
  if?: string;
  needs?: string | string[];
  environment?: string | { name: string };
  permissions?: Record<string, string> | string;
  env?: Record<string, string>;
  container?: string;
  "timeout-minutes"?: number;
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, Record<string, unknown> | null>;
  permissions?: Record<string, string> | string;
  concurrency?: { group: string; "cancel-in-progress"?: boolean };
  jobs: Record<string, Job>;
}

const FILES = ["preview.yml", "preview-comment.yml", "up.yml", "images-lock.yml"];
const text = (file: string) => fs.readFileSync(path.join(DIR, file), "utf8");
const load = (file: string) => parse(text(file)) as Workflow;
const workflows = Object.fromEntries(FILES.map((file) => [file, load(file)]));
const preview = workflows["preview.yml"];
const comment = workflows["preview-comment.yml"];
const up = workflows["up.yml"];
const imagesLock = workflows["images-lock.yml"];

const allJobs = () =>
  FILES.flatMap((file) =>
    Object.entries(workflows[file].jobs).map(([id, job]) => ({ file, id, job })),
  );
const stepUsing = (job: Job, action: string) =>
  job.steps.find((step) => step.uses?.startsWith(`${action}@`));
const runs = (job: Job) => job.steps.flatMap((step) => (step.run ? [step.run] : []));

/** Whether dotted version `have` is at least `want` (`1.26.8` ≥ `1.26.0`). */
function atLeast(have: string, want: string): boolean {
  const a = have.split(".").map(Number);
  const b = want.split(".").map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** A job writes a PR comment: github-script calling the comment API, or pulumi's comment-on-pr. */
function comments(job: Job): boolean {
  return job.steps.some(
    (step) =>
      (step.uses?.startsWith("actions/github-script@") &&
        /createComment|updateComment/.test(String(step.with?.script))) ||
      (step.uses?.startsWith("pulumi/actions@") && step.with?.["comment-on-pr"] === true),
  );
}

describe("workflow permissions", () => {
  it("never grants write-all or read-all, and every job states its own permissions", () => {
    for (const file of FILES) {
      expect(text(file)).not.toMatch(/write-all|read-all/);
      expect(typeof workflows[file].permissions).toBe("object");
    }
    for (const { job } of allJobs()) expect(typeof job.permissions).toBe("object");
  });

  it("grants pull-requests: write to the commenting jobs only, and no other write scope", () => {
    for (const { file, id, job } of allJobs()) {
      const permissions = job.permissions as Record<string, string>;
      const writes = Object.entries(permissions).filter(([, level]) => level === "write");
      // The image lock's refresh pushes its branch and opens its pull request: that job alone.
      const lockRefresh = file === "images-lock.yml" && id === "lock";
      const expected = lockRefresh
        ? [
            ["contents", "write"],
            ["pull-requests", "write"],
          ]
        : comments(job)
          ? [["pull-requests", "write"]]
          : [];
      expect(writes, `${file} ${id}`).toEqual(expected);
    }
    const commenting = allJobs().filter(({ job }) => comments(job));
    expect(commenting.map(({ file, id }) => `${file}:${id}`).sort()).toEqual([
      "preview-comment.yml:comment",
      "preview.yml:pulumi-preview",
    ]);
  });

  it("pins every action to a full commit SHA and names the version beside it", () => {
    for (const file of FILES) {
      const lines = text(file)
        .split("\n")
        .filter((line) => /^\s*(-\s+)?uses:/.test(line));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      }
    }
  });
});

describe("images-lock.yml", () => {
  const job = imagesLock.jobs.lock;

  it("runs weekly and on demand, never on pull requests", () => {
    expect(Object.keys(imagesLock.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    const [schedule] = imagesLock.on.schedule as unknown as { cron: string }[];
    expect(schedule.cron).toMatch(/^\d+ \d+ \* \* \d$/);
  });

  it("re-resolves with the repository's own command on the pinned Node", () => {
    expect(stepUsing(job, "actions/setup-node")?.with?.["node-version-file"]).toBe(".node-version");
    expect(runs(job).some((command) => command.startsWith("npm ci"))).toBe(true);
    expect(runs(job).some((command) => /npm run images:lock/.test(command))).toBe(true);
  });

  it("holds the token only in the step that pushes and opens the pull request", () => {
    expect(stepUsing(job, "actions/checkout")?.with?.["persist-credentials"]).toBe(false);
    const holding = job.steps.filter((step) => JSON.stringify(step).includes("github.token"));
    expect(holding).toHaveLength(1);
    expect(holding[0].run).toMatch(/gh pr create/);
    expect(holding[0].run).toMatch(/gh pr edit/);
    expect(holding[0].run).toContain("git add policy/images.lock.json");
  });
});

describe("preview.yml", () => {
  it("runs on pull requests to main, never on pull_request_target", () => {
    expect(Object.keys(preview.on)).toEqual(["pull_request"]);
    expect(preview.on.pull_request).toEqual({ branches: ["main"] });
    for (const file of FILES)
      expect(Object.keys(workflows[file].on)).not.toContain("pull_request_target");
  });

  it("keeps one run per pull request", () => {
    expect(preview.concurrency?.group).toContain("github.event.pull_request.number");
    expect(preview.concurrency?.["cancel-in-progress"]).toBe(true);
  });

  it("runs the README's tests, both stacks' checks and diffs against the base branch", () => {
    expect(runs(preview.jobs.test)).toContain("bash tools/test-all.sh");
    const diff = preview.jobs.diff;
    expect(stepUsing(diff, "actions/checkout")?.with?.["fetch-depth"]).toBe(0);
    expect(stepUsing(diff, "actions/setup-node")?.with).toMatchObject({ cache: "npm" });
    for (const stack of ["dev", "prod"]) {
      expect(runs(diff)).toContain(`npm run check -- ${stack}`);
      const step = diff.steps.find((s) =>
        s.run?.includes(`diff -- "origin/\${BASE_REF}" ${stack}`),
      );
      expect(step?.run).toBe(
        `npm run diff -- "origin/\${BASE_REF}" ${stack} --out diff-${stack}.md`,
      );
      expect(step?.env?.BASE_REF).toBe("${{ github.base_ref }}");
    }
    const upload = stepUsing(diff, "actions/upload-artifact")?.with;
    expect(String(upload?.path).split("\n")).toEqual(
      expect.arrayContaining(["diff-dev.md", "diff-prod.md", "pr-number"]),
    );
  });

  it("tests in a Debian 12 container, the release with postgresql-15 and pgbouncer", () => {
    const job = preview.jobs.test;
    expect(job.container).toBe("debian:12");
    expect(job["timeout-minutes"]).toBeGreaterThanOrEqual(60);
  });

  it("caches the test tools under a key of every file that pins their versions", () => {
    const job = preview.jobs.test;
    const cache = stepUsing(job, "actions/cache");
    expect(cache?.with?.path).toBe("~/.cache/k3s-platform");
    const key = String(cache?.with?.key);
    for (const pins of [
      ".node-version",
      "core/images.ts",
      "package.json",
      "test/integration/lib/**",
      "test/engine/lib/**",
      "test/**/go.mod",
      "test/**/go.sum",
      "test/**/*.go",
    ]) {
      expect(key).toContain(`'${pins}'`);
    }
    // The built binaries depend on the Go too, which hashFiles cannot see.
    const go = String(stepUsing(job, "actions/setup-go")?.with?.["go-version"]);
    expect(key).toContain(`go${go}-`);
    expect(cache?.with?.["restore-keys"]).toBe(key.slice(0, key.indexOf("${{")));
    const test = job.steps.findIndex((step) => step.run === "bash tools/test-all.sh");
    expect(job.steps.indexOf(cache as Step)).toBeLessThan(test);
  });

  it("builds the test tools with a Go at least as new as every one of their modules asks", () => {
    const go = String(stepUsing(preview.jobs.test, "actions/setup-go")?.with?.["go-version"]);
    const modules = fs
      .readdirSync(path.join(ROOT, "test"), { recursive: true, encoding: "utf8" })
      .filter((file) => path.basename(file) === "go.mod");
    expect(modules.length).toBeGreaterThan(0);
    for (const file of modules) {
      const wanted = /^go (\S+)$/m.exec(fs.readFileSync(path.join(ROOT, "test", file), "utf8"));
      expect(wanted, file).not.toBeNull();
      expect(atLeast(go, wanted?.[1] ?? ""), `${file} asks for go ${wanted?.[1]}`).toBe(true);
    }
  });

  it("runs the pull request's code without any secret", () => {
    for (const id of ["test", "diff"]) {
      expect(JSON.stringify(preview.jobs[id])).not.toContain("secrets.");
      for (const step of preview.jobs[id].steps.filter((s) =>
        s.uses?.startsWith("actions/checkout@"),
      )) {
        expect(step.with?.["persist-credentials"]).toBe(false);
      }
    }
  });

  it("previews with Pulumi, the policy pack and a PR comment only where credentials can exist", () => {
    const job = preview.jobs["pulumi-preview"];
    expect(job.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
    expect(stepUsing(job, "pulumi/actions")?.with).toMatchObject({
      command: "preview",
      "stack-name": "dev",
      "comment-on-pr": true,
      policyPacks: "policy",
    });
    expect(job.env?.HAS_CREDENTIALS).toContain("secrets.PULUMI_ACCESS_TOKEN");
  });
});

describe("preview-comment.yml", () => {
  const job = comment.jobs.comment;

  it("is triggered by the preview workflow's completed runs", () => {
    expect(comment.on).toEqual({
      workflow_run: { workflows: [preview.name], types: ["completed"] },
    });
    expect(job.if).toContain("github.event.workflow_run.event == 'pull_request'");
  });

  it("never checks out or runs the pull request's code", () => {
    expect(stepUsing(job, "actions/checkout")).toBeUndefined();
    expect(runs(job)).toEqual([]);
    expect(comment.permissions).toEqual({});
  });

  it("posts the artifact the preview run uploaded, as one sticky comment", () => {
    const uploaded = stepUsing(preview.jobs.diff, "actions/upload-artifact")?.with?.name;
    expect(stepUsing(job, "actions/download-artifact")?.with).toMatchObject({
      name: uploaded,
      "run-id": "${{ github.event.workflow_run.id }}",
    });
    const script = String(stepUsing(job, "actions/github-script")?.with?.script);
    expect(script).toContain("updateComment");
    expect(script).toContain("pr.head.sha !== run.head_sha");
  });
});

describe("up.yml", () => {
  it("deploys dev on every push to main", () => {
    expect(up.on).toEqual({ push: { branches: ["main"] } });
    expect(up.concurrency?.["cancel-in-progress"]).toBe(false);
    expect(up.jobs.dev.environment).toBeUndefined();
    expect(stepUsing(up.jobs.dev, "pulumi/actions")?.with).toMatchObject({
      command: "up",
      "stack-name": "dev",
    });
  });

  it("deploys prod only after dev, through the protected production environment", () => {
    const prod = up.jobs.prod;
    expect([prod.needs].flat()).toEqual(["dev"]);
    expect(prod.environment).toBe("production");
    expect(stepUsing(prod, "pulumi/actions")?.with).toMatchObject({
      command: "up",
      "stack-name": "prod",
      policyPacks: "policy",
    });
    // It builds what it deploys: the app repository, checked out where app.build.context points.
    const stack = parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    const context = stack.config["k3s-platform:app"].build.context as string;
    const checkout = prod.steps.find(
      (step) => step.uses?.startsWith("actions/checkout@") && step.with?.path === context,
    );
    expect(checkout?.with?.repository).toBe("${{ vars.APP_REPOSITORY }}");
    expect(prod.steps.indexOf(checkout as (typeof prod.steps)[number])).toBeLessThan(
      prod.steps.indexOf(stepUsing(prod, "pulumi/actions") as (typeof prod.steps)[number]),
    );
    expect(path.isAbsolute(context) || context.startsWith("..")).toBe(false);
    // Prod's cluster credentials are a secret of its environment, never shared with dev.
    expect(JSON.stringify(prod)).toContain("secrets.PROD_KUBECONFIG");
    expect(JSON.stringify(up.jobs.dev)).not.toContain("PROD_KUBECONFIG");
  });
});

describe("Node.js", () => {
  const pinned = fs.readFileSync(path.join(ROOT, ".node-version"), "utf8").trim();
  const engines = (
    JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      engines: { node: string };
    }
  ).engines.node;

  it("every workflow sets up the release the test command runs the whole suite on", () => {
    const setups = allJobs().flatMap(({ job }) =>
      job.steps.filter((step) => step.uses?.startsWith("actions/setup-node@")),
    );
    expect(setups.length).toBeGreaterThan(0);
    for (const step of setups) expect(step.with?.["node-version-file"]).toBe(".node-version");
    expect(fs.readFileSync(path.join(ROOT, "tools", "test-all.sh"), "utf8")).toContain(
      "< .node-version",
    );
  });

  it("pins an exact release whose major is package.json's engines floor", () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    // The floor is the major the whole suite runs on: a lower one would promise an untested Node.
    expect(engines).toBe(`>=${pinned.split(".")[0]}`);
  });
});

describe("workflow commands", () => {
  const scripts = Object.keys(
    (
      JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      }
    ).scripts,
  );

  it("only run npm scripts and files that exist in the repository", () => {
    for (const { job } of allJobs()) {
      for (const command of runs(job).flatMap((run) => run.split("\n"))) {
        for (const [, script] of command.matchAll(/npm run ([\w:-]+)/g)) {
          expect(scripts).toContain(script);
        }
        for (const [, file] of command.matchAll(/\bbash ([\w./-]+)/g)) {
          expect(fs.existsSync(path.join(ROOT, file)), file).toBe(true);
        }
      }
    }
  });

  it("point the Pulumi steps at the policy pack, and at config files that exist", () => {
    let steps = 0;
    for (const { job } of allJobs()) {
      const pulumi = stepUsing(job, "pulumi/actions")?.with;
      if (!pulumi) continue;
      steps += 1;
      expect(fs.existsSync(path.join(ROOT, String(pulumi.policyPacks), "PulumiPolicy.yaml"))).toBe(
        true,
      );
      // The pack reads the profile from the stack; a config file only sets levels.
      if (pulumi.policyPackConfigs === undefined) continue;
      expect(fs.existsSync(path.join(ROOT, String(pulumi.policyPackConfigs)))).toBe(true);
    }
    expect(steps).toBeGreaterThan(0);
  });
});
