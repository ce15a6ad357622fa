import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ROOT, runTool } from "./lib";

/**
 * The API server and kubelet edges, read back from the NetworkPolicies `render` writes: the
 * worker and Prometheus reach 6443 only at `deployTargets.apiServer.cidrs` (default
 * `cluster.nodeCidrs`), Prometheus reaches 10250 only at `cluster.nodeCidrs`, and a prod stack
 * without them writes nothing.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-egress-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface PolicyRule {
  ports?: { port: number; protocol: string }[];
  to: { ipBlock?: { cidr: string; except?: string[] } }[];
}

const CLUSTER_RANGES = ["10.42.0.0/16", "10.43.0.0/16"];

/**
 * Renders the shipped stack with `edit` applied to its config (the app turned on in dev, so the
 * worker exists), as a stack file of its own; returns the exit status and a policy reader.
 */
function renderWith(
  name: string,
  stack: "dev" | "prod",
  edit: (config: Record<string, Record<string, unknown>>) => void = () => {},
) {
  const file = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  const config = file.config as Record<string, Record<string, unknown>>;
  if (stack === "dev") {
    config["k3s-platform:app"] = { ...config["k3s-platform:app"], image: "r.example.com/app:1" };
  }
  edit(config);
  const stackFile = path.join(scratch, `Pulumi.${name}.yaml`);
  fs.writeFileSync(stackFile, stringify(file));
  const out = path.join(scratch, "out", name);
  const result = runTool("render", [stack, "--stack-file", stackFile, "--out", out]);
  return {
    ...result,
    out,
    /** Every address block the named policy's egress allows on `port`. */
    egressTo(policy: string, port: number) {
      const text = fs.readFileSync(
        path.join(out, "manifests", `networkpolicy-${policy}.yaml`),
        "utf8",
      );
      const rules = (parse(text) as { spec: { egress: PolicyRule[] } }).spec.egress;
      return rules
        .filter((rule) => rule.ports?.some((spec) => spec.port === port))
        .flatMap((rule) => rule.to.map((to) => to.ipBlock));
    },
  };
}

/** The ipBlocks of `cidrs`, the cluster's ranges excepted from the ones that contain them. */
function blocks(cidrs: string[], except: (cidr: string) => string[] = () => []) {
  return cidrs.map((cidr) => (except(cidr).length > 0 ? { cidr, except: except(cidr) } : { cidr }));
}

describe("the API server and kubelet edges in the rendered NetworkPolicies", () => {
  it("dev: the worker and Prometheus reach 6443 and 10250 only on the private ranges", () => {
    const dev = renderWith("dev-default", "dev");
    expect(dev.stderr).toBe("");
    expect(dev.status).toBe(0);
    // 10.0.0.0/8 holds the pod and Service ranges: they are carved out of it.
    const rfc1918 = blocks(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], (cidr) =>
      cidr === "10.0.0.0/8" ? CLUSTER_RANGES : [],
    );
    expect(dev.egressTo("allow-worker", 6443)).toEqual(rfc1918);
    expect(dev.egressTo("allow-prometheus", 6443)).toEqual(rfc1918);
    expect(dev.egressTo("allow-prometheus", 10250)).toEqual(rfc1918);
  });

  it("dev: the given node network and server addresses, each on its own port", () => {
    const dev = renderWith("dev-given", "dev", (config) => {
      config["k3s-platform:cluster"].nodeCidrs = ["192.168.56.0/24"];
      config["k3s-platform:deployTargets"].apiServer = { cidrs: ["192.168.56.10/32"], port: 16443 };
    });
    expect(dev.status).toBe(0);
    expect(dev.egressTo("allow-worker", 16443)).toEqual([{ cidr: "192.168.56.10/32" }]);
    expect(dev.egressTo("allow-prometheus", 16443)).toEqual([{ cidr: "192.168.56.10/32" }]);
    expect(dev.egressTo("allow-prometheus", 10250)).toEqual([{ cidr: "192.168.56.0/24" }]);
    // Neither reaches the default port, nor the other edge's addresses on its port.
    expect(dev.egressTo("allow-worker", 6443)).toEqual([]);
    expect(dev.egressTo("allow-prometheus", 6443)).toEqual([]);
  });

  it("prod: exactly the shipped stack's server addresses and node network", () => {
    const prod = renderWith("prod-shipped", "prod");
    expect(prod.stderr).toBe("");
    expect(prod.status).toBe(0);
    const servers = blocks(["10.0.0.10/32", "10.0.0.11/32", "10.0.0.12/32"]);
    expect(prod.egressTo("allow-worker", 6443)).toEqual(servers);
    expect(prod.egressTo("allow-prometheus", 6443)).toEqual(servers);
    expect(prod.egressTo("allow-prometheus", 10250)).toEqual(blocks(["10.0.0.0/24"]));
  });

  it("prod without them is refused with both keys named, and writes nothing", () => {
    const prod = renderWith("prod-missing", "prod", (config) => {
      delete config["k3s-platform:cluster"].nodeCidrs;
      delete config["k3s-platform:deployTargets"].apiServer;
    });
    expect(prod.status).not.toBe(0);
    expect(prod.stderr).toMatch(/k3s-platform:cluster\.nodeCidrs: is required in prod/);
    expect(prod.stderr).toMatch(
      /k3s-platform:deployTargets\.apiServer\.cidrs: is required in prod/,
    );
    expect(fs.existsSync(prod.out)).toBe(false);
  });
});
