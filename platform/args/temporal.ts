import { temporalSettingsRules, type TemporalSettings } from "../../components/temporal/args";
import { TEMPORAL_SERVICES, type TemporalServiceName } from "../../components/temporal/config";
import { ingressHost, type StackProblem } from "../../stack-config/stack-rules";
import type { PlatformArgs, PlatformSettings, ValidatedConfig } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * Temporal's settings from the stack config; the Platform adds the databases (the Postgres
 * component's Service and Temporal role) and what the schema Job waits for. The UI's OIDC client
 * secret comes from `secrets` when given (the Platform's args carry it; a check has none).
 */
export function argsForTemporal(
  config: PlatformSettings & Partial<Pick<PlatformArgs, "secrets">>,
): TemporalSettings {
  const { temporal, cluster } = config;
  return {
    numHistoryShards: temporal.numHistoryShards,
    recordedNumHistoryShards: temporal.recordedNumHistoryShards,
    separateServices: temporal.separateServices,
    // One key sizes every service. It is read only with separateServices: the all-in-one
    // Deployment (dev) runs one pod whatever temporal.replicas says (ALL_IN_ONE_REPLICAS).
    replicas: replicasPerService(temporal.replicas),
    resources: temporal.resources,
    ui: {
      ...(temporal.ui.ingress
        ? {
            ingress: {
              host: ingressHost(config, "temporal"),
              ingressClassName: cluster.ingressClass,
              tlsSecretName: cluster.tlsSecretName,
            },
          }
        : {}),
      // The UI is stateless: two pods where the server is HA, one otherwise.
      replicas: temporal.separateServices ? 2 : 1,
      writeActions: temporal.ui.writeActions,
      ...uiOidc(config),
    },
    appNamespace: temporal.namespace,
  };
}

/** The login, when the stack gives both its issuer and client (else temporalUiProblems says so). */
function uiOidc(
  config: Pick<PlatformSettings, "temporal"> & Partial<Pick<PlatformArgs, "secrets">>,
): Pick<TemporalSettings["ui"], "oidc"> {
  const { issuerUrl, clientId, scopes } = config.temporal.ui.oidc ?? {};
  if (issuerUrl === undefined || clientId === undefined) return {};
  const clientSecret = config.secrets?.temporalUiClientSecret;
  return {
    oidc: {
      issuerUrl,
      clientId,
      ...(scopes ? { scopes } : {}),
      ...(clientSecret ? { clientSecret } : {}),
    },
  };
}

/** The OIDC settings a login needs, as the stack names them. */
const OIDC_PARTS = {
  issuerUrl: "temporal.ui.oidc.issuerUrl",
  clientId: "temporal.ui.oidc.clientId",
  clientSecret: "temporalUiClientSecret",
} as const;

/**
 * Who may reach the Temporal UI: its OIDC login given whole or not at all (the secret is a
 * secret key, so only the stack's keys tell whether it is given), and in prod no Ingress without
 * that login, an https issuer, and TLS on the UI's host.
 */
export function temporalUiProblems(
  config: Pick<ValidatedConfig, "profile" | "temporal" | "cluster">,
  written: (key: string) => boolean,
): StackProblem[] {
  const { ui } = config.temporal;
  const given = {
    issuerUrl: ui.oidc?.issuerUrl !== undefined,
    clientId: ui.oidc?.clientId !== undefined,
    clientSecret: written("temporalUiClientSecret"),
  };
  const parts = Object.keys(OIDC_PARTS) as (keyof typeof OIDC_PARTS)[];
  const any = ui.oidc !== undefined || parts.some((part) => given[part]);
  const first = parts.find((part) => given[part]);
  const along = first ? OIDC_PARTS[first] : "temporal.ui.oidc";
  const problems: StackProblem[] = (any ? parts : [])
    .filter((part) => !given[part])
    .map((part) => ({
      keys: [OIDC_PARTS[part]],
      message:
        `is required with ${along}: the UI's login needs the issuer, the client id and the ` +
        `client secret (\`pulumi config set --secret k3s-platform:temporalUiClientSecret …\`)`,
    }));
  return [...problems, ...(config.profile === "prod" ? prodUiProblems(config, any) : [])];
}

/** In prod the UI is served only behind its login, from an https issuer, over TLS. */
function prodUiProblems(
  config: Pick<ValidatedConfig, "temporal" | "cluster">,
  login: boolean,
): StackProblem[] {
  const { ui } = config.temporal;
  const problems: StackProblem[] = [];
  if (ui.ingress && !login) {
    problems.push({
      keys: ["temporal.ui.ingress"],
      message:
        "must be false in prod unless the UI has its login (temporal.ui.oidc and " +
        "temporalUiClientSecret): the UI shows workflow payloads and lets anyone who reaches it " +
        "terminate, reset and signal workflows; without an Ingress, operators use kubectl " +
        "port-forward (docs/temporal-ui.md)",
    });
  }
  const issuer = ui.oidc?.issuerUrl;
  if (issuer !== undefined && !issuer.startsWith("https://")) {
    problems.push({
      keys: ["temporal.ui.oidc.issuerUrl"],
      message:
        `must be an https URL in prod (got "${issuer}"): the UI fetches the provider's keys and ` +
        `exchanges its client secret there`,
    });
  }
  if (ui.ingress && config.cluster.tlsSecretName === undefined) {
    problems.push({
      keys: ["cluster.tlsSecretName"],
      message:
        "is required in prod while temporal.ui.ingress is on: the login's callback and session " +
        "cookie must not cross the network in the clear",
    });
  }
  return problems;
}

function replicasPerService(replicas: number): Record<TemporalServiceName, number> {
  return { frontend: replicas, history: replicas, matching: replicas, worker: replicas };
}

export const temporalCheck: ComponentCheck = {
  rules: (config) => temporalSettingsRules(argsForTemporal(config)),
  keys: {
    // Both its range and the ban on changing it from recordedNumHistoryShards.
    numHistoryShards: "temporal.numHistoryShards",
    // One stack key gives every service Deployment its pods.
    ...Object.fromEntries(
      TEMPORAL_SERVICES.map((service) => [`replicas.${service}`, "temporal.replicas"]),
    ),
    // The UI's pods follow separateServices (2 or 1), so the rule cannot fail from a stack.
    "ui.replicas": "temporal.separateServices",
    "ui.ingress.host": "temporal.ui.host",
    "ui.oidc": "temporal.ui.oidc",
    // appNamespace.name → temporal.namespace.name, appNamespace.retentionDays → ….retentionDays.
    appNamespace: "temporal.namespace",
  },
};
