import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runTool } from "./lib";

/**
 * The order `pulumi up` applies a credential change in, read from the plan of the whole program:
 * the database first, then the role-reconcile Job, and only after it every consumer that logs in
 * with a role's password or verifier.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-roles-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface PlanResource {
  urn: string;
  type: string;
  name: string;
  dependencies: string[];
}

describe.each(["dev", "prod"])("the %s stack's role-reconcile Job", (stack) => {
  const out = path.join(scratch, stack);
  let resources: PlanResource[] = [];
  const named = (type: string, name: RegExp): PlanResource => {
    const found = resources.filter((r) => r.type === type && name.test(r.name));
    expect(
      found.map((r) => r.name),
      `${type} ${name}`,
    ).toHaveLength(1);
    return found[0];
  };

  it("renders", () => {
    const result = runTool("render", [stack, "--out", out]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    resources = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8")).resources;
  });

  it("runs after the Postgres StatefulSet, and PgBouncer, migrations and Temporal after it", () => {
    const job = named("kubernetes:batch/v1:Job", /^postgres-roles$/);
    // Prod runs the Patroni members' StatefulSet (postgres.ha), dev the single server's.
    const statefulSet = named("kubernetes:apps/v1:StatefulSet", /^postgres(-ha)?$/);
    expect(job.dependencies).toContain(statefulSet.urn);
    const consumers = [
      named("kubernetes:apps/v1:Deployment", /^pgbouncer$/),
      named("kubernetes:batch/v1:Job", /^migrations-[0-9a-f]{8}$/),
      named("kubernetes:batch/v1:Job", /^temporal-schema-[0-9a-f]{8}$/),
    ];
    for (const consumer of consumers)
      expect(consumer.dependencies, consumer.name).toContain(job.urn);
  });
});
