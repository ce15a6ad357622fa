import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { DragonflyArgs } from "../../components/dragonfly";
import { MOCK_SECRET_PREFIX, registeredOfType, setupMocks, unwrap } from "../mocks";
import { optionRecorder } from "./recorded";

const mocks = setupMocks();
/** The component module, loaded after the mocks are installed. */
const load = () => import("../../components/dragonfly");

/**
 * Flags Dragonfly v1.36.0 (the catalogue's tag) defines, with where each `ABSL_FLAG` lives in its
 * source (dragonflydb/dragonfly at tag v1.36.0; helio at the submodule commit 97138ac). An unknown
 * flag makes Dragonfly exit at start, which no test here could otherwise catch.
 */
const DRAGONFLY_V1_36_FLAGS: Record<string, string> = {
  port: "src/server/main_service.cc",
  dir: "src/server/server_family.cc",
  dbfilename: "src/server/server_family.cc",
  snapshot_cron: "src/server/server_family.cc (5-field cron; Dragonfly prepends the seconds)",
  requirepass: "src/server/server_family.cc (DFLY_requirepass via ParseFlagsFromEnv)",
  maxmemory: "src/server/main_service.cc (MemoryBytesFlag: 'mb' is MiB)",
  proactor_threads: "helio util/fibers/proactor_pool.cc",
  cluster_mode: "src/server/cluster_support.cc ('', 'emulated' or 'yes')",
  lock_on_hashtags: "src/server/common.cc",
  version_check: "src/server/dfly_main.cc",
};

const devResources = { cpu: "100m", memory: "512Mi", cpuLimit: "1", memoryLimit: "512Mi" };

function args(overrides: Partial<DragonflyArgs> = {}): DragonflyArgs {
  return {
    namespace: "platform",
    resources: devResources,
    threads: 1,
    storageSize: "1Gi",
    storageClass: "local-path",
    snapshotCron: "*/30 * * * *",
    ...overrides,
  };
}

function flagMap(flags: string[]): Map<string, string> {
  return new Map(
    flags.map((flag) => {
      const [name, ...value] = flag.replace(/^--/, "").split("=");
      return [name, value.join("=")];
    }),
  );
}

interface Container {
  name: string;
  args: string[];
  env: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef: { name: string; key: string } };
  }[];
  securityContext: Record<string, unknown>;
  readinessProbe: Record<string, unknown>;
  livenessProbe: Record<string, unknown>;
}
interface StatefulSetInputs {
  spec: {
    serviceName: string;
    template: {
      metadata: { annotations: Record<string, string> };
      spec: {
        containers: Container[];
        securityContext: Record<string, unknown>;
        enableServiceLinks: boolean;
      };
    };
    volumeClaimTemplates: {
      spec: { storageClassName: string; resources: { requests: { storage: string } } };
    }[];
  };
}

async function statefulSetOf(name: string): Promise<StatefulSetInputs> {
  const found = (await registeredOfType(mocks, "kubernetes:apps/v1:StatefulSet")).find(
    (resource) => resource.name === name,
  );
  if (!found) throw new Error(`no StatefulSet ${name}`);
  return found.inputs as unknown as StatefulSetInputs;
}

async function prodFlags(): Promise<string[]> {
  const { dragonflyCommandLine } = await load();
  return dragonflyCommandLine({ threads: 2, maxMemoryMiB: 1638, snapshotCron: "0 * * * *" });
}

describe("Dragonfly flags", () => {
  it("BullMQ flags are always on", async () => {
    const flags = await prodFlags();
    expect(flags).toContain("--cluster_mode=emulated");
    expect(flags).toContain("--lock_on_hashtags");
  });

  it("every flag is one Dragonfly v1.36 defines", async () => {
    const flags = await prodFlags();
    for (const name of flagMap(flags).keys()) {
      expect(DRAGONFLY_V1_36_FLAGS, `--${name}`).toHaveProperty(name);
    }
  });

  it("snapshots go to the volume under a stable name on the configured schedule", async () => {
    const flags = await prodFlags();
    const map = flagMap(flags);
    expect(map.get("dir")).toBe("/data");
    expect(map.get("dbfilename")).toBe("dump");
    expect(map.get("dbfilename")).not.toContain("{timestamp}");
    expect(map.get("snapshot_cron")).toBe("0 * * * *");
  });

  it("threads and maxmemory come from the args, maxmemory in MiB", async () => {
    const flags = await prodFlags();
    const map = flagMap(flags);
    expect(map.get("proactor_threads")).toBe("2");
    expect(map.get("maxmemory")).toBe("1638mb");
  });

  it("Dragonfly makes no call home", async () => {
    const flags = await prodFlags();
    expect(flagMap(flags).get("version_check")).toBe("false");
  });
});

describe("Dragonfly sizing", () => {
  it("maxmemory follows the memory limit", async () => {
    const { resolveDragonflyFlags } = await load();
    expect(resolveDragonflyFlags(args()).maxMemoryMiB).toBe(409);
    const prod = { cpu: "500m", memory: "2Gi", cpuLimit: "2", memoryLimit: "2Gi" };
    expect(resolveDragonflyFlags(args({ resources: prod, threads: 2 })).maxMemoryMiB).toBe(1638);
  });

  it("threads default to one per whole CPU of the limit, at least one", async () => {
    const { resolveDragonflyFlags } = await load();
    const resources = { cpu: "500m", memory: "2Gi", cpuLimit: "2", memoryLimit: "2Gi" };
    expect(resolveDragonflyFlags(args({ resources, threads: undefined })).threads).toBe(2);
    const small = { cpu: "100m", memory: "512Mi" };
    expect(resolveDragonflyFlags(args({ resources: small, threads: undefined })).threads).toBe(1);
  });

  it("too little memory for the threads is refused, naming maxMemoryMiB", async () => {
    const { dragonflyRules } = await load();
    expect(dragonflyRules(args({ threads: 2 }))).toEqual([
      { propertyPath: "maxMemoryMiB", reason: expect.stringMatching(/256 MiB per thread/) },
    ]);
  });

  it("maxmemory above the memory limit is refused", async () => {
    const { dragonflyRules } = await load();
    expect(dragonflyRules(args({ maxMemoryMiB: 600 }))).toEqual([
      expect.objectContaining({ propertyPath: "maxMemoryMiB" }),
    ]);
  });

  it("a snapshot schedule that is not five-field cron is refused", async () => {
    const { dragonflyRules } = await load();
    expect(dragonflyRules(args({ snapshotCron: "hourly" }))).toEqual([
      expect.objectContaining({ propertyPath: "snapshotCron" }),
    ]);
  });

  it("valid args have no problem", async () => {
    const { dragonflyRules } = await load();
    expect(dragonflyRules(args())).toEqual([]);
  });

  it("the constructor refuses bad args with every problem, before any child exists", async () => {
    const { Dragonfly } = await load();
    const before = (await registeredOfType(mocks, "kubernetes:apps/v1:StatefulSet")).length;
    expect(() => new Dragonfly("bad", args({ threads: 2, snapshotCron: "hourly" }))).toThrow(
      expect.objectContaining({
        errors: [
          expect.objectContaining({ propertyPath: "maxMemoryMiB" }),
          expect.objectContaining({ propertyPath: "snapshotCron" }),
        ],
      }),
    );
    expect(
      pulumi.InputPropertiesError.isInstance(
        catchError(() => new Dragonfly("bad2", args({ threads: 2 }))),
      ),
    ).toBe(true);
    expect((await registeredOfType(mocks, "kubernetes:apps/v1:StatefulSet")).length).toBe(before);
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("Dragonfly component", () => {
  it("the password is never a literal flag or env value", async () => {
    const { Dragonfly } = await load();
    const dragonfly = new Dragonfly("df-secret", args());
    const secretName = await unwrap(dragonfly.passwordSecret.name);
    const [main] = (await statefulSetOf("df-secret")).spec.template.spec.containers;
    expect(main.args.join(" ")).not.toContain(MOCK_SECRET_PREFIX);
    expect(main.args.some((flag) => flag.startsWith("--requirepass"))).toBe(false);
    expect(main.env).toEqual([
      {
        name: "DFLY_requirepass",
        valueFrom: { secretKeyRef: { name: secretName, key: "password" } },
      },
    ]);
    expect(JSON.stringify(main)).not.toContain(MOCK_SECRET_PREFIX);
  });

  it("the connection URL is a secret output and a Secret key", async () => {
    const { Dragonfly, DRAGONFLY_PORT } = await load();
    const dragonfly = new Dragonfly("df-url", args());
    expect(await pulumi.isSecret(dragonfly.url)).toBe(true);
    expect(await unwrap(dragonfly.url)).toBe(
      `redis://:${MOCK_SECRET_PREFIX}df-url-password@df-url.platform.svc.cluster.local:6379`,
    );
    expect(dragonfly.redisUrl.key).toBe("url");
    expect(await unwrap(dragonfly.host)).toBe("df-url.platform.svc.cluster.local");
    expect(await unwrap(dragonfly.port)).toBe(DRAGONFLY_PORT);
  });

  it("no Service can inject a DFLY_* variable that would stop Dragonfly", async () => {
    const { Dragonfly } = await load();
    new Dragonfly("df-links", args());
    const pod = (await statefulSetOf("df-links")).spec.template.spec;
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.containers[0].env.map((env) => env.name)).toEqual(["DFLY_requirepass"]);
  });

  it("Prometheus scrapes /metrics on the Redis port", async () => {
    const { Dragonfly } = await load();
    new Dragonfly("df-metrics", args());
    const template = (await statefulSetOf("df-metrics")).spec.template;
    expect(template.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "6379",
      "prometheus.io/path": "/metrics",
    });
  });

  it("readiness asks Dragonfly's HTTP endpoint and liveness only the port", async () => {
    const { Dragonfly } = await load();
    new Dragonfly("df-probes", args());
    const [main] = (await statefulSetOf("df-probes")).spec.template.spec.containers;
    expect(main.readinessProbe).toMatchObject({ httpGet: { path: "/metrics", port: "redis" } });
    expect(main.livenessProbe).toMatchObject({ tcpSocket: { port: "redis" } });
  });

  it("runs as the image's non-root user, read-only, with every capability dropped", async () => {
    const { Dragonfly } = await load();
    new Dragonfly("df-secure", args());
    const pod = (await statefulSetOf("df-secure")).spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999 });
    expect(pod.containers[0].securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("the snapshot volume takes its size and storage class from the args", async () => {
    const { Dragonfly } = await load();
    new Dragonfly("df-volume", args({ storageSize: "3Gi", storageClass: "fast" }));
    const [claim] = (await statefulSetOf("df-volume")).spec.volumeClaimTemplates;
    expect(claim.spec).toMatchObject({
      storageClassName: "fast",
      resources: { requests: { storage: "3Gi" } },
    });
  });

  it("the StatefulSet is governed by a headless Service; clients use the other", async () => {
    const { Dragonfly } = await load();
    const dragonfly = new Dragonfly("df-svc", args());
    expect((await statefulSetOf("df-svc")).spec.serviceName).toBe("df-svc-headless");
    const services = await registeredOfType(mocks, "kubernetes:core/v1:Service");
    const clusterIP = (name: string) =>
      (services.find((s) => s.name === name)?.inputs.spec as { clusterIP?: string }).clusterIP;
    expect(clusterIP("df-svc-headless")).toBe("None");
    expect(clusterIP("df-svc")).toBeUndefined();
    expect(await unwrap(dragonfly.service)).toBe("df-svc");
  });

  it("prod StatefulSets are protected and retained on delete", async () => {
    const { Dragonfly } = await load();
    const prod = optionRecorder();
    new Dragonfly("df-prod", args({ protect: true }), { transformations: prod.transformations });
    const dev = optionRecorder();
    new Dragonfly("df-dev", args(), { transformations: dev.transformations });
    const statefulSet = (seen: typeof prod.seen) =>
      seen.find((child) => child.type === "kubernetes:apps/v1:StatefulSet")?.opts;
    expect(statefulSet(prod.seen)).toMatchObject({ protect: true, retainOnDelete: true });
    expect(statefulSet(dev.seen)?.protect).toBeFalsy();
    expect(statefulSet(dev.seen)?.retainOnDelete).toBeFalsy();
  });
});
