import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { KubeClient } from "./kube-client";

/**
 * A real Kubernetes control plane on loopback, shaped like K3s's: embedded etcd, kube-apiserver
 * (Node,RBAC authorization, NodeRestriction on top of the default admission plugins, which
 * include PodSecurity; service CIDR 10.43.0.0/16), kube-controller-manager with every default
 * controller, kube-scheduler, and kwok simulating one node (or more) so pods are bound, Running
 * and Ready, and Job pods complete. K3s's `local-path` StorageClass is created, a stand-in for its
 * provisioner binds each claim the scheduler selected a node for, and a stand-in for its Traefik
 * behind ServiceLB publishes the node's address on every Ingress.
 */

/** The binaries: the `control-plane` wrapper, `kwok`, and kwok's stage definitions. */
export interface ControlPlaneBinaries {
  controlPlane: string;
  kwok: string;
  /** Stage YAML documents (Stage kind) for kwok's `--config`. */
  kwokStages: string;
}

export interface ControlPlane {
  client: KubeClient;
  /** What `/version` reports, e.g. `v1.37.2`. */
  version: string;
  /** The temp directory: certificates, kubeconfig, etcd data and one log file per process. */
  dir: string;
  /** The name of the fake node. */
  nodeName: string;
  /** Last lines of every component's log, for a failure message. */
  logTail(lines?: number): string;
  /** Stops every process (also those still starting) and removes the temp dir. */
  stop(): Promise<void>;
}

const SERVICE_CIDR = "10.43.0.0/16"; // K3s's default
const CLUSTER_CIDR = "10.42.0.0/16"; // K3s's default
const NODE_NAME = "kwok-node-0";
const ISSUER = "https://kubernetes.default.svc.cluster.local"; // K3s's service-account issuer

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /**
   * Fake nodes, `kwok-node-0` (the one `nodeName` names) and on: a stack whose workloads must not
   * share a node (the Postgres HA members) needs as many as it says it has. @default 1
   */
  nodes?: number;
}

export async function startControlPlane(
  binaries: ControlPlaneBinaries,
  options: ControlPlaneOptions = {},
): Promise<ControlPlane> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-e2e-"));
  const processes: { name: string; child: ChildProcess }[] = [];
  const stop = async () => {
    provisioner.stop();
    ingressStatus.stop();
    // Reverse order: kwok and the controllers go before the API server, etcd last.
    for (const { child } of [...processes].reverse()) await terminate(child);
    if (!process.env.K3S_PLATFORM_E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  };
  const logTail = (lines = 15) =>
    processes
      .map(({ name }) => {
        const file = path.join(dir, `${name}.log`);
        const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        return `--- ${name} ---\n${text.trimEnd().split("\n").slice(-lines).join("\n")}`;
      })
      .join("\n");
  const run = (name: string, command: string, args: string[]) => {
    const log = fs.openSync(path.join(dir, `${name}.log`), "w");
    const child = spawn(command, args, { stdio: ["ignore", log, log], cwd: dir });
    fs.closeSync(log);
    processes.push({ name, child });
    return child;
  };
  const provisioner = { stop: () => {} };
  const ingressStatus = { stop: () => {} };

  try {
    const [etcdPort, peerPort, apiPort, kcmPort, schedulerPort] = await freePorts(5);
    const files = writeCredentials(dir);

    run("etcd", binaries.controlPlane, [
      "etcd",
      path.join(dir, "etcd"),
      `http://127.0.0.1:${etcdPort}`,
      `http://127.0.0.1:${peerPort}`,
    ]);
    run("kube-apiserver", binaries.controlPlane, [
      "kube-apiserver",
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${files.serverCert}`,
      `--tls-private-key-file=${files.serverKey}`,
      `--client-ca-file=${files.caCert}`,
      `--token-auth-file=${files.tokens}`,
      "--anonymous-auth=false",
      "--authorization-mode=Node,RBAC",
      "--enable-admission-plugins=NodeRestriction",
      "--allow-privileged=true",
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--service-account-issuer=${ISSUER}`,
      `--api-audiences=${ISSUER},k3s`,
      `--service-account-key-file=${files.saPublic}`,
      `--service-account-signing-key-file=${files.saPrivate}`,
      // The `kubernetes` Service's endpoint would be 127.0.0.1, which Endpoints refuse.
      "--endpoint-reconciler-type=none",
      "--profiling=false",
    ]);
    const server = `https://127.0.0.1:${apiPort}`;
    const client = new KubeClient(server, files.token, fs.readFileSync(files.caCert, "utf8"));
    await waitFor("kube-apiserver /readyz", 120_000, async () => {
      const response = await client.request("GET", "/readyz").catch(() => undefined);
      return response?.status === 200;
    });

    const kubeconfig = writeKubeconfig(dir, server, files);
    run("kube-controller-manager", binaries.controlPlane, [
      "kube-controller-manager",
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${kcmPort}`,
      "--leader-elect=false",
      "--controllers=*",
      `--service-account-private-key-file=${files.saPrivate}`,
      `--root-ca-file=${files.caCert}`,
      `--cluster-cidr=${CLUSTER_CIDR}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
    ]);
    run("kube-scheduler", binaries.controlPlane, [
      "kube-scheduler",
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${schedulerPort}`,
      "--leader-elect=false",
    ]);
    const stagesFile = path.join(dir, "kwok-stages.yaml");
    fs.writeFileSync(stagesFile, binaries.kwokStages);
    run("kwok", binaries.kwok, [
      `--kubeconfig=${kubeconfig}`,
      `--config=${stagesFile}`,
      "--manage-all-nodes=true",
      "--node-lease-duration-seconds=40",
      `--cidr=${CLUSTER_CIDR}`,
    ]);

    const nodes = Array.from({ length: options.nodes ?? 1 }, (_, i) => `kwok-node-${i}`);
    for (const name of nodes) await client.create("/api/v1/nodes", fakeNode(name));
    await client.create("/apis/storage.k8s.io/v1/storageclasses", LOCAL_PATH_STORAGE_CLASS);
    for (const name of nodes) {
      await waitFor(`node ${name} Ready`, 60_000, async () => {
        const node = await client.get(`/api/v1/nodes/${name}`);
        const conditions = (node.status?.conditions ?? []) as { type: string; status: string }[];
        const taints = ((node.spec?.taints ?? []) as unknown[]).length;
        return conditions.some((c) => c.type === "Ready" && c.status === "True") && taints === 0;
      });
    }
    provisioner.stop = startProvisioner(client);
    ingressStatus.stop = startIngressStatus(client, NODE_NAME);
    const version = (await client.get("/version")).gitVersion as string;
    return { client, version, dir, nodeName: NODE_NAME, logTail, stop };
  } catch (error) {
    const tail = logTail(25);
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tail}`);
  }
}

/** K3s's default StorageClass, as its local-path-provisioner manifest declares it. */
const LOCAL_PATH_STORAGE_CLASS = {
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: {
    name: "local-path",
    annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
  },
  provisioner: "rancher.io/local-path",
  reclaimPolicy: "Delete",
  volumeBindingMode: "WaitForFirstConsumer",
};

/**
 * Stands in for local-path-provisioner: every claim of `local-path` that the scheduler picked a
 * node for gets a PersistentVolume pre-bound to it, which the PV controller then binds. Without
 * it, StatefulSet pods would wait forever for their volumes.
 */
function startProvisioner(client: KubeClient): () => void {
  let stopped = false;
  const done = new Set<string>();
  const tick = async () => {
    const claims = await client.get("/api/v1/persistentvolumeclaims").catch(() => ({ items: [] }));
    for (const claim of claims.items ?? []) {
      const uid = claim.metadata?.uid ?? "";
      const node = claim.metadata?.annotations?.["volume.kubernetes.io/selected-node"];
      if (!node || done.has(uid) || claim.status?.phase !== "Pending") continue;
      if (claim.spec?.storageClassName !== "local-path") continue;
      const resources = claim.spec?.resources as { requests?: { storage?: string } } | undefined;
      done.add(uid);
      await client
        .create("/api/v1/persistentvolumes", {
          apiVersion: "v1",
          kind: "PersistentVolume",
          metadata: { name: `pvc-${uid}` },
          spec: {
            capacity: { storage: resources?.requests?.storage ?? "1Gi" },
            accessModes: claim.spec?.accessModes ?? ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: "Delete",
            storageClassName: "local-path",
            hostPath: {
              path: `/var/lib/rancher/k3s/storage/pvc-${uid}`,
              type: "DirectoryOrCreate",
            },
            claimRef: {
              namespace: claim.metadata?.namespace,
              name: claim.metadata?.name,
              uid,
            },
            nodeAffinity: {
              required: {
                nodeSelectorTerms: [
                  {
                    matchExpressions: [
                      { key: "kubernetes.io/hostname", operator: "In", values: [node] },
                    ],
                  },
                ],
              },
            },
          },
        })
        .catch(() => done.delete(uid));
    }
  };
  const loop = async () => {
    while (!stopped) {
      await tick();
      await sleep(500);
    }
  };
  void loop();
  return () => {
    stopped = true;
  };
}

/**
 * Stands in for K3s's Traefik behind ServiceLB: K3s publishes the node's address in every
 * Ingress's `.status.loadBalancer.ingress` once Traefik has taken the Ingress, and the Pulumi
 * Kubernetes provider waits for that address before it calls an Ingress created. Every Ingress
 * without one gets the node's InternalIP (127.0.0.1 if kwok gave it none) on its status.
 */
function startIngressStatus(client: KubeClient, nodeName: string): () => void {
  let stopped = false;
  const tick = async () => {
    const node = await client.get(`/api/v1/nodes/${nodeName}`).catch(() => undefined);
    const addresses = (node?.status?.addresses ?? []) as { type: string; address: string }[];
    const ip = addresses.find((entry) => entry.type === "InternalIP")?.address ?? "127.0.0.1";
    const ingresses = await client
      .get("/apis/networking.k8s.io/v1/ingresses")
      .catch(() => ({ items: [] }));
    for (const ingress of ingresses.items ?? []) {
      const status = ingress.status as { loadBalancer?: { ingress?: unknown[] } } | undefined;
      if ((status?.loadBalancer?.ingress ?? []).length > 0) continue;
      const { namespace, name } = ingress.metadata ?? {};
      await client
        .request(
          "PATCH",
          `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses/${name}/status`,
          JSON.stringify({ status: { loadBalancer: { ingress: [{ ip }] } } }),
          "application/merge-patch+json",
        )
        .catch(() => undefined);
    }
  };
  const loop = async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await sleep(500);
    }
  };
  void loop();
  return () => {
    stopped = true;
  };
}

interface Credentials {
  caCert: string;
  serverCert: string;
  serverKey: string;
  saPrivate: string;
  saPublic: string;
  tokens: string;
  token: string;
}

/** A CA, a serving certificate for 127.0.0.1, the service-account key pair and an admin token. */
function writeCredentials(dir: string): Credentials {
  const file = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => {
    const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  };
  const days = ["-days", "2"];
  openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key")].concat([
      "-out",
      file("ca.crt"),
      "-subj",
      "/CN=k3s-platform-e2e-ca",
      ...days,
    ]),
  );
  openssl(
    ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", file("server.key")].concat([
      "-out",
      file("server.csr"),
      "-subj",
      "/CN=kube-apiserver",
    ]),
  );
  fs.writeFileSync(
    file("server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.43.0.1,DNS:kubernetes.default.svc\n",
  );
  openssl(
    ["x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey"]
      .concat([file("ca.key"), "-CAcreateserial", "-out", file("server.crt"), ...days])
      .concat(["-extfile", file("server.ext")]),
  );
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  fs.writeFileSync(file("sa.key"), privateKey);
  fs.writeFileSync(file("sa.pub"), publicKey);
  const token = crypto.randomBytes(24).toString("hex");
  // token,user,uid,"groups": the admin is in system:masters, as K3s's admin kubeconfig is.
  fs.writeFileSync(file("tokens.csv"), `${token},admin,admin,"system:masters"\n`);
  return {
    caCert: file("ca.crt"),
    serverCert: file("server.crt"),
    serverKey: file("server.key"),
    saPrivate: file("sa.key"),
    saPublic: file("sa.pub"),
    tokens: file("tokens.csv"),
    token,
  };
}

function writeKubeconfig(dir: string, server: string, files: Credentials): string {
  const kubeconfig = path.join(dir, "admin.kubeconfig");
  const ca = fs.readFileSync(files.caCert).toString("base64");
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster: { server, "certificate-authority-data": ca } }],
      users: [{ name: "admin", user: { token: files.token } }],
      contexts: [{ name: "e2e", context: { cluster: "e2e", user: "admin" } }],
      "current-context": "e2e",
    }),
  );
  return kubeconfig;
}

/** A Node kwok manages (`--manage-all-nodes`), labelled as K3s labels a server node. */
function fakeNode(name: string) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node-role.kubernetes.io/control-plane": "true",
      },
      annotations: { "kwok.x-k8s.io/node": "fake" },
    },
  };
}

/** Ports the OS hands out now; each listener is closed before the port is used. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** SIGTERM, then SIGKILL after 10 s: etcd and the API server shut down cleanly on TERM. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
