import type * as k8s from "@pulumi/kubernetes";

type Probe = k8s.types.input.core.v1.Probe;
type Handler = Pick<Probe, "httpGet" | "tcpSocket" | "exec" | "grpc">;

/** How a probe handler is reached: small factories instead of repeated object literals. */
export const check = {
  /** An HTTP GET that must answer 2xx or 3xx. */
  http(path: string, port: number | string): Handler {
    return { httpGet: { path, port } };
  },
  /** A TCP connect to the port. */
  tcp(port: number | string): Handler {
    return { tcpSocket: { port } };
  },
  /** A command run in the container that must exit 0. */
  exec(...command: string[]): Handler {
    return { exec: { command } };
  },
  /**
   * A gRPC health check (`grpc.health.v1.Health/Check`) of `service`, or of the server as a whole
   * when omitted. The port must be a number: Kubernetes' grpc probe does not take port names.
   */
  grpc(port: number, service?: string): Handler {
    return { grpc: { port, ...(service ? { service } : {}) } };
  },
};

/**
 * Readiness answers "send me traffic" and reacts fast; liveness answers "restart me" and waits
 * long, so a slow dependency makes a pod unready instead of restarting it in a loop.
 */
export const PROBE_TIMING = {
  readiness: { periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3, successThreshold: 1 },
  liveness: { periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6, successThreshold: 1 },
  startup: { periodSeconds: 5, timeoutSeconds: 3, successThreshold: 1 },
} as const;

/** The probes of one long-running container. */
export interface ContainerProbes {
  /** Absent only on a sidecar that serves nothing ({@link livenessOnly}). */
  readinessProbe?: Probe;
  livenessProbe: Probe;
  startupProbe?: Probe;
}

/**
 * Only a liveness probe, for a sidecar that serves nothing: a readiness probe would take its
 * pod's serving container out of its Services whenever the sidecar falters.
 */
export function livenessOnly(liveness: Handler): ContainerProbes {
  return { livenessProbe: { ...liveness, ...PROBE_TIMING.liveness } };
}

/**
 * Readiness and liveness from one handler (or a separate, cheaper one for liveness) and, for
 * slow starters, a startup probe (the liveness check unless `startup` is given) that holds
 * liveness off for up to `startupSeconds`.
 */
export function probesFor(
  readiness: Handler,
  options: { liveness?: Handler; startup?: Handler; startupSeconds?: number } = {},
): ContainerProbes & { readinessProbe: Probe } {
  const liveness = options.liveness ?? readiness;
  const startup = options.startup ?? liveness;
  const startupSeconds = options.startupSeconds;
  return {
    readinessProbe: { ...readiness, ...PROBE_TIMING.readiness },
    livenessProbe: { ...liveness, ...PROBE_TIMING.liveness },
    ...(startupSeconds
      ? {
          startupProbe: {
            ...startup,
            ...PROBE_TIMING.startup,
            failureThreshold: Math.ceil(startupSeconds / PROBE_TIMING.startup.periodSeconds),
          },
        }
      : {}),
  };
}
