import type * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import type { PostgresArgs } from "../../components/postgres";
import { haRules } from "../../components/postgres/ha-args";
import { PATRONI_RULES, waitForTopology } from "../../components/postgres/ha";
import { pgHbaConf, postgresSettings } from "../../components/postgres/config";
import {
  CLUSTER_WIDE_SETTINGS,
  patroniConfig,
  PATRONI_ENV,
  type PatroniConfigArgs,
} from "../../components/postgres/patroni";
import { argsForPostgres } from "../../platform/args/postgres";
import { setupMocks, unwrap } from "../mocks";
import { optionRecorder, pick, registeredUnder, type Recorded } from "./recorded";
import { parsedStackConfig } from "./stack-config";

const mocks = setupMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered specs are plain JSON here
type Json = any;

const SETTINGS = postgresSettings({
  maxConnections: 200,
  superuserReservedConnections: 3,
  memoryLimit: "4Gi",
  hbaFile: "/ignored/pg_hba.conf",
  settings: { archive_mode: "on", archive_command: "/bin/true %p" },
});

const patroniArgs = (overrides: Partial<PatroniConfigArgs> = {}): PatroniConfigArgs => ({
  scope: "postgres",
  namespace: "platform",
  labels: { "app.kubernetes.io/name": "postgres" },
  settings: SETTINGS,
  synchronousMode: true,
  synchronousStandbys: 1,
  dataDir: "/var/lib/postgresql/data/pgdata",
  binDir: "/usr/lib/postgresql/15/bin",
  pgpassFile: "/tmp/pgpass",
  ...overrides,
});

describe("the Patroni config", () => {
  const config: Json = patroniConfig(patroniArgs());

  it("takes every server setting from postgresSettings(), a setting added there included", () => {
    const local = config.postgresql.parameters;
    const clusterWide = config.bootstrap.dcs.postgresql.parameters;
    for (const [key, value] of Object.entries(SETTINGS)) {
      if (["listen_addresses", "port", "hba_file"].includes(key)) continue;
      expect({ ...local, ...clusterWide }[key], key).toEqual(value);
    }
    expect(local.archive_command).toBe("/bin/true %p");
  });

  it("puts the settings a standby must share with its primary into the cluster-wide DCS config", () => {
    expect(config.bootstrap.dcs.postgresql.parameters).toEqual({ max_connections: 200 });
    for (const key of Object.keys(config.postgresql.parameters)) {
      expect(CLUSTER_WIDE_SETTINGS.has(key), key).toBe(false);
    }
  });

  it("leaves the address and pg_hba to Patroni: its listen and pg_hba keys", () => {
    for (const key of ["listen_addresses", "port", "hba_file"]) {
      expect(config.postgresql.parameters).not.toHaveProperty(key);
    }
    expect(config.postgresql.listen).toBe("0.0.0.0:5432");
    const single = pgHbaConf()
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#"));
    expect(config.postgresql.pg_hba.slice(0, single.length)).toEqual(single);
    expect(config.postgresql.pg_hba.slice(single.length)).toEqual([
      "host    replication  standby  0.0.0.0/0  scram-sha-256",
      "host    replication  standby  ::/0       scram-sha-256",
    ]);
  });

  it("keeps the leader key in Endpoints, the primary's address in the same object", () => {
    expect(config.scope).toBe("postgres");
    expect(config.kubernetes).toMatchObject({
      namespace: "platform",
      use_endpoints: true,
      role_label: "role",
      ports: [{ name: "postgres", port: 5432 }],
    });
  });

  it("holds no password and nothing per member: those come from PATRONI_* env", () => {
    expect(config).not.toHaveProperty("name");
    expect(config.postgresql).not.toHaveProperty("connect_address");
    expect(config.restapi).not.toHaveProperty("connect_address");
    expect(config.postgresql.authentication).toEqual({
      superuser: { username: "postgres" },
      replication: { username: "standby" },
    });
    expect(Object.values(PATRONI_ENV)).toContain("PATRONI_SUPERUSER_PASSWORD");
  });

  it("waits for synchronous standbys only in synchronous mode", () => {
    expect(config.bootstrap.dcs).toMatchObject({
      synchronous_mode: true,
      synchronous_node_count: 1,
    });
    const two: Json = patroniConfig(patroniArgs({ synchronousStandbys: 2 }));
    expect(two.bootstrap.dcs.synchronous_node_count).toBe(2);
    const async: Json = patroniConfig(patroniArgs({ synchronousMode: false }));
    expect(async.bootstrap.dcs.synchronous_mode).toBe(false);
    expect(async.bootstrap.dcs).not.toHaveProperty("synchronous_node_count");
  });
});

describe("the HA rules", () => {
  const reasons = (ha: Parameters<typeof haRules>[0]) =>
    haRules(ha).map((error) => `${error.propertyPath}: ${error.reason}`);

  it("accept the prod default: 3 members on 3 nodes, 1 synchronous standby", () => {
    expect(reasons({ members: 3, nodes: 3 })).toEqual([]);
  });

  it("refuse a cluster of one member", () => {
    expect(reasons({ members: 1, nodes: 3 })).toEqual([
      expect.stringMatching(/^members: must be a whole number ≥ 2: a failover needs a standby/),
    ]);
  });

  it("refuse more members than nodes: the anti-affinity would leave them Pending", () => {
    expect(reasons({ members: 3, nodes: 2 })).toEqual([
      expect.stringMatching(/^nodes: is 2, fewer than the 3 HA members.*1 would stay Pending/),
    ]);
  });

  it("refuse as many synchronous standbys as members, unless commits wait for none", () => {
    expect(reasons({ members: 3, nodes: 3, synchronousStandbys: 3 })).toEqual([
      expect.stringMatching(/^synchronousStandbys: must be below postgres\.ha\.members \(3 ≥ 3\)/),
    ]);
    expect(
      reasons({ members: 3, nodes: 3, synchronousMode: false, synchronousStandbys: 3 }),
    ).toEqual([]);
  });
});

describe("postgres.ha from the stack config", () => {
  it("is on in prod with 3 members and off in dev", () => {
    const prod = argsForPostgres(parsedStackConfig({ profile: "prod" }));
    expect(prod.ha).toEqual({
      members: 3,
      nodes: 3,
      synchronousMode: true,
      synchronousStandbys: 1,
    });
    expect(argsForPostgres(parsedStackConfig({})).ha).toBeUndefined();
  });
});

function haArgs(): PostgresArgs {
  return {
    namespace: "platform",
    storageSize: "50Gi",
    storageClass: "local-path",
    resources: { cpu: "1", memory: "4Gi", cpuLimit: "4", memoryLimit: "4Gi" },
    maxConnections: 200,
    superuserReservedConnections: 3,
    protect: true,
    ha: { members: 3, nodes: 3 },
  };
}

describe("Postgres with ha", () => {
  let resources: Recorded[];
  let sts: Json;
  let pod: Json;

  beforeAll(async () => {
    const { Postgres } = await import("../../components/postgres");
    const recorder = optionRecorder();
    const component = new Postgres("pg", haArgs(), { transformations: recorder.transformations });
    await unwrap(component.directUrl);
    resources = await registeredUnder(mocks, "pg", recorder.opts);
    sts = pick(resources, "StatefulSet", "pg-ha").inputs;
    pod = sts.spec.template.spec;
  });

  it("replaces the single StatefulSet and its postgresql.conf with the members' own", () => {
    const names = resources.map((r) => `${r.type.split(":").pop()} ${r.name}`);
    expect(names).not.toContain("StatefulSet pg");
    expect(names).not.toContain("ConfigMap pg-config");
    expect(names).toEqual(expect.arrayContaining(["ConfigMap pg-patroni", "ConfigMap pg-init"]));
  });

  it("runs one member per node, all at once, kept in prod like the single server", () => {
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe("Parallel");
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      {
        topologyKey: "kubernetes.io/hostname",
        labelSelector: { matchLabels: sts.spec.selector.matchLabels },
      },
    ]);
    expect(pick(resources, "StatefulSet", "pg-ha").opts).toMatchObject({
      protect: true,
      retainOnDelete: true,
    });
  });

  it("runs the image's patroni on the rendered file as Spilo's postgres user, with an API token", () => {
    const member = pod.containers[0];
    expect(member.image).toBe("ghcr.io/zalando/spilo-17:4.0-p3");
    expect(member.command).toEqual(["patroni", "/etc/patroni/patroni.yml"]);
    expect(pod.securityContext).toMatchObject({ runAsUser: 101, runAsGroup: 103 });
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.serviceAccountName).toBe("pg-patroni");
    expect(sts.spec.template.metadata.labels["cluster-name"]).toBe("pg");
  });

  it("gives each member its name and address from the pod, passwords by secretKeyRef only", () => {
    const env: Json[] = pod.containers[0].env;
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    expect(byName.PATRONI_NAME.valueFrom.fieldRef.fieldPath).toBe("metadata.name");
    expect(byName.PATRONI_KUBERNETES_POD_IP.valueFrom.fieldRef.fieldPath).toBe("status.podIP");
    expect(byName.PATRONI_POSTGRESQL_CONNECT_ADDRESS.value).toBe(
      "$(PATRONI_KUBERNETES_POD_IP):5432",
    );
    for (const name of ["PATRONI_SUPERUSER_PASSWORD", "PATRONI_REPLICATION_PASSWORD"]) {
      expect(byName[name].value).toBeUndefined();
      expect(byName[name].valueFrom.secretKeyRef.key).toBe("password");
    }
  });

  it("grants Patroni exactly what its Endpoints-mode DCS calls", () => {
    expect(pick(resources, "Role", "pg-patroni").inputs.rules).toEqual(PATRONI_RULES);
    const verbs = Object.fromEntries(PATRONI_RULES.map((r) => [String(r.resources), r.verbs]));
    expect(verbs).toEqual({
      endpoints: ["get", "list", "watch", "create", "patch"],
      pods: ["list", "watch", "patch"],
    });
  });

  it("points `postgres` at whatever Endpoints Patroni writes, and postgres-replicas at standbys", () => {
    const primary = pick(resources, "Service", "pg").inputs;
    expect(primary.spec.selector).toBeUndefined();
    expect(primary.spec.ports).toEqual([
      { name: "postgres", port: 5432, targetPort: 5432, protocol: "TCP" },
    ]);
    const replicas = pick(resources, "Service", "pg-replicas").inputs;
    expect(replicas.spec.selector).toEqual({ ...sts.spec.selector.matchLabels, role: "replica" });
    expect(pick(resources, "Service", "pg-config").inputs.spec.clusterIP).toBe("None");
  });

  it("keeps its data apart from the single server's, so a switch deletes a protected StatefulSet", () => {
    // The single server is the StatefulSet "pg" with claims data-pg-0 (postgres.test.ts: protected
    // in prod); the members' claims are data-pg-ha-N. Flipping postgres.ha makes the engine delete
    // the other one, which `protect` refuses: the switch fails before anything changes.
    expect(sts.metadata.name).toBe("pg-ha");
    expect(sts.spec.volumeClaimTemplates.map((claim: Json) => claim.metadata.name)).toEqual([
      "data",
    ]);
    expect(pick(resources, "StatefulSet", "pg-ha").opts.protect).toBe(true);
    const generated = resources.filter((r) => r.type.endsWith(":RandomPassword"));
    expect(generated.map((r) => r.name)).toContain("pg-replication-password");
    for (const password of generated) expect(password.opts.protect, password.name).toBe(true);
  });

  it("is guarded by an immutable, protected topology ConfigMap that every other child waits for", () => {
    const guard = pick(resources, "ConfigMap", "pg-topology");
    expect(guard.inputs).toMatchObject({ immutable: true, data: { topology: "ha" } });
    expect(guard.opts).toMatchObject({ protect: true, replaceOnChanges: ["data"] });
    const marker = {} as pulumi.Resource;
    const transform = waitForTopology("pg-topology", () => marker);
    const child = transform({ name: "pg-ha", type: "t", props: {}, opts: {} } as Json);
    expect(child?.opts.dependsOn).toEqual([marker]);
    expect(
      transform({ name: "pg-topology", type: "t", props: {}, opts: {} } as Json),
    ).toBeUndefined();
  });

  it("lets a drain take one member at a time", () => {
    expect(pick(resources, "PodDisruptionBudget", "pg").inputs.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: sts.spec.selector.matchLabels },
    });
  });

  it("renders the Patroni config from the component's settings", () => {
    const data = pick(resources, "ConfigMap", "pg-patroni").inputs.data;
    const config = parse(data["patroni.yml"]) as Json;
    expect(config.bootstrap.dcs.postgresql.parameters.max_connections).toBe(200);
    expect(config.postgresql.parameters.shared_buffers).toBe("1024MB");
    expect(config.kubernetes.namespace).toBe("platform");
  });
});
