/**
 * The Patroni members of a render's `postgres-ha` StatefulSet, run on this machine against a real
 * API server: each member runs the rendered `patroni.yml` with only its ports and paths changed
 * for loopback, and the rendered container's environment with the values its pod would get (its
 * pod's name, the pod address, the passwords). They reach the API server as the rendered
 * ServiceAccount, so they can do exactly what its Role allows.
 *
 * The address is this machine's own (non-loopback) IPv4 address: the API server refuses loopback
 * addresses in Endpoints, which is where Patroni writes the primary's address.
 */
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { Manifest } from "../../../policy/model/render-model";
import { startPatroniMember, type PatroniMember } from "../../integration/lib/patroni";
import { freePort } from "../../integration/lib/process";

/** One member as the REST API's `/cluster` lists it. */
export interface ClusterMember {
  name: string;
  role: string;
  state: string;
  lag?: number | string;
}

export interface LoopbackMember {
  name: string;
  /** Its Patroni config file. */
  configFile: string;
  pgPort: number;
  apiPort: number;
  dataDir: string;
  process: PatroniMember;
}

export interface PatroniLoopback {
  /** The address every member listens on and publishes. */
  ip: string;
  /** The `patroni` program; `patronictl` is beside it. */
  bin: string;
  /** KUBECONFIG and the context: what `patronictl` needs to reach the DCS. */
  apiEnv: Record<string, string>;
  members: LoopbackMember[];
  /** `/cluster` of the first member that answers. */
  status(): Promise<ClusterMember[]>;
  /** The member that holds the leader key and runs, if any. */
  leader(): Promise<LoopbackMember | undefined>;
  /** Host and port of a member's PostgreSQL. */
  addressOf(member: LoopbackMember): string;
  stop(): Promise<void>;
}

type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string } };
};

/** This machine's first non-internal IPv4 address. */
export function hostAddress(): string {
  const found = Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .find((entry) => entry.family === "IPv4" && !entry.internal);
  if (!found) throw new Error("the failover test needs a non-loopback IPv4 address");
  return found.address;
}

/** The rendered config with this member's ports and paths: nothing else changes. */
export function loopbackConfig(
  rendered: string,
  member: { pgPort: number; apiPort: number; dir: string },
): string {
  const config = parse(rendered) as {
    kubernetes: { ports: { port: number }[] };
    restapi: { listen: string };
    postgresql: {
      listen: string;
      data_dir: string;
      pgpass: string;
      parameters: Record<string, unknown>;
    };
  };
  const withPort = (listen: string, port: number) => listen.replace(/:\d+$/, `:${port}`);
  config.kubernetes.ports = config.kubernetes.ports.map((p) => ({ ...p, port: member.pgPort }));
  config.restapi.listen = withPort(config.restapi.listen, member.apiPort);
  config.postgresql.listen = withPort(config.postgresql.listen, member.pgPort);
  config.postgresql.data_dir = join(member.dir, "pgdata");
  config.postgresql.pgpass = join(member.dir, "pgpass");
  config.postgresql.parameters.unix_socket_directories = member.dir;
  return stringify(config);
}

/**
 * The rendered container's environment with the values the member's pod would get: `fieldRef`s
 * from the pod, `secretKeyRef`s from `secrets` (by Secret name), `$(VAR)` expanded as the kubelet
 * does, and the rendered ports swapped for the member's.
 */
export function memberEnv(
  env: EnvVar[],
  pod: { name: string; ip: string },
  secrets: Record<string, string>,
  ports: Record<number, number>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env) {
    const field = entry.valueFrom?.fieldRef?.fieldPath;
    const secret = entry.valueFrom?.secretKeyRef?.name;
    if (field === "metadata.name") out[entry.name] = pod.name;
    else if (field === "status.podIP") out[entry.name] = pod.ip;
    else if (secret !== undefined) {
      if (!(secret in secrets)) throw new Error(`no value for the Secret ${secret}`);
      out[entry.name] = secrets[secret];
    } else if (entry.value !== undefined) {
      out[entry.name] = entry.value
        .replace(/\$\((\w+)\)/g, (_, name: string) => out[name] ?? "")
        .replace(/:(\d+)$/, (whole, port: string) =>
          ports[Number(port)] !== undefined ? `:${ports[Number(port)]}` : whole,
        );
    } else throw new Error(`the env var ${entry.name} has a source the test does not know`);
  }
  return out;
}

export interface StartClusterOptions {
  bin: string;
  statefulSet: Manifest;
  patroniYaml: string;
  /** Values of the Secrets the container's env names, by Secret name. */
  secrets: Record<string, string>;
  /** KUBECONFIG and PATRONI_KUBERNETES_CONTEXT: the API server, as the rendered account. */
  apiEnv: Record<string, string>;
  scratch: string;
  /** Patroni's REST port in the render (8008) and PostgreSQL's (5432). */
  renderedPorts: { api: number; pg: number };
}

/** Starts one member per StatefulSet replica, named as its pods are. */
export async function startPatroniCluster(opts: StartClusterOptions): Promise<PatroniLoopback> {
  const ip = hostAddress();
  const spec = opts.statefulSet.spec as {
    replicas: number;
    template: { spec: { containers: { name: string; env: EnvVar[] }[] } };
  };
  const container = spec.template.spec.containers.find((c) => c.name === "postgres");
  if (!container) throw new Error("the rendered StatefulSet has no postgres container");
  const name = opts.statefulSet.metadata.name as string;
  const members: LoopbackMember[] = [];
  for (let index = 0; index < spec.replicas; index++) {
    const [pgPort, apiPort] = [await freePort(), await freePort()];
    const pod = `${name}-${index}`;
    const dir = join(opts.scratch, pod);
    const env = memberEnv(container.env, { name: pod, ip }, opts.secrets, {
      [opts.renderedPorts.pg]: pgPort,
      [opts.renderedPorts.api]: apiPort,
    });
    const config = loopbackConfig(opts.patroniYaml, { pgPort, apiPort, dir });
    const process = startPatroniMember({
      bin: opts.bin,
      name: pod,
      config,
      env: { ...env, ...opts.apiEnv },
      dir,
    });
    members.push({
      name: pod,
      configFile: join(dir, "patroni.yml"),
      pgPort,
      apiPort,
      dataDir: join(dir, "pgdata"),
      process,
    });
  }
  const status = async (): Promise<ClusterMember[]> => {
    for (const member of members) {
      const response = await fetch(`http://${ip}:${member.apiPort}/cluster`).catch(() => undefined);
      if (response?.ok) return ((await response.json()) as { members: ClusterMember[] }).members;
    }
    return [];
  };
  return {
    ip,
    bin: opts.bin,
    apiEnv: opts.apiEnv,
    members,
    status,
    leader: async () => {
      const leader = (await status()).find((m) => m.role === "leader" && m.state === "running");
      return members.find((member) => member.name === leader?.name);
    },
    addressOf: (member) => `${ip}:${member.pgPort}`,
    stop: async () => {
      await Promise.all(members.map((member) => member.process.stop()));
    },
  };
}
