import { describe, expect, it } from "vitest";
import {
  alertmanagerConfig,
  alertmanagerRules,
  BLACKHOLE_RECEIVER,
  NODE_DOWN_ALERT,
  RECEIVER_SECRETS_DIR,
  receiverPorts,
  type ReceiverSpec,
} from "../../components/observability";
import { MOCK_SECRET_PREFIX } from "../../tools/lib/mocks";
import { alertingCredentialIssues, TOOL_SECRET_STAND_IN } from "../../stack-config/alerting";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed config

const oncall: ReceiverSpec = { name: "oncall", kind: "webhook" };
const chat: ReceiverSpec = {
  name: "chat",
  kind: "slack",
  channel: "#ops",
  severities: ["warning"],
};
const mail: ReceiverSpec = {
  name: "mail",
  kind: "email",
  severities: ["critical"],
  email: { to: "ops@example.com", from: "am@example.com", smarthost: "smtp.example.com:587" },
};

describe("Alertmanager's config", () => {
  it("sends everything to the blackhole when no receiver is configured (the dev default)", () => {
    const config = alertmanagerConfig({ receivers: [] }) as Obj;
    expect(config.route.receiver).toBe(BLACKHOLE_RECEIVER);
    expect(config.route.routes).toEqual([]);
    expect(config.receivers).toEqual([{ name: BLACKHOLE_RECEIVER }]);
    expect(receiverPorts([])).toEqual([]);
  });

  it("routes each severity a receiver takes to it, with that severity's timing", () => {
    const config = alertmanagerConfig({ receivers: [oncall, chat, mail] }) as Obj;
    const routes = (config.route.routes as Obj[]).map((r) => [
      r.receiver,
      r.matchers[0],
      r.repeat_interval,
    ]);
    expect(routes).toEqual([
      ["oncall", 'severity="critical"', "1h"],
      ["oncall", 'severity="warning"', "4h"],
      ["chat", 'severity="warning"', "4h"],
      ["mail", 'severity="critical"', "1h"],
    ]);
    expect((config.route.routes as Obj[]).every((r) => r.continue === true)).toBe(true);
  });

  it("names every credential by its file in the mounted Secret, never by value", () => {
    const config = alertmanagerConfig({ receivers: [oncall, chat, mail] }) as Obj;
    const byName = Object.fromEntries((config.receivers as Obj[]).map((r) => [r.name, r]));
    expect(byName.oncall.webhook_configs[0].url_file).toBe(`${RECEIVER_SECRETS_DIR}/oncall`);
    expect(byName.chat.slack_configs[0]).toMatchObject({
      api_url_file: `${RECEIVER_SECRETS_DIR}/chat`,
      channel: "#ops",
    });
    expect(byName.mail.email_configs[0]).toMatchObject({
      auth_password_file: `${RECEIVER_SECRETS_DIR}/mail`,
      auth_username: "am@example.com",
      require_tls: true,
    });
  });

  it("holds back every other alert of a node while its NodeDown fires", () => {
    const config = alertmanagerConfig({ receivers: [] }) as Obj;
    expect(config.inhibit_rules).toEqual([
      {
        source_matchers: [`alertname="${NODE_DOWN_ALERT}"`],
        target_matchers: [`alertname!="${NODE_DOWN_ALERT}"`],
        equal: ["node"],
      },
    ]);
  });

  it("opens only the receivers' ports: 443 by default, a webhook's own, SMTP's", () => {
    expect(receiverPorts([oncall, chat, mail])).toEqual([443, 587]);
    expect(receiverPorts([{ ...oncall, port: 8443 }])).toEqual([8443]);
  });
});

describe("Alertmanager's rules", () => {
  it("accepts the defaults and good receivers", () => {
    const credential = "x";
    expect(alertmanagerRules({})).toEqual([]);
    expect(
      alertmanagerRules({ receivers: [oncall, chat, mail].map((r) => ({ ...r, credential })) }),
    ).toEqual([]);
  });

  it("refuses the blackhole's name, a repeated name, a bad smarthost and an empty groupBy", () => {
    const paths = alertmanagerRules({
      receivers: [
        { ...oncall, name: BLACKHOLE_RECEIVER, credential: "x" },
        { ...chat, credential: "x" },
        { ...chat, credential: "x" },
        { ...mail, email: { ...mail.email!, smarthost: "smtp.example.com" }, credential: "x" },
      ],
      groupBy: [],
    }).map((error) => error.propertyPath);
    expect(paths).toEqual([
      "receivers.0.name",
      "receivers.1.name",
      "receivers.2.name",
      "receivers.3.email.smarthost",
      "groupBy",
    ]);
  });
});

describe("the receivers' credentials in the stack config", () => {
  const config = (profile: string, receivers: Obj, alerting?: Record<string, string>) => ({
    profile,
    observability: { alerting: { receivers, groupBy: ["alertname"], groupInterval: "5m" } },
    credentials: alerting ? { alerting } : undefined,
  });
  const hook = { kind: "webhook" as const };

  it("needs none without receivers, and one per receiver", () => {
    expect(alertingCredentialIssues(config("prod", {}))).toEqual([]);
    expect(alertingCredentialIssues(config("prod", { oncall: hook }))).toEqual([
      {
        path: ["credentials", "alerting", "oncall"],
        message: expect.stringMatching(/is required/),
      },
    ]);
  });

  it("wants https in prod, allows http in dev on the receiver's port, never repeats the URL", () => {
    const http = { oncall: "http://hooks.internal:8080/t0ken" };
    const prodIssues = alertingCredentialIssues(config("prod", { oncall: hook }, http));
    expect(prodIssues.map((i) => i.message)).toEqual([
      expect.stringMatching(/https:\/\/ URL in prod/),
    ]);
    const devIssues = alertingCredentialIssues(config("dev", { oncall: hook }, http));
    expect(devIssues.map((i) => i.message)).toEqual([
      expect.stringMatching(/set the receiver's port to 8080/),
    ]);
    expect(
      alertingCredentialIssues(config("dev", { oncall: { ...hook, port: 8080 } }, http)),
    ).toEqual([]);
    for (const issue of [...prodIssues, ...devIssues]) expect(issue.message).not.toContain("t0ken");
  });

  it("refuses a credential for no receiver", () => {
    const issues = alertingCredentialIssues(config("dev", {}, { stray: "https://x.example/" }));
    expect(issues).toEqual([
      {
        path: ["credentials", "alerting", "stray"],
        message: expect.stringMatching(/no receiver "stray"/),
      },
    ]);
  });

  it("leaves the engine-less tools' stand-in for a secure value to the engine", () => {
    expect(TOOL_SECRET_STAND_IN).toBe(MOCK_SECRET_PREFIX);
    const standIn = {
      oncall: `${MOCK_SECRET_PREFIX}config-k3s-platform-credentials-alerting-oncall`,
    };
    expect(alertingCredentialIssues(config("prod", { oncall: hook }, standIn))).toEqual([]);
  });
});
