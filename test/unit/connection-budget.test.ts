import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { directPostgresUsers, parseConfig } from "../../config";
import { serverUpdateStrategy } from "../../components/temporal/args";
import { readStackConfig } from "../../tools/lib/stack-file";
import { issuesByKey, parsedStackConfig, stackConfigIssues } from "./stack-config";

const root = path.resolve(__dirname, "..", "..");
const shipped = (stack: string) =>
  parseConfig(readStackConfig(path.join(root, `Pulumi.${stack}.yaml`)).values);

const total = (users: { count: number }[]) => users.reduce((sum, user) => sum + user.count, 0);

describe("the direct Postgres budget", () => {
  it("the shipped stacks fit their direct clients, each rollout counted as it really runs", () => {
    const dev = directPostgresUsers(shipped("dev"));
    expect(dev.map(({ name, count }) => [name, count])).toEqual([
      ["Temporal", 28],
      ["Temporal schema Job (temporal-sql-tool, beside the running servers on an upgrade)", 1],
      ["migrations Job (Atlas's advisory-lock session)", 1],
      ["postgres_exporter", 1],
    ]);
    expect(total(dev)).toBeLessThanOrEqual(shipped("dev").postgres.directConnections);
    const prod = directPostgresUsers(shipped("prod"));
    // Two pods per service, and the one a rollout replaces may still hold its pools.
    expect(prod[0]).toMatchObject({ name: "Temporal", count: 4 * (2 + 1) * (5 + 2) });
    expect(total(prod)).toBe(88);
    expect(total(prod)).toBeLessThanOrEqual(shipped("prod").postgres.directConnections);
  });

  it("counts Temporal's pods as its Deployments roll them: no surge, and one shutting down unless recreated", () => {
    for (const replicas of [1, 2, 3]) {
      const strategy = serverUpdateStrategy(replicas);
      const surge = strategy.type === "Recreate" ? 0 : strategy.rollingUpdate.maxSurge;
      expect(surge, `${replicas} replicas`).toBe(0);
      const shuttingDown = strategy.type === "Recreate" ? 0 : 1;
      const config = parsedStackConfig({
        profile: "dev",
        temporal: { separateServices: true, replicas },
        postgres: { maxConnections: 300, directConnections: 150 },
      });
      const temporal = directPostgresUsers(config).find(({ name }) => name === "Temporal");
      expect(temporal?.count).toBe(4 * (replicas + shuttingDown) * (5 + 2));
      expect(temporal?.note).toMatch(
        replicas === 1 ? /Recreate/ : /may hold its pools while it shuts down/,
      );
    }
  });

  it("a refusal lists every direct client with its arithmetic and the rollout it assumes", () => {
    const message = issuesByKey(
      stackConfigIssues({ profile: "prod", temporal: { replicas: 3 } }),
    ).get("k3s-platform:temporal.replicas");
    expect(message).toContain(
      "may open 116 connections, more than postgres.directConnections (88): " +
        "Temporal 4 services × (3 pods + 1 shutting down) × (maxConns 5 + visibilityMaxConns 2) = 112 " +
        "(a rollout replaces one pod at a time (maxSurge 0), and the pod it replaces may hold its " +
        "pools while it shuts down), " +
        "Temporal schema Job (temporal-sql-tool, beside the running servers on an upgrade) 1, " +
        "migrations Job (Atlas's advisory-lock session) 1, postgres_exporter 1, " +
        "backup CronJob (pg_dump, one database at a time) 1; ",
    );
  });

  it("names Recreate for the all-in-one server in a dev refusal", () => {
    const message = issuesByKey(
      stackConfigIssues({ profile: "dev", postgres: { directConnections: 20 } }),
    ).get("k3s-platform:postgres.directConnections");
    expect(message).toContain(
      "Temporal 4 services × 1 pod × (maxConns 5 + visibilityMaxConns 2) = 28 " +
        "(a rollout adds no pod: Recreate starts the new pod once the old one has exited)",
    );
  });
});
