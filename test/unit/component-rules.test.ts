import { describe, expect, it } from "vitest";
import { setupMocks } from "../mocks";

/**
 * The rules this round added to the components' own `args.ts`: what a hand-built component is
 * refused for, by argument path (the stack config reports the same at its stack keys).
 */

setupMocks();

const pool = {
  maxClientConn: 1000,
  defaultPoolSize: 25,
  minPoolSize: 0,
  reservePoolSize: 5,
  reservePoolTimeoutSeconds: 3,
  serverIdleTimeoutSeconds: 600,
  serverLifetimeSeconds: 3600,
  queryWaitTimeoutSeconds: 120,
  maxPreparedStatements: 200,
};
const nano = { cpu: "25m", memory: "64Mi", cpuLimit: "250m", memoryLimit: "128Mi" };

describe("PgBouncer: clients must fit in the container's memory", () => {
  it("the estimate is documented arithmetic: 16 MiB + 2 KiB a client + server connections", async () => {
    const { pgbouncerMemoryMiB } = await import("../../components/pgbouncer/args");
    // 1000 × 2 KiB + 30 × (6 + 200) KiB on top of 16 MiB.
    expect(pgbouncerMemoryMiB(pool)).toBeCloseTo(16 + (2000 + 30 * 206) / 1024, 6);
  });

  it("100000 clients do not fit in 128Mi, 1000 do", async () => {
    const { pgbouncerRules } = await import("../../components/pgbouncer/args");
    expect(pgbouncerRules({ replicas: 1, pool, resources: nano })).toEqual([]);
    expect(
      pgbouncerRules({ replicas: 1, pool: { ...pool, maxClientConn: 100000 }, resources: nano }),
    ).toEqual([
      {
        propertyPath: "pool.maxClientConn",
        reason: expect.stringMatching(
          /^100000 clients need about 218 MiB, more than the PgBouncer container's memory limit \(128Mi\).*at most \d+/,
        ),
      },
    ]);
  });

  it("the limit, else the request, is the ceiling; without resources nothing is estimated", async () => {
    const { pgbouncerRules } = await import("../../components/pgbouncer/args");
    const big = { ...pool, maxClientConn: 100000 };
    expect(
      pgbouncerRules({ replicas: 1, pool: big, resources: { cpu: "1", memory: "512Mi" } }),
    ).toEqual([]);
    expect(pgbouncerRules({ replicas: 1, pool: big })).toEqual([]);
  });
});

describe("ObjectStore: one bucket per consumer", () => {
  it("a name two consumers share is refused at the later one", async () => {
    const { objectStoreRules } = await import("../../components/object-store/args");
    expect(
      objectStoreRules({ storageSize: "10Gi", buckets: { app: "data", backups: "data" } }),
    ).toEqual([
      {
        propertyPath: "buckets.backups",
        reason: expect.stringMatching(/^"data" is also buckets.app: /),
      },
    ]);
  });
});

describe("DeployTarget: names the platform does not own", () => {
  it("a target shaped like a node-log namespace is refused", async () => {
    const { deployTargetRules } = await import("../../components/deploy-target/args");
    expect(
      deployTargetRules({ namespace: "platform", targetNamespaces: ["team-node-logs"] }),
    ).toEqual([
      {
        propertyPath: "targetNamespaces.0",
        reason: expect.stringMatching(/must not end in "-node-logs"/),
      },
    ]);
  });
});

describe("cron schedules in the components' own rules", () => {
  it("Dragonfly's snapshot schedule", async () => {
    const { dragonflyRules } = await import("../../components/dragonfly/args");
    const args = {
      resources: { cpu: "100m", memory: "512Mi" },
      storageSize: "1Gi",
      snapshotCron: "a b c d e",
    };
    expect(dragonflyRules(args)).toEqual([
      { propertyPath: "snapshotCron", reason: expect.stringMatching(/bad minute field "a"/) },
    ]);
  });

  it("the Postgres backup schedule", async () => {
    const { postgresRules } = await import("../../components/postgres/args");
    const settings = {
      storageSize: "5Gi",
      resources: { cpu: "250m", memory: "512Mi" },
      maxConnections: 100,
      superuserReservedConnections: 3,
      backup: { schedule: "0 3 * * 7", retain: 7 },
    };
    expect(postgresRules(settings)).toEqual([
      { propertyPath: "backup.schedule", reason: expect.stringMatching(/7 is outside 0-6/) },
    ]);
  });
});
