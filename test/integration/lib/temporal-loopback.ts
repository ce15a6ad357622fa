/**
 * The rendered Temporal server moved onto loopback, for every test that runs it (the Temporal
 * integration test, and the e2e tier's servers started from a render): its ports off Temporal's
 * defaults, and its static config rewritten only where an address or a path must change.
 */
import {
  MEMBERSHIP_PORT_LIMIT,
  TEMPORAL_METRICS_PORT,
  TEMPORAL_PORTS,
  TEMPORAL_SERVICES,
  type TemporalServiceName,
} from "../../../components/temporal";
import { FRONTEND_HTTP_PORT } from "../../../components/temporal/config";
import { ephemeralPortRange, freePortBlock, rewrite, type Rewrite } from "./temporal";

export const LOOPBACK = "127.0.0.1";

/** Loopback ports for one server: each service's gRPC and membership port, HTTP, metrics. */
export interface ServerPorts {
  grpc: Record<TemporalServiceName, number>;
  membership: Record<TemporalServiceName, number>;
  http: number;
  metrics: number;
}

/**
 * Ports off Temporal's defaults (7233…, 6933…), so another server on this machine cannot collide;
 * membership ports below 32768 (Temporal stores them as smallint) and out of the ephemeral range.
 */
export async function serverPorts(): Promise<ServerPorts> {
  const limit = Math.min(MEMBERSHIP_PORT_LIMIT, ephemeralPortRange()[0]);
  const base = await freePortBlock(10, limit);
  const at = (offset: number) => (service: TemporalServiceName) => [
    service,
    base + offset + TEMPORAL_SERVICES.indexOf(service),
  ];
  return {
    grpc: Object.fromEntries(TEMPORAL_SERVICES.map(at(0))),
    membership: Object.fromEntries(TEMPORAL_SERVICES.map(at(4))),
    http: base + 8,
    metrics: base + 9,
  };
}

/** Where the loopback server finds what the cluster gives it by address or path. */
export interface LoopbackTargets {
  ports: ServerPorts;
  /** The loopback Postgres's port. */
  postgresPort: number;
  /** The rendered dynamic config, written to a file of the test's. */
  dynamicConfigFile: string;
  /** A shard count other than the rendered one, for the test that changes it. @default none */
  numHistoryShards?: number;
}

/**
 * The rendered `config.yaml` with only its bind and Postgres addresses, ports, cluster RPC address
 * and dynamic config path changed (each rewrite recorded in `log`, and each must match exactly as
 * often as the render has it).
 */
export function loopbackServerConfig(
  config: string,
  targets: LoopbackTargets,
  log: Rewrite[],
): string {
  const { ports } = targets;
  let text = config;
  const edit = (what: string, pattern: RegExp, to: string, count = 1) => {
    text = rewrite(text, what, pattern, to, count, log);
  };
  edit("bind address", /bindOnIP: 0\.0\.0\.0$/gm, `bindOnIP: ${LOOPBACK}`, 4);
  edit(
    "Postgres address",
    /connectAddr: \S+$/gm,
    `connectAddr: ${LOOPBACK}:${targets.postgresPort}`,
    2,
  );
  edit(
    "metrics address",
    new RegExp(`listenAddress: 0\\.0\\.0\\.0:${TEMPORAL_METRICS_PORT}$`, "gm"),
    `listenAddress: ${LOOPBACK}:${ports.metrics}`,
  );
  for (const service of TEMPORAL_SERVICES) {
    const { grpc, membership } = TEMPORAL_PORTS[service];
    edit(
      `${service} gRPC port`,
      new RegExp(`grpcPort: ${grpc}$`, "gm"),
      `grpcPort: ${ports.grpc[service]}`,
    );
    edit(
      `${service} membership port`,
      new RegExp(`membershipPort: ${membership}$`, "gm"),
      `membershipPort: ${ports.membership[service]}`,
    );
  }
  edit(
    "frontend HTTP port",
    new RegExp(`httpPort: ${FRONTEND_HTTP_PORT}$`, "gm"),
    `httpPort: ${ports.http}`,
  );
  edit(
    "cluster RPC address",
    /rpcAddress: \S+$/gm,
    `rpcAddress: ${LOOPBACK}:${ports.grpc.frontend}`,
  );
  edit("dynamic config path", /filepath: \S+$/gm, `filepath: ${targets.dynamicConfigFile}`);
  if (targets.numHistoryShards !== undefined) {
    edit(
      "numHistoryShards (the change under test)",
      /numHistoryShards: \d+$/gm,
      `numHistoryShards: ${targets.numHistoryShards}`,
    );
  }
  return text;
}
