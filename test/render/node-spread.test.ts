import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ROOT, runTool } from "./lib";

/**
 * The prod stack's PgBouncer and web replicas, as `render` writes them: spread across nodes hard
 * (`DoNotSchedule`) when `cluster.nodes` says there is more than one, softly otherwise; and
 * PgBouncer's pods stopped gracefully (the preStop pause, SIGTERM turned into SIGINT, a grace
 * period of the pause plus `pgbouncer.drainSeconds`).
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-node-spread-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- YAML read back, checked by the assertions

/**
 * Renders the shipped prod stack with `cluster`, `pgbouncer` and `postgres` merged over its own
 * sections.
 */
function renderProd(
  name: string,
  cluster: Record<string, unknown>,
  pgbouncer: Record<string, unknown> = {},
  postgres: Record<string, unknown> = {},
) {
  const file = parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  for (const [key, values] of Object.entries({ cluster, pgbouncer, postgres })) {
    const full = `k3s-platform:${key}`;
    file.config[full] = { ...(file.config[full] as Record<string, unknown>), ...values };
  }
  const stackFile = path.join(scratch, `Pulumi.${name}.yaml`);
  fs.writeFileSync(stackFile, stringify(file));
  const out = path.join(scratch, "out", name);
  const result = runTool("render", ["prod", "--stack-file", stackFile, "--out", out]);
  const pod = (deployment: string): Manifest =>
    parse(fs.readFileSync(path.join(out, "manifests", `deployment-${deployment}.yaml`), "utf8"))
      .spec.template.spec;
  return { ...result, pod };
}

const spreadOf = (pod: Manifest) => pod.topologySpreadConstraints;

describe("prod on one node, without Postgres HA (which needs a node per member)", () => {
  const rendered = renderProd("one-node", { nodes: 1 }, {}, { ha: { enabled: false } });

  it("PgBouncer's and the web's replicas only prefer other nodes", () => {
    expect(rendered.status, rendered.stderr).toBe(0);
    for (const deployment of ["pgbouncer", "app-web"]) {
      const [spread, ...more] = spreadOf(rendered.pod(deployment));
      expect(more, deployment).toEqual([]);
      expect(spread, deployment).toMatchObject({
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
      });
      expect(spread.nodeTaintsPolicy, deployment).toBeUndefined();
    }
  });

  it("PgBouncer stops after the preStop pause, on SIGINT, within 5 s + drainSeconds", () => {
    const pod = rendered.pod("pgbouncer");
    const pgbouncer = pod.containers.find((c: Manifest) => c.name === "pgbouncer");
    expect(pgbouncer.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    expect(pgbouncer.command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(pgbouncer.command[2]).toMatch(/trap 'kill -INT "\$child"[^']*' TERM/);
    expect(pgbouncer.command.slice(3)).toEqual([
      "pgbouncer",
      "/usr/bin/pgbouncer",
      "/etc/pgbouncer/pgbouncer.ini",
    ]);
    expect(pod.terminationGracePeriodSeconds).toBe(30);
  });
});

describe("prod on three nodes (cluster.nodes: 3, pgbouncer.drainSeconds: 55)", () => {
  const rendered = renderProd("three-nodes", { nodes: 3 }, { drainSeconds: 55 });

  it("PgBouncer's and the web's replicas never share a node, tainted nodes not counted", () => {
    expect(rendered.status, rendered.stderr).toBe(0);
    for (const deployment of ["pgbouncer", "app-web"]) {
      expect(spreadOf(rendered.pod(deployment)), deployment).toEqual([
        expect.objectContaining({
          maxSkew: 1,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "DoNotSchedule",
          nodeTaintsPolicy: "Honor",
        }),
      ]);
    }
  });

  it("PgBouncer's grace period follows drainSeconds", () => {
    expect(rendered.pod("pgbouncer").terminationGracePeriodSeconds).toBe(60);
  });
});
