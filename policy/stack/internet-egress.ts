import type { StackValidationPolicy } from "@pulumi/policy";
import * as ports from "../model/port-set";
import type { Endpoint } from "../model/reachability";
import {
  connectionsInto,
  describeEndpoint,
  envValues,
  matrixOf,
  objectOf,
  plays,
  ROLES,
  setsEnv,
  tcp,
  type Role,
} from "../lib/invariants";
import { validateKubeStack } from "../lib/rule";
import type { StackIndex } from "../lib/stack";

/** One way out of the cluster the config can open, with its reason. */
interface InternetEgress {
  role: Role;
  /** The ports it may open, or how they follow from the value of its `env` variable. */
  ports: ports.PortSet | ((value: string) => ports.PortSet);
  /** Its ports, as the rule's messages say them. */
  on: string;
  why: string;
  /** The env variable the pods must carry for it: the render's sign that the config enabled it. */
  env?: string;
}

/**
 * The port of an S3 endpoint outside the cluster (`https://host[:port]`), none for a cluster
 * Service (`*.svc`, `*.svc.cluster.local`) or a value that is no URL: an in-cluster target never
 * needs the internet.
 */
export function externalEndpointPorts(value: string): ports.PortSet {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return ports.union();
  }
  const host = url.hostname;
  const inCluster = host.endsWith(".svc") || host.includes(".svc.") || !host.includes(".");
  if (inCluster || (url.protocol !== "https:" && url.protocol !== "http:")) return ports.union();
  return tcp(url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80);
}

/**
 * The port of Dragonfly's `DFLY_s3_endpoint` (`host:port`, no scheme) when the host is outside
 * the cluster; none for a cluster Service or a value without a port.
 */
function externalHostPortPorts(value: string): ports.PortSet {
  const match = /^([^:/\s]+):(\d{1,5})$/.exec(value);
  return match ? externalEndpointPorts(`http://${match[1]}:${match[2]}`) : ports.union();
}

/**
 * Every way to the internet the platform has. Arcjet's shows in the render as the web's
 * `ARCJET_KEY`; the model registry's has no sign besides the edge (`app.egress.modelRegistry`
 * only adds or drops it), so Ollama is held to HTTPS. The notify webhook is named by its own CIDRs,
 * not the internet: a CIDR that spans any public address is reported here.
 */
const INTERNET_EGRESS: readonly InternetEgress[] = [
  {
    role: ROLES.web,
    ports: tcp(443),
    on: "443",
    why: "Arcjet's API (the stack's arcjetKey with app.egress.arcjet)",
    env: "ARCJET_KEY",
  },
  {
    role: ROLES.ollama,
    ports: tcp(443),
    on: "443",
    why: "the Ollama model registry (app.egress.modelRegistry)",
  },
  ...[ROLES.backup, ROLES.baseBackup, ROLES.postgres].map((role) => ({
    role,
    ports: externalEndpointPorts,
    on: "its S3_ENDPOINT's port",
    why: "an external backup target (postgres.backup.target.type s3)",
    env: "S3_ENDPOINT",
  })),
  ...[ROLES.loki, ROLES.tempo].map((role) => ({
    role,
    ports: externalEndpointPorts,
    on: "its S3_ENDPOINT's port",
    why: "their buckets at the backup target (observability.objectStorageTarget backup-target)",
    env: "S3_ENDPOINT",
  })),
  {
    role: ROLES.dragonfly,
    ports: externalHostPortPorts,
    on: "its DFLY_s3_endpoint's port",
    why: "an external snapshot target (dragonfly.snapshotTarget.type s3)",
    env: "DFLY_s3_endpoint",
  },
];

/** The ports this endpoint may open on the internet, by the allowances its pods qualify for. */
function allowedFor(stack: StackIndex, from: Endpoint): ports.PortSet {
  return ports.union(
    ...INTERNET_EGRESS.filter(
      (egress) =>
        plays(from, egress.role) && (egress.env === undefined || setsEnv(stack, from, egress.env)),
    ).flatMap((egress) =>
      typeof egress.ports === "function" && egress.env !== undefined
        ? envValues(stack, from, egress.env).map(egress.ports)
        : typeof egress.ports === "function"
          ? []
          : [egress.ports],
    ),
  );
}

/**
 * Whole-stack rule `internet-egress`: nothing in the platform reaches the internet (a public
 * address outside the cluster's ranges) except Arcjet's API from web when its pods carry
 * `ARCJET_KEY`, and the Ollama registry from Ollama, each on 443 only; the backups (the dump and
 * base backup CronJobs, the database pod's WAL uploader and restore) and Loki and Tempo at the
 * backup target on the port of their `S3_ENDPOINT`, and Dragonfly on the port of its
 * `DFLY_s3_endpoint`, each when that is outside the cluster. Judged on the rendered
 * NetworkPolicies, never on the wiring table.
 */
export const internetEgress: StackValidationPolicy = {
  name: "internet-egress",
  description:
    "Nothing reaches the internet except web → Arcjet (443, with ARCJET_KEY), Ollama → its " +
    "model registry (443); the backups (CronJobs, WAL upload, restore), Loki and Tempo → an " +
    "external S3_ENDPOINT (its port); Dragonfly → an external DFLY_s3_endpoint (its port).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Remove the internet edge from the wiring table (platform/wiring.ts), or narrow an " +
    "address edge (the API server, the notify webhook) to its own CIDRs.",
  validateStack: validateKubeStack((stack, report, args) => {
    const matrix = matrixOf(stack, args);
    for (const { from, entry } of connectionsInto(matrix, (to) => to.kind === "internet")) {
      const holder = objectOf(stack, from);
      if (holder === undefined) continue;
      const extra = ports.subtract(entry.ports, allowedFor(stack, from));
      for (const text of ports.describePorts(extra)) {
        report(
          holder,
          `${describeEndpoint(from)} may reach the internet${text}, which no config enables ` +
            `(the internet is reached only by ${INTERNET_EGRESS.map(
              (egress) => `${egress.role.label} on ${egress.on} for ${egress.why}`,
            ).join("; ")}); remove the edge or narrow it to its own addresses`,
        );
      }
    }
  }),
};
