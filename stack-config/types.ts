import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { ImageLock } from "../policy/model/image-lock";
import type { schema } from "./schema";

/** Keys whose values are secrets: read as secret outputs, refused when stored in plain text. */
export const SECRET_KEYS = [
  "arcjetKey",
  "registryPassword",
  "temporalUiClientSecret",
  "backupS3AccessKeyId",
  "backupS3SecretAccessKey",
  "telemetryS3AccessKeyId",
  "telemetryS3SecretAccessKey",
  "dragonflyS3AccessKeyId",
  "dragonflyS3SecretAccessKey",
  "credentials",
] as const;
export type SecretKeyName = (typeof SECRET_KEYS)[number];

/** The stack config as the schema validates it, defaults applied, secret keys still in it. */
export type ValidatedConfig = Omit<z.output<typeof schema>, SecretKeyName>;

/** What the Platform's components are configured from: everything but the provider settings. */
export type PlatformSettings = Omit<ValidatedConfig, "kubernetes">;

/** The shape of `credentials`, each given value a secret output. */
type Secrets<T> = {
  [K in keyof T]-?: T[K] extends string | undefined
    ? pulumi.Output<string> | undefined
    : Secrets<NonNullable<T[K]>>;
};

/** Credentials given in the stack config, by component and name; absent ones are generated. */
export type GivenCredentials = Secrets<NonNullable<z.output<typeof schema>["credentials"]>>;

/** The validated stack configuration that `index.ts` hands to the Platform. */
export type PlatformConfig = ValidatedConfig & {
  /** The secret keys, as secret outputs (never plain strings). */
  secrets: Partial<Record<Exclude<SecretKeyName, "credentials">, pulumi.Output<string>>>;
  /** Credentials given in config instead of generated, as secret outputs. */
  credentials: Partial<GivenCredentials>;
  /** The image lock (`imagesLock`, else the pack's): the digest of each image tag it knows. */
  imageLock: ImageLock;
};

/**
 * What the Platform is made of: the validated stack config less the provider settings, which
 * `index.ts` turns into the explicit provider instead.
 */
export type PlatformArgs = Omit<PlatformConfig, "kubernetes">;
