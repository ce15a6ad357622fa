import { PORTS } from "./common";

/**
 * Alertmanager's `alertmanager.yml` and command line, as pure functions of their inputs. No
 * credential is ever in the config: each receiver's (its webhook URL, or its SMTP password) is a
 * key of a Secret mounted at {@link RECEIVER_SECRETS_DIR}, which the config names by path
 * (`url_file`, `api_url_file`, `auth_password_file`), so the config can sit in a ConfigMap.
 */

/** Where the receivers' Secret is mounted: one file per receiver, named after it. */
export const RECEIVER_SECRETS_DIR = "/etc/alertmanager/secrets";
/** Where the config is mounted. */
export const ALERTMANAGER_CONFIG_DIR = "/etc/alertmanager/config";
/** Silences and the notification log (the PVC): they survive a restart. */
export const ALERTMANAGER_DATA_DIR = "/alertmanager";

/** The severities the alert rules use (`labels.severity` in `charts/alerts/*.yaml`). */
export const ALERT_SEVERITIES = ["critical", "warning"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** How a receiver delivers. */
export const RECEIVER_KINDS = ["webhook", "slack", "email"] as const;
export type ReceiverKind = (typeof RECEIVER_KINDS)[number];

/**
 * The receiver every alert no other route takes goes to: it has no integration, so such an alert
 * is still listed by Alertmanager (its API, Grafana's Alertmanager datasource) but sent nowhere.
 * With no receivers configured (the dev default), every alert ends here.
 */
export const BLACKHOLE_RECEIVER = "blackhole";

/** The alert whose firing silences every other alert of its node (charts/alerts/platform.yaml). */
export const NODE_DOWN_ALERT = "NodeDown";

/**
 * How often a still-firing group is sent again, and how long a new group waits for more alerts
 * before its first notification, by severity: a critical page comes fast and is repeated hourly.
 */
export const SEVERITY_TIMING: Record<AlertSeverity, { groupWait: string; repeatInterval: string }> =
  {
    critical: { groupWait: "10s", repeatInterval: "1h" },
    warning: { groupWait: "1m", repeatInterval: "4h" },
  };

/** An email receiver's non-secret settings; its SMTP password is the receiver's credential. */
export interface EmailSettings {
  /** Recipient(s), comma-separated. */
  to: string;
  /** Sender address. */
  from: string;
  /** SMTP server as `host:port`, e.g. `smtp.example.com:587`. */
  smarthost: string;
  /** SMTP login. @default the `from` address */
  username?: string;
  /** Refuse to send without STARTTLS (port 465 uses implicit TLS either way). @default true */
  requireTls?: boolean;
}

/** One receiver as the config builder takes it: its credential stays in the Secret. */
export interface ReceiverSpec {
  /** Receiver name; also the file name of its credential in the Secret. */
  name: string;
  kind: ReceiverKind;
  /** The severities routed to it. @default every one of {@link ALERT_SEVERITIES} */
  severities?: AlertSeverity[];
  /** Notify when an alert resolves too. @default true */
  sendResolved?: boolean;
  /** Slack channel (`#alerts`). @default the one the Slack webhook posts to */
  channel?: string;
  /** Email settings (kind `email` only). */
  email?: EmailSettings;
  /**
   * The port the webhook's URL uses (kinds `webhook` and `slack`), which the NetworkPolicy opens.
   * @default 443
   */
  port?: number;
}

/** How alerts are grouped into notifications. */
export interface GroupingSpec {
  /** Labels whose values make a group. @default ["alertname", "namespace"] */
  groupBy?: string[];
  /** Wait before a changed group is notified again. @default "5m" */
  groupInterval?: string;
}

/** Grouping defaults, in one place. */
export const GROUPING_DEFAULTS = {
  groupBy: ["alertname", "namespace"],
  groupInterval: "5m",
} as const;

/** What {@link alertmanagerConfig} is built from. */
export interface AlertmanagerConfigArgs extends GroupingSpec {
  receivers: ReceiverSpec[];
}

/** The receiver's integration, its credential read from its file in the Secret. */
function integration(receiver: ReceiverSpec): Record<string, unknown> {
  const credentialFile = `${RECEIVER_SECRETS_DIR}/${receiver.name}`;
  const sendResolved = receiver.sendResolved ?? true;
  switch (receiver.kind) {
    case "webhook":
      return { webhook_configs: [{ url_file: credentialFile, send_resolved: sendResolved }] };
    case "slack":
      return {
        slack_configs: [
          {
            api_url_file: credentialFile,
            send_resolved: sendResolved,
            ...(receiver.channel ? { channel: receiver.channel } : {}),
            title:
              "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})",
            text: "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}",
          },
        ],
      };
    case "email": {
      const email = receiver.email;
      if (!email)
        throw new Error(`receiver ${receiver.name}: an email receiver needs its settings`);
      return {
        email_configs: [
          {
            to: email.to,
            from: email.from,
            smarthost: email.smarthost,
            auth_username: email.username ?? email.from,
            auth_password_file: credentialFile,
            require_tls: email.requireTls ?? true,
            send_resolved: sendResolved,
          },
        ],
      };
    }
  }
}

/**
 * One route per receiver and severity it takes, each with that severity's timing, and `continue`
 * so that two receivers of one severity both get it. What no route takes goes to the blackhole.
 */
function routes(receivers: ReceiverSpec[]): Record<string, unknown>[] {
  return receivers.flatMap((receiver) =>
    (receiver.severities ?? [...ALERT_SEVERITIES]).map((severity) => ({
      receiver: receiver.name,
      matchers: [`severity="${severity}"`],
      group_wait: SEVERITY_TIMING[severity].groupWait,
      repeat_interval: SEVERITY_TIMING[severity].repeatInterval,
      continue: true,
    })),
  );
}

/**
 * `alertmanager.yml`: routing by severity to the configured receivers, grouping, and one inhibit
 * rule: while a node is down ({@link NODE_DOWN_ALERT}, from its kubelet's scrape), every other
 * alert carrying that node's `node` label (its pods' scrape targets, volumes, crash loops, pools)
 * is held back: one page for the node, not one per pod on it.
 */
export function alertmanagerConfig(args: AlertmanagerConfigArgs): Record<string, unknown> {
  return {
    route: {
      receiver: BLACKHOLE_RECEIVER,
      group_by: args.groupBy ?? [...GROUPING_DEFAULTS.groupBy],
      group_wait: SEVERITY_TIMING.warning.groupWait,
      group_interval: args.groupInterval ?? GROUPING_DEFAULTS.groupInterval,
      repeat_interval: SEVERITY_TIMING.warning.repeatInterval,
      routes: routes(args.receivers),
    },
    inhibit_rules: [
      {
        source_matchers: [`alertname="${NODE_DOWN_ALERT}"`],
        target_matchers: [`alertname!="${NODE_DOWN_ALERT}"`],
        equal: ["node"],
      },
    ],
    receivers: [
      { name: BLACKHOLE_RECEIVER },
      ...args.receivers.map((receiver) => ({ name: receiver.name, ...integration(receiver) })),
    ],
  };
}

/**
 * The command line. `--cluster.listen-address=` (empty) turns off the gossip between replicas:
 * there is one, and its port would otherwise listen unannounced.
 */
export function alertmanagerArgs(): string[] {
  return [
    `--config.file=${ALERTMANAGER_CONFIG_DIR}/alertmanager.yml`,
    `--storage.path=${ALERTMANAGER_DATA_DIR}`,
    `--web.listen-address=:${PORTS.alertmanagerHttp}`,
    "--cluster.listen-address=",
  ];
}

/** The egress ports the receivers need: 443 for webhooks and Slack unless given, SMTP's own. */
export function receiverPorts(receivers: ReceiverSpec[]): number[] {
  const ports = receivers.map((receiver) =>
    receiver.kind === "email" && receiver.email
      ? Number(receiver.email.smarthost.split(":").pop())
      : (receiver.port ?? 443),
  );
  return [...new Set(ports)].sort((a, b) => a - b);
}
