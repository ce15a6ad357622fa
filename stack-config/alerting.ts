import { z } from "zod";
import {
  ALERT_SEVERITIES,
  BLACKHOLE_RECEIVER,
  RECEIVER_KINDS,
} from "../components/observability/alertmanager-config";

/**
 * The schema of `observability.alerting` (where Alertmanager sends alerts) and of its credentials,
 * `credentials.alerting.<receiver>`, and the rule that ties the two together. The credentials are
 * part of the `credentials` secret key, so they are read as secret outputs, refused in plain text,
 * and redacted from every render; this rule is the one place that reads their values, and it
 * never repeats one.
 */

const receiverName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    error: "a receiver's name must be a DNS label: lowercase letters, digits and '-'",
  })
  .refine((name) => name !== BLACKHOLE_RECEIVER, {
    error: `"${BLACKHOLE_RECEIVER}" is the name of the receiver that sends nothing; choose another`,
  });

const port = z.number().int().min(1).max(65535);

/** What every receiver takes besides its kind's own settings. */
const receiverCommon = {
  /** The severities it gets. Default every one (critical, warning). */
  severities: z.array(z.enum(ALERT_SEVERITIES)).min(1).optional(),
  /** Also notify when an alert resolves. Default true. */
  sendResolved: z.boolean().optional(),
};

const webhookReceiver = z.strictObject({
  kind: z.literal("webhook"),
  /** The port of its URL, which Alertmanager's NetworkPolicy opens. Default 443. */
  port: port.optional(),
  ...receiverCommon,
});

const slackReceiver = z.strictObject({
  kind: z.literal("slack"),
  /** The channel to post to (`#alerts`). Default the Slack webhook's own channel. */
  channel: z.string().min(1).optional(),
  ...receiverCommon,
});

const emailAddress = z.string().regex(/^[^\s@,]+@[^\s@,]+$/, {
  error: "must be an email address such as ops@example.com",
});

const emailReceiver = z.strictObject({
  kind: z.literal("email"),
  to: emailAddress,
  from: emailAddress,
  /** The SMTP server, `host:port`; Alertmanager's NetworkPolicy opens that port. */
  smarthost: z.string().regex(/^[^\s:/]+:(\d{1,5})$/, {
    error: "must be host:port, such as smtp.example.com:587",
  }),
  /** SMTP login. Default the `from` address. */
  username: z.string().min(1).optional(),
  /** Refuse to send without STARTTLS. Default true. */
  requireTls: z.boolean().optional(),
  ...receiverCommon,
});

/** One receiver, by its `kind`. */
const receiver = z.discriminatedUnion("kind", [webhookReceiver, slackReceiver, emailReceiver], {
  error: (issue) =>
    issue.code === "invalid_union"
      ? `must be one of ${RECEIVER_KINDS.map((kind) => `"${kind}"`).join(", ")} (the receiver's kind)`
      : undefined,
});

/**
 * `observability.alerting`: Alertmanager's receivers by name and how alerts are grouped. With no
 * receivers (the default), every alert goes to the blackhole receiver: listed by Alertmanager and
 * Grafana, sent nowhere, and no credential is needed.
 */
export const alertingSchema = z.strictObject({
  receivers: z.record(receiverName, receiver),
  groupBy: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)).min(1),
  groupInterval: z.string().regex(/^\d+(ms|s|m|h|d|w|y)$/, {
    error: 'must be a duration such as "5m"',
  }),
  /**
   * Prod only: run without receivers knowingly, every alert to the blackhole. Without it, prod
   * refuses an empty `receivers`.
   */
  acceptNoReceivers: z.boolean().optional(),
});

/** `credentials.alerting`: each receiver's webhook URL or SMTP password, by receiver name. */
export const alertingCredentialsSchema = z.record(z.string(), z.string().min(1));

export type AlertingConfig = z.output<typeof alertingSchema>;
export type AlertReceiverConfig = AlertingConfig["receivers"][string];

/** What each kind's credential is, for messages. */
const CREDENTIAL_OF = {
  webhook: "its URL",
  slack: "its Slack incoming-webhook URL",
  email: "the SMTP password",
} as const;

/** One problem, at a path of the stack config. */
export interface AlertingIssue {
  path: string[];
  message: string;
}

/** What the rule reads of the parsed config. */
interface AlertingInput {
  profile: string;
  observability: { alerting: AlertingConfig };
  credentials?: { alerting?: Record<string, string> };
}

/**
 * Every receiver has its credential and every credential its receiver; a URL credential is an
 * http(s) URL on the receiver's port, and https in prod. Messages never repeat a credential.
 */
export function alertingCredentialIssues(config: AlertingInput): AlertingIssue[] {
  const receivers = config.observability.alerting.receivers;
  const given = config.credentials?.alerting ?? {};
  const at = (name: string) => ["credentials", "alerting", name];
  const issues: AlertingIssue[] = [];
  for (const [name, spec] of Object.entries(receivers)) {
    const credential = given[name];
    if (credential === undefined) {
      issues.push({
        path: at(name),
        message:
          `is required: observability.alerting.receivers.${name} is a ${spec.kind} receiver and ` +
          `sends with ${CREDENTIAL_OF[spec.kind]}; set it with \`pulumi config set --secret ` +
          `--path 'k3s-platform:credentials.alerting.${name}' <value>\``,
      });
    } else if (spec.kind !== "email") {
      const problem = urlProblem(
        credential,
        spec.kind === "webhook" ? spec.port : undefined,
        config.profile,
      );
      if (problem) issues.push({ path: at(name), message: problem });
    }
  }
  for (const name of Object.keys(given).filter((name) => !(name in receivers))) {
    issues.push({
      path: at(name),
      message: `is set, but observability.alerting.receivers has no receiver "${name}"`,
    });
  }
  return issues;
}

/**
 * What the engine-less tools (`render`, `check`) hand the program for a `secure:` value
 * (`MOCK_SECRET_PREFIX` of tools/lib/mocks.ts; a unit test holds the two equal). It stands for a
 * value only the engine can decrypt, so there is no URL to judge: the tools see no credential but
 * such stand-ins (a plain-text one is refused as a leak), and `pulumi preview` judges the real one.
 */
export const TOOL_SECRET_STAND_IN = "MOCK-SECRET-";

/** What is wrong with a receiver's URL, without repeating it (it may carry a token). */
function urlProblem(value: string, port: number | undefined, profile: string): string | undefined {
  if (value.startsWith(TOOL_SECRET_STAND_IN)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an http(s) URL (the value is not a URL; it is not repeated here)";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `must be an http(s) URL (got a ${url.protocol} URL)`;
  }
  if (profile === "prod" && url.protocol !== "https:") {
    return "must be an https:// URL in prod: alerts and the URL's token would cross the internet in clear text";
  }
  const urlPort = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const opened = port ?? 443;
  if (urlPort !== opened) {
    return (
      `uses port ${urlPort}, but Alertmanager's NetworkPolicy opens ${opened}: set the receiver's ` +
      `port to ${urlPort}`
    );
  }
  return undefined;
}
