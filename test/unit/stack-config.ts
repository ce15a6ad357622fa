import {
  ConfigError,
  parseConfig,
  PROJECT,
  type ConfigIssue,
  type PlatformConfig,
} from "../../config";
import { PROFILES, type Profile } from "../../policy/model/profile";

/**
 * Stack configs for unit tests, built as the Pulumi engine passes them to the program: keys
 * `k3s-platform:<key>`, structured values as JSON text. config.ts and what it imports construct
 * no resource and read no runtime state when they load, so a test file may import this module
 * statically and still install its mocks (`setupMocks()`) before it loads the components under
 * test with `import()`.
 */

/** A stack config's values by top-level key, without the `k3s-platform:` prefix. */
export type StackValues = Record<string, unknown>;

/** The app image of a dev stack: a tag is enough. */
export const APP_IMAGE = "registry.example.com/app:1.0.0";

/** The app image of a prod stack: pinned by digest. */
export const APP_IMAGE_BY_DIGEST = `registry.example.com/app@sha256:${"a".repeat(64)}`;

/**
 * What every stack must set besides its profile: the app image (and, in prod, TLS, a domain
 * other than the default `platform.localhost`, which nobody but the client itself reaches, where
 * the nodes and the API server are, which the API and kubelet edges reach, who alerts go to (here
 * the explicit "nobody", since a receiver's credential would have to be a secret key), and whether
 * its backups may stay on the node: tests of prod's other rules keep the in-cluster target).
 */
export const REQUIRED_STACK_VALUES: Readonly<Record<Profile, StackValues>> = {
  dev: { app: { image: APP_IMAGE } },
  prod: {
    app: { image: APP_IMAGE_BY_DIGEST },
    cluster: {
      domain: "platform.example.com",
      tlsSecretName: "platform-tls",
      nodeCidrs: ["10.0.0.0/24"],
      // One node per Postgres HA member (postgres.ha.members defaults to 3 in prod).
      nodes: 3,
    },
    deployTargets: { apiServer: { cidrs: ["10.0.0.10/32"] } },
    observability: { alerting: { acceptNoReceivers: true } },
    postgres: { ha: { enabled: true }, backup: { acceptBackupsOnNode: true } },
  },
};

/**
 * Values as the engine passes them, and nothing added: prefixed keys, strings as they are, every
 * other value as JSON text. A key whose value is `undefined` is left out.
 */
export function encodeStackConfig(values: StackValues): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [
        `${PROJECT}:${key}`,
        typeof value === "string" ? value : JSON.stringify(value),
      ]),
  );
}

/**
 * A stack's raw config: `values` over what its profile requires ({@link REQUIRED_STACK_VALUES}),
 * encoded as the engine passes it. The profile is `values.profile` when `values` has that key
 * (`profile: undefined` gives a stack without one), else `profile`; a profile other than dev or
 * prod requires nothing. A top-level object in `values` is merged over the required one, so
 * `app: { web }` keeps the required image and `cluster: { tlsSecretName: undefined }` drops TLS.
 */
export function rawStackConfig(values: StackValues = {}, profile = "dev"): Record<string, string> {
  const given = "profile" in values ? values : { profile, ...values };
  const required: StackValues = isProfile(given.profile)
    ? REQUIRED_STACK_VALUES[given.profile]
    : {};
  const keys = new Set([...Object.keys(required), ...Object.keys(given)]);
  return encodeStackConfig(
    Object.fromEntries(
      [...keys].map((key) => [
        key,
        isObject(required[key]) && isObject(given[key])
          ? overRequired(required[key], given[key])
          : (given[key] ?? required[key]),
      ]),
    ),
  );
}

/**
 * `given` over `required`, object by object: a key the stack gives wins, even as `undefined` (which
 * drops the required value), and a nested object is merged the same way.
 */
function overRequired(required: StackValues, given: StackValues): StackValues {
  const merged: StackValues = { ...required, ...given };
  for (const key of Object.keys(given)) {
    const [inner, outer] = [required[key], given[key]];
    if (isObject(inner) && isObject(outer)) merged[key] = overRequired(inner, outer);
  }
  return merged;
}

/** The stack config {@link rawStackConfig} builds, parsed: what the Platform receives. */
export function parsedStackConfig(values: StackValues = {}): PlatformConfig {
  return parseConfig(rawStackConfig(values));
}

/**
 * The problems `parseConfig` reports for the stack config {@link rawStackConfig} builds, with
 * `secretKeys` the keys the engine marks secret; empty when the config is valid.
 */
export function stackConfigIssues(
  values: StackValues,
  secretKeys: readonly string[] = [],
): ConfigIssue[] {
  return rawConfigIssues(rawStackConfig(values), secretKeys);
}

/**
 * The problems `parseConfig` reports for a raw config taken as is; empty when it is valid. Any
 * error other than a {@link ConfigError} is thrown on.
 */
export function rawConfigIssues(
  raw: Record<string, string>,
  secretKeys: readonly string[] = [],
): ConfigIssue[] {
  try {
    parseConfig(raw, secretKeys);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

/** Each key's message (the last, should a key have several), for assertions on one key. */
export function issuesByKey(issues: readonly ConfigIssue[]): Map<string, string> {
  return new Map(issues.map(({ key, message }) => [key, message]));
}

function isProfile(value: unknown): value is Profile {
  return (PROFILES as readonly unknown[]).includes(value);
}

function isObject(value: unknown): value is StackValues {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
