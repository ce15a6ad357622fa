import type * as k8s from "@pulumi/kubernetes";

/**
 * The security baseline (docs/architecture.md, "Security baseline"), in one place. Every pod and container the platform
 * creates starts from these; the exceptions are named in `security-exceptions.ts`.
 */

/** Options of the pod-level security context. */
export interface PodSecurityOptions {
  /** UID the image's process expects. @default 65532 (the conventional "nonroot" user) */
  runAsUser?: number;
  /** GID of the process. @default the same as runAsUser */
  runAsGroup?: number;
  /** Group that owns mounted volumes, so a non-root process can write its PVC. @default runAsGroup */
  fsGroup?: number;
}

/** Default UID of workloads whose image does not name one. */
export const DEFAULT_NON_ROOT_UID = 65532;

/** Pod security context that Pod Security `restricted` admits. */
export function podSecurityContext(
  options: PodSecurityOptions = {},
): k8s.types.input.core.v1.PodSecurityContext {
  const runAsUser = options.runAsUser ?? DEFAULT_NON_ROOT_UID;
  const runAsGroup = options.runAsGroup ?? runAsUser;
  return {
    runAsNonRoot: true,
    runAsUser,
    runAsGroup,
    fsGroup: options.fsGroup ?? runAsGroup,
    fsGroupChangePolicy: "OnRootMismatch",
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Options of the container-level security context. */
export interface ContainerSecurityOptions {
  /**
   * Mount the root filesystem read-only; writable paths then come from `emptyDir` volumes.
   * @default true
   */
  readOnlyRootFilesystem?: boolean;
}

/** Container security context: no privilege escalation, every capability dropped. */
export function containerSecurityContext(
  options: ContainerSecurityOptions = {},
): k8s.types.input.core.v1.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: options.readOnlyRootFilesystem ?? true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Pod Security Admission labels for a namespace. */
export function podSecurityLabels(
  level: "restricted" | "baseline" | "privileged",
): Record<string, string> {
  // `latest` follows the cluster's own version of the standard, so a K3s upgrade never leaves the
  // namespace judged by an older, looser policy.
  return {
    "pod-security.kubernetes.io/enforce": level,
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": level,
    "pod-security.kubernetes.io/warn": level,
  };
}
