/**
 * The backup target's environment as the containers get it: the builders' variables, with their
 * `secretKeyRef` values filled in as the kubelet would, against the loopback S3 server.
 */
import type * as k8s from "@pulumi/kubernetes";
import { SecretKey } from "../../../components/lib/secrets";
import { resolveBackupArgs, type PostgresBackupArgs } from "../../../components/postgres";
import type { ResolvedBackupArgs } from "../../../components/postgres/args";
import type { S3Server } from "./s3-server";

/** The key pair the containers are given; gofakes3 accepts any, so these prove only the plumbing. */
export const S3_KEYS = { accessKey: "test-access-key", secretKey: "test-secret-key-0123456789" };

/** The Secret keys the builders reference for that pair. */
export const S3_SECRET_KEYS = {
  accessKey: new SecretKey("backup-s3", "accessKey"),
  secretKey: new SecretKey("backup-s3", "secretKey"),
};

/** An env variable as the builders make it from plain values. */
interface PlainEnvVar {
  name: string;
  value?: unknown;
  valueFrom?: { secretKeyRef?: { key?: unknown } };
}

/** The backup args of a target on the loopback server, defaults filled in. */
export function loopbackBackup(
  s3: S3Server,
  extra: Partial<PostgresBackupArgs> = {},
): ResolvedBackupArgs {
  return resolveBackupArgs({
    schedule: "0 3 * * *",
    retain: 7,
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    credentials: S3_SECRET_KEYS,
    ...extra,
  });
}

/**
 * Env variables built from plain values, as a process environment: each `secretKeyRef` to the
 * S3 key pair becomes its value.
 */
export function plainEnvironment(
  variables: k8s.types.input.core.v1.EnvVar[],
): Record<string, string> {
  const env: Record<string, string> = {};
  // Built from plain values here (no Output in these args), so every field is a plain one.
  for (const variable of variables as PlainEnvVar[]) {
    const key = variable.valueFrom?.secretKeyRef?.key;
    const value = typeof key === "string" ? S3_KEYS[key as keyof typeof S3_KEYS] : variable.value;
    if (typeof value !== "string") throw new Error(`${variable.name} has no plain value`);
    env[variable.name] = value;
  }
  return env;
}
