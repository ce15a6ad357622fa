import * as crypto from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

type EnvVar = k8s.types.input.core.v1.EnvVar;
type Volume = k8s.types.input.core.v1.Volume;

/**
 * One key of a Kubernetes Secret. Components hand these to each other instead of Secret names,
 * so a consumer never retypes a name and every credential reaches a pod through `secretKeyRef`.
 */
export class SecretKey {
  constructor(
    /** Name of the Secret that holds the key. */
    readonly secretName: pulumi.Input<string>,
    /** The key inside the Secret. */
    readonly key: string,
    /** All data of the Secret when its owner knows it, for the config hash of consumers' pods. */
    readonly content?: pulumi.Output<Record<string, string>>,
  ) {}

  /** An environment variable whose value comes from this key. */
  env(variable: string): EnvVar {
    return {
      name: variable,
      valueFrom: { secretKeyRef: { name: this.secretName, key: this.key } },
    };
  }
}

/** What a {@link PlatformSecret} holds and where. */
export interface PlatformSecretArgs {
  /** Namespace of the Secret. */
  namespace: pulumi.Input<string>;
  /** Labels of the Secret. */
  labels: Record<string, string>;
  /** Its keys and values; values are marked secret whether or not they arrive so. */
  data: Record<string, pulumi.Input<string>>;
  /** The Secret's type, e.g. `kubernetes.io/dockerconfigjson`. @default "Opaque" */
  type?: string;
}

/** A Kubernetes Secret created by a component, with typed accessors for its consumers. */
export class PlatformSecret {
  /** The Secret object, for `dependsOn`. */
  readonly resource: k8s.core.v1.Secret;
  /** The Secret's name. */
  readonly name: pulumi.Output<string>;
  /** All of its data as one secret output, for config hashes of the pods that read it. */
  readonly content: pulumi.Output<Record<string, string>>;
  private readonly keys: ReadonlySet<string>;

  constructor(name: string, args: PlatformSecretArgs, opts: pulumi.CustomResourceOptions) {
    const stringData = Object.fromEntries(
      Object.entries(args.data).map(([key, value]) => [key, pulumi.secret(value)]),
    );
    this.resource = new k8s.core.v1.Secret(
      name,
      {
        metadata: { name, namespace: args.namespace, labels: args.labels },
        type: args.type ?? "Opaque",
        stringData,
      },
      opts,
    );
    this.name = this.resource.metadata.name;
    this.content = pulumi.secret(pulumi.all(stringData));
    this.keys = new Set(Object.keys(args.data));
  }

  /** One of its keys; asking for a key it does not hold is a programming error caught at once. */
  key(key: string): SecretKey {
    if (!this.keys.has(key)) {
      throw new Error(`Secret has no key "${key}"; it holds: ${[...this.keys].join(", ")}`);
    }
    return new SecretKey(this.name, key, this.content);
  }

  /** A pod volume that mounts the Secret (all keys, or only `items`), readable by its owner only. */
  volume(volumeName: string, items?: string[]): Volume {
    return {
      name: volumeName,
      secret: {
        secretName: this.name,
        defaultMode: 0o400,
        ...(items
          ? { items: items.map((key) => this.key(key)).map(({ key }) => ({ key, path: key })) }
          : {}),
      },
    };
  }
}

/**
 * A generated password: alphanumeric so it needs no escaping in URLs, ini files or shell, and
 * long enough (32 characters, about 190 bits) that the missing symbols cost nothing.
 */
export function generatedPassword(
  name: string,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const password = new random.RandomPassword(
    name,
    { length: 32, special: false, minLower: 1, minUpper: 1, minNumeric: 1 },
    opts,
  );
  return pulumi.secret(password.result);
}

/**
 * The password given in the stack config (a team that keeps its passwords in a vault), else a
 * generated one. Either way a secret output; a given one creates no `@pulumi/random` resource.
 */
export function passwordFor(
  name: string,
  given: pulumi.Input<string> | undefined,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  return given === undefined ? generatedPassword(name, opts) : pulumi.secret(given);
}

/**
 * The salt of a SCRAM verifier for a password from {@link passwordFor}: generated beside a
 * generated password; for a given one, derived from it and the salt's name (HMAC-SHA-256), so the
 * verifier is stable across runs without another resource and changes when the password does.
 * Unique per stack, role and password, which is what a salt is for.
 */
export function scramSaltSourceFor(
  name: string,
  given: pulumi.Input<string> | undefined,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  if (given === undefined) return generatedPassword(name, opts);
  return pulumi.secret(
    pulumi.output(given).apply((password) => givenScramSaltSource(password, name)),
  );
}

/** The salt source of a given password: HMAC-SHA-256 of the salt's name, keyed by the password. */
export function givenScramSaltSource(password: string, name: string): string {
  return crypto.createHmac("sha256", password).update(name).digest("hex");
}
