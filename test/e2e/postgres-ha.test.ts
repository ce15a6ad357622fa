import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scramSalt, scramSha256Verifier } from "../../components/lib/scram";
import { pgbouncerIni, STATS_USER, userlistTxt } from "../../components/pgbouncer";
import { initSql, PATRONI_API_PORT, platformRoles, POSTGRES_PORT } from "../../components/postgres";
import type { Manifest } from "../../policy/model/render-model";
import { serviceAccountUser, type AccessQuestion } from "../deploy-target-access";
import { ensurePatroni, PATRONI_VERSION } from "../integration/lib/patroni";
import { startPgBouncer, type PgBouncerServer } from "../integration/lib/pgbouncer";
import {
  generatedLikePassword,
  runProgram,
  stackConfig,
} from "../integration/lib/rendered-postgres";
import { canI } from "./lib/access-review";
import { applyRender, type Applied } from "./lib/apply-render";
import { sleep, startControlPlane, waitFor, type ControlPlane } from "./lib/control-plane";
import { startEndpointsProxy, type EndpointsProxy } from "./lib/endpoints-proxy";
import { kubeconfigOf } from "./lib/kubectl";
import {
  startPatroniCluster,
  type LoopbackMember,
  type PatroniLoopback,
} from "./lib/patroni-cluster";
import { renderObjects, type PlanResource } from "./lib/render-objects";
import { serviceAccountToken } from "./lib/service-account-token";
import { ensureE2eBinaries } from "./lib/tools";
import { startLoad, startSequenceWriter, type SequenceWriter } from "./lib/write-load";

/**
 * `postgres.ha` of the prod render on a real API server. Its objects are applied under strict
 * field validation and the namespace's Pod Security `restricted`, and the Patroni Role is asked
 * verb by verb of the API server's authorizer. Then three real Patroni members (PyPI's Patroni,
 * Debian's PostgreSQL 15) run the rendered `patroni.yml` and container environment, as the
 * rendered ServiceAccount, with the API server as their DCS, behind our PgBouncer, which reaches
 * them through a stand-in for kube-proxy that follows the `postgres` Endpoints Patroni writes.
 * Under pgbench load and a writer of a numbered sequence, the primary's Patroni and PostgreSQL are
 * killed with SIGKILL: a standby must take over, the Endpoints follow, PgBouncer's clients write
 * again, and every value whose commit was acknowledged must be there afterwards.
 */

const STACK = "prod";
const FAILOVERS = Number(process.env.K3S_PLATFORM_FAILOVERS ?? 5);
const PATRONI_NAME = "postgres-patroni";

const binaries = Promise.all([ensureE2eBinaries(), ensurePatroni()]);
const render = renderObjects(STACK);
for (const pending of [binaries, render]) pending.catch(() => undefined);

/** The rendered objects of Postgres HA: the Namespace, every `postgres` object, its policy. */
function haObjects(resources: PlanResource[]): PlanResource[] {
  return resources.filter((resource) => {
    const manifest = resource.manifest;
    if (!manifest) return false;
    const labels = (manifest.metadata.labels ?? {}) as Record<string, string>;
    return (
      manifest.kind === "Namespace" ||
      manifest.metadata.name === "allow-postgres" ||
      (labels["app.kubernetes.io/name"] === "postgres" &&
        labels["app.kubernetes.io/component"] === "database")
    );
  });
}

function manifestOf(resources: PlanResource[], kind: string, name: string): Manifest {
  const found = resources.find(
    (r) => r.manifest?.kind === kind && r.manifest.metadata.name === name,
  );
  if (!found?.manifest) throw new Error(`the render has no ${kind} ${name}`);
  return found.manifest;
}

describe(`Postgres HA of the ${STACK} render on a real API server`, () => {
  let cluster: ControlPlane | undefined;
  let resources: PlanResource[] = [];
  let applied: Applied[] = [];
  let namespace = "";
  const client = () => (cluster as ControlPlane).client;

  beforeAll(async () => {
    const [e2e] = await binaries;
    cluster = await startControlPlane(e2e);
    resources = await render;
    namespace = manifestOf(resources, "StatefulSet", "postgres-ha").metadata.namespace as string;
    applied = await applyRender(cluster.client, haObjects(resources));
  }, 600_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("accepts every HA object, strictly validated, with no Pod Security warning", () => {
    const kinds = applied.map((entry) => entry.id.split("/")[0]);
    for (const kind of ["StatefulSet", "Role", "RoleBinding", "ServiceAccount"]) {
      expect(kinds).toContain(kind);
    }
    expect(applied.filter((entry) => entry.status >= 300)).toEqual([]);
    expect(applied.flatMap((entry) => entry.warnings)).toEqual([]);
  });

  it("gives Patroni's account exactly the verbs its Endpoints-mode DCS calls", async () => {
    const user = serviceAccountUser(namespace, PATRONI_NAME);
    const ask = (verb: string, resource: string, allowed: boolean, where = namespace) =>
      ({ user, verb, group: "", resource, namespace: where, allowed }) as AccessQuestion;
    const questions = [
      ...["get", "list", "watch", "create", "patch"].map((v) => ask(v, "endpoints", true)),
      ...["update", "delete", "deletecollection"].map((v) => ask(v, "endpoints", false)),
      ...["list", "watch", "patch"].map((v) => ask(v, "pods", true)),
      ...["get", "create", "delete", "update"].map((v) => ask(v, "pods", false)),
      ...["get", "list", "create", "patch"].map((v) => ask(v, "configmaps", false)),
      ...["get", "list", "create", "delete"].map((v) => ask(v, "services", false)),
      ask("get", "secrets", false),
      ask("list", "endpoints", false, "kube-system"),
      ask("patch", "pods", false, "kube-system"),
    ];
    const answers = await Promise.all(questions.map((question) => canI(client(), question)));
    const wrong = questions
      .filter((question, index) => answers[index] !== question.allowed)
      .map((q) => `${q.verb} ${q.resource} in ${q.namespace} (should be ${q.allowed})`);
    expect(wrong).toEqual([]);
  });

  describe("three Patroni members as the rendered ServiceAccount, under load", () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "postgres-ha-"));
    fs.chmodSync(scratch, 0o755);
    let patroni: PatroniLoopback | undefined;
    let proxy: EndpointsProxy | undefined;
    let bouncer: PgBouncerServer | undefined;
    const superuser = generatedLikePassword();
    const app = { password: generatedLikePassword(), verifier: "" };

    beforeAll(async () => {
      const [, bin] = await binaries;
      const apiEnv = await accountKubeconfig(cluster as ControlPlane, namespace, scratch);
      const statefulSet = manifestOf(resources, "StatefulSet", "postgres-ha");
      await waitFor("the StatefulSet's three pods", 60_000, async () => {
        const pods = await client().get(`/api/v1/namespaces/${namespace}/pods`);
        return ((pods.items as unknown[]) ?? []).length >= 3;
      });
      patroni = await startPatroniCluster({
        bin,
        statefulSet,
        patroniYaml: (
          manifestOf(resources, "ConfigMap", "postgres-patroni").data as {
            "patroni.yml": string;
          }
        )["patroni.yml"],
        secrets: {
          "postgres-superuser": superuser,
          "postgres-replication": generatedLikePassword(),
        },
        apiEnv,
        scratch,
        renderedPorts: { api: PATRONI_API_PORT, pg: POSTGRES_PORT },
      });
      await waitForHealthy(patroni, 240_000);
      proxy = await startEndpointsProxy(client(), namespace, "postgres");
      app.verifier = await createRoles(proxy, superuser, app.password, scratch);
      bouncer = await startRenderedPgBouncer(proxy, app.verifier);
    }, 600_000);

    afterAll(async () => {
      await bouncer?.stop();
      await proxy?.close();
      if (patroni) {
        for (const member of patroni.members) {
          if (process.env.K3S_PLATFORM_E2E_KEEP) console.log(member.process.log());
        }
        await patroni.stop();
      }
      fs.rmSync(scratch, { recursive: true, force: true });
    });

    it(`fails over ${FAILOVERS}× without losing an acknowledged commit`, async () => {
      const { ip } = patroni as PatroniLoopback;
      const env = appEnv((bouncer as PgBouncerServer).port, app.password);
      await runProgram("psql", ["-X", "-q", "-c", "CREATE TABLE seq (v bigint PRIMARY KEY)"], env);
      await runProgram(
        "psql",
        ["-X", "-q", "-c", "CREATE TABLE load (id bigserial, at timestamptz DEFAULT now())"],
        env,
      );
      const load = startLoad(env, scratch);
      const writer = startSequenceWriter(env);
      try {
        await sleep(5_000);
        const lag = await replicationLag(proxy as EndpointsProxy, superuser);
        const results = [];
        for (let round = 0; round < FAILOVERS; round++) {
          results.push(await failOver(patroni as PatroniLoopback, proxy as EndpointsProxy, writer));
        }
        writer.stop();
        load.stop();
        await writer.done;
        await load.done;
        const missing = await missingValues(env, writer.acknowledged());
        reportFigures(
          results,
          { lag, missing: missing.length, load: load.transactions(), ip },
          writer,
        );
        expect(missing).toEqual([]);
        for (const result of results) expect(result.newLeader).not.toBe(result.oldLeader);
      } finally {
        writer.stop();
        load.stop();
      }
    }, 1_800_000);

    it("switches over for maintenance with patronictl: the Endpoints follow, no commit lost", async () => {
      const cluster = patroni as PatroniLoopback;
      await waitForHealthy(cluster, 300_000);
      const env = appEnv((bouncer as PgBouncerServer).port, app.password);
      const writer = startSequenceWriter(env, 1_000_000);
      try {
        await sleep(3_000);
        const leader = await cluster.leader();
        const candidate = (await cluster.status()).find((m) => m.role === "sync_standby");
        if (!leader || !candidate) throw new Error("no leader or synchronous standby");
        const started = Date.now();
        const result = await patronictl(cluster, leader, [
          "switchover",
          "--leader",
          leader.name,
          "--candidate",
          candidate.name,
          "--force",
        ]);
        expect(result.code, result.stderr + result.stdout).toBe(0);
        const moved = cluster.members.find((m) => m.name === candidate.name) as LoopbackMember;
        await waitFor(
          "the Endpoints to name the candidate",
          60_000,
          async () => proxy?.target() === cluster.addressOf(moved),
        );
        const endpointsMs = Date.now() - started;
        await waitFor(
          "a write after the switchover",
          60_000,
          async () => writer.lastSuccessStartedAt() > started + endpointsMs,
        );
        writer.stop();
        await writer.done;
        const missing = await missingValues(env, writer.acknowledged());
        console.log(
          `switchover ${leader.name} → ${candidate.name}: Endpoints after ${seconds(endpointsMs)} s, ` +
            `${writer.failed()} failed writes, ${writer.acknowledged().length} acknowledged, ` +
            `${missing.length} missing`,
        );
        expect(missing).toEqual([]);
      } finally {
        writer.stop();
      }
    }, 600_000);

    it("a member whose data directory is wiped rejoins as a standby by itself", async () => {
      const cluster = patroni as PatroniLoopback;
      // The last failover's old primary may still be rewinding: wipe a settled standby.
      await waitForHealthy(cluster, 300_000);
      const leader = await cluster.leader();
      const victim = cluster.members.find((member) => member.name !== leader?.name);
      if (!victim) throw new Error("no standby to wipe");
      await victim.process.stop();
      fs.rmSync(victim.dataDir, { recursive: true, force: true });
      const started = Date.now();
      victim.process.restart();
      await waitFor(`${victim.name} streaming again`, 300_000, async () =>
        (await cluster.status()).some((m) => m.name === victim.name && m.state === "streaming"),
      );
      console.log(
        `wiped ${victim.name} rejoined as a streaming standby in ${seconds(Date.now() - started)} s`,
      );
    }, 600_000);
  });
});

/** `patronictl` with a member's config and API access, as `kubectl exec` into its pod runs it. */
function patronictl(cluster: PatroniLoopback, member: LoopbackMember, args: string[]) {
  return runProgram(
    path.join(path.dirname(cluster.bin), "patronictl"),
    ["-c", member.configFile, ...args],
    cluster.apiEnv,
  );
}

/** A kubeconfig of the rendered Patroni ServiceAccount (a TokenRequest token) for the members. */
async function accountKubeconfig(
  cluster: ControlPlane,
  namespace: string,
  dir: string,
): Promise<Record<string, string>> {
  const admin = JSON.parse(fs.readFileSync(kubeconfigOf(cluster), "utf8")) as {
    users: { user: { token: string } }[];
    "current-context": string;
  };
  const token = await serviceAccountToken(cluster.client, namespace, PATRONI_NAME, 3600);
  admin.users = admin.users.map((entry) => ({ ...entry, user: { token } }));
  const file = path.join(dir, "patroni.kubeconfig");
  fs.writeFileSync(file, JSON.stringify(admin), { mode: 0o644 });
  return { KUBECONFIG: file, PATRONI_KUBERNETES_CONTEXT: admin["current-context"] };
}

/** A leader and every other member streaming, one of them the synchronous standby. */
async function waitForHealthy(patroni: PatroniLoopback, timeoutMs: number): Promise<void> {
  await waitFor("a leader, two streaming standbys, one synchronous", timeoutMs, async () => {
    const members = await patroni.status();
    return (
      members.length === patroni.members.length &&
      members.filter((m) => m.role === "leader" && m.state === "running").length === 1 &&
      members.filter((m) => m.state === "streaming").length === members.length - 1 &&
      members.some((m) => m.role === "sync_standby")
    );
  });
}

function appEnv(port: number, password: string): Record<string, string> {
  return {
    PGHOST: "127.0.0.1",
    PGPORT: String(port),
    PGUSER: "app",
    PGPASSWORD: password,
    PGDATABASE: "app",
    PGCONNECT_TIMEOUT: "5",
  };
}

function superuserEnv(proxy: EndpointsProxy, password: string): Record<string, string> {
  return {
    PGHOST: "127.0.0.1",
    PGPORT: String(proxy.port),
    PGUSER: "postgres",
    PGPASSWORD: password,
    PGDATABASE: "postgres",
  };
}

/**
 * The rendered init SQL, run as the role-reconcile Job runs it: as the superuser, through the
 * primary's Service, with each role's verifier in a file. Returns the app role's verifier.
 */
async function createRoles(
  proxy: EndpointsProxy,
  superuser: string,
  appPassword: string,
  scratch: string,
): Promise<string> {
  const rolesDir = path.join(scratch, "roles");
  let appVerifier = "";
  for (const role of platformRoles()) {
    const password = role.name === "app" ? appPassword : generatedLikePassword();
    const verifier = scramSha256Verifier(password, scramSalt(generatedLikePassword()));
    if (role.name === "app") appVerifier = verifier;
    fs.mkdirSync(path.join(rolesDir, role.name), { recursive: true });
    fs.writeFileSync(path.join(rolesDir, role.name, "scramVerifier"), verifier);
  }
  const result = await runProgram(
    "psql",
    ["-X", "-q", "-v", "ON_ERROR_STOP=1"],
    superuserEnv(proxy, superuser),
    { input: initSql(platformRoles(), rolesDir) },
  );
  if (result.code !== 0) throw new Error(`the init SQL failed:\n${result.stderr}`);
  return appVerifier;
}

/** Our PgBouncer, with the prod stack's pool, its `app` database behind the Endpoints proxy. */
function startRenderedPgBouncer(proxy: EndpointsProxy, appVerifier: string) {
  const config = stackConfig(STACK);
  const ini = pgbouncerIni({
    pool: config.pgbouncer,
    // The component's host and port; the helper points them at the proxy.
    databases: [{ name: "app", host: "postgres.platform.svc.cluster.local", port: POSTGRES_PORT }],
    authFile: "/etc/pgbouncer-auth/userlist.txt",
    statsUsers: [STATS_USER],
  });
  const userlist = userlistTxt([
    { username: "app", scramVerifier: appVerifier },
    {
      username: STATS_USER,
      scramVerifier: scramSha256Verifier(
        generatedLikePassword(),
        scramSalt(generatedLikePassword()),
      ),
    },
  ]);
  return startPgBouncer({ ini, userlist, backend: { host: proxy.host, port: proxy.port } });
}

/** The most WAL bytes any standby's replay is behind, sampled for 5 s of steady load. */
async function replicationLag(proxy: EndpointsProxy, superuser: string): Promise<number> {
  let worst = 0;
  for (let sample = 0; sample < 10; sample++) {
    const result = await runProgram(
      "psql",
      [
        "-X",
        "-At",
        "-c",
        "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0) FROM pg_stat_replication",
      ],
      superuserEnv(proxy, superuser),
    );
    worst = Math.max(worst, Number(result.stdout.trim()) || 0);
    await sleep(500);
  }
  return worst;
}

interface FailoverResult {
  oldLeader: string;
  newLeader: string;
  /** Kill → the Endpoints name the new primary. */
  endpointsMs: number;
  /** Kill → the first write through PgBouncer that began after the kill and committed. */
  writeGapMs: number;
  /** The writer's attempts that failed between the kill and that write. */
  failed: number;
}

/** kill -9 of the primary; waits for the switch, the first write, and the old member's rejoin. */
async function failOver(
  patroni: PatroniLoopback,
  proxy: EndpointsProxy,
  writer: SequenceWriter,
): Promise<FailoverResult> {
  await waitForHealthy(patroni, 300_000);
  await sleep(3_000);
  const old = await patroni.leader();
  if (!old) throw new Error("no leader before the kill");
  const oldAddress = patroni.addressOf(old);
  const failedBefore = writer.failed();
  const killedAt = Date.now();
  old.process.crash();
  await waitFor("the Endpoints to name a new primary", 120_000, async () => {
    const target = proxy.target();
    return target !== undefined && target !== oldAddress;
  });
  const endpointsMs = Date.now() - killedAt;
  await waitFor(
    "a write through PgBouncer after the kill",
    120_000,
    async () => writer.lastSuccessStartedAt() > killedAt,
  );
  const writeGapMs = writer.firstSuccessAfter(killedAt) - killedAt;
  const failed = writer.failed() - failedBefore;
  const now = await patroni.leader();
  old.process.restart();
  return {
    oldLeader: old.name,
    newLeader: now?.name ?? "(none)",
    endpointsMs,
    writeGapMs,
    failed,
  };
}

/** Acknowledged values the table lacks. */
async function missingValues(env: Record<string, string>, acked: number[]): Promise<number[]> {
  const result = await runProgram("psql", ["-X", "-At", "-c", "SELECT v FROM seq"], env);
  if (result.code !== 0) throw new Error(`reading seq failed: ${result.stderr}`);
  const present = new Set(result.stdout.split("\n").filter(Boolean).map(Number));
  return acked.filter((value) => !present.has(value));
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function reportFigures(
  results: FailoverResult[],
  run: { lag: number; missing: number; load: number; ip: string },
  writer: SequenceWriter,
): void {
  const lines = results.map(
    (r, i) =>
      `  #${i + 1} ${r.oldLeader} → ${r.newLeader}: Endpoints after ${seconds(r.endpointsMs)} s, ` +
      `first write after ${seconds(r.writeGapMs)} s, ${r.failed} failed writes`,
  );
  console.log(
    [
      `Patroni ${PATRONI_VERSION}, PostgreSQL 15, 3 members on ${run.ip}, synchronous mode:`,
      ...lines,
      `  median: Endpoints ${seconds(median(results.map((r) => r.endpointsMs)))} s, ` +
        `writes back ${seconds(median(results.map((r) => r.writeGapMs)))} s`,
      `  sequence: ${writer.acknowledged().length} acknowledged, ${writer.failed()} failed, ` +
        `${run.missing} acknowledged but missing`,
      `  pgbench load: ${run.load} transactions; steady replay lag ≤ ${run.lag} bytes`,
    ].join("\n"),
  );
}
