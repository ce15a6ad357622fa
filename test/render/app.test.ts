import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ROOT, runTool } from "./lib";

/**
 * Where a platform engineer meets the app: whether it runs at all, the image reference the pods
 * get on each path (a tag, a digest, a build), the credentials they pull with, and the runtime
 * contract (ports, probes, entrypoint, user) as the stack config sets it, read back from what
 * `render` writes.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-app-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- YAML read back, checked by the assertions

const DIGEST = `sha256:${"4".repeat(64)}`;
const PASSWORD = "pull-token-that-must-never-be-written";

interface Rendered {
  status: number;
  stderr: string;
  manifest(file: string): Manifest;
  has(file: string): boolean;
  /** Names of the manifest files. */
  files: string[];
  outputs: Record<string, string>;
  allText: string;
}

/**
 * Renders the shipped stack `stack` with `app` merged over its `k3s-platform:app` and `extra`
 * config entries (e.g. a `secure:` registry password), as a stack file of its own.
 */
function renderWith(
  name: string,
  stack: "dev" | "prod",
  app: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Rendered {
  const file = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  const shipped = file.config["k3s-platform:app"] as Record<string, unknown>;
  file.config["k3s-platform:app"] = { ...shipped, ...app };
  Object.assign(file.config, extra);
  const stackFile = path.join(scratch, `Pulumi.${name}.yaml`);
  fs.writeFileSync(stackFile, stringify(file));
  const out = path.join(scratch, "out", name);
  const result = runTool("render", [stack, "--stack-file", stackFile, "--out", out]);
  const read = (file: string) => fs.readFileSync(path.join(out, "manifests", file), "utf8");
  return {
    status: result.status,
    stderr: result.stderr,
    manifest: (file) => parse(read(file)),
    has: (file) => fs.existsSync(path.join(out, "manifests", file)),
    files: result.status === 0 ? fs.readdirSync(path.join(out, "manifests")) : [],
    outputs:
      result.status === 0
        ? JSON.parse(fs.readFileSync(path.join(out, "outputs.json"), "utf8"))
        : {},
    allText:
      result.status === 0
        ? fs
            .readdirSync(out, { recursive: true, withFileTypes: true })
            .filter((entry) => entry.isFile())
            .map((entry) => fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8"))
            .join("\n")
        : "",
  };
}

const container = (rendered: Rendered, deployment: string) =>
  rendered.manifest(`deployment-${deployment}.yaml`).spec.template.spec.containers[0];
const podSpec = (rendered: Rendered, deployment: string) =>
  rendered.manifest(`deployment-${deployment}.yaml`).spec.template.spec;

describe("the dev stack as shipped", () => {
  const rendered = renderWith("dev-shipped", "dev", {});

  it("runs the platform without the app, and says how to turn it on", async () => {
    expect(rendered.status, rendered.stderr).toBe(0);
    for (const file of [
      "deployment-app-web.yaml",
      "deployment-app-worker.yaml",
      "ingress-app.yaml",
      "service-app-web.yaml",
      "networkpolicy-allow-web.yaml",
    ]) {
      expect(rendered.has(file), file).toBe(false);
    }
    // The schema is the platform's: the migrations still run, ready for the app.
    expect(rendered.files.some((file) => /^job-migrations-[0-9a-f]+\.yaml$/.test(file))).toBe(true);
    const { exportedOutputs } = await import("../../platform/outputs");
    expect(Object.keys(rendered.outputs).sort()).toEqual(
      exportedOutputs(false)
        .map(({ name }) => name)
        .sort(),
    );
    expect(rendered.outputs.appStatus).toMatch(/^off: set k3s-platform:app\.image/);
  });

  it("names no image anywhere that does not exist: every app image is a stack's own choice", () => {
    const file = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    expect(parse(file).config["k3s-platform:app"].image).toBeUndefined();
    expect(rendered.allText).not.toMatch(/k3s-platform\/app/);
  });
});

describe("the image reference the pods run", () => {
  it.each([
    ["a tag", "registry.example.com/acme/app:1.4.0", "registry.example.com/acme/app:1.4.0"],
    ["a digest", `ghcr.io/acme/app@${DIGEST}`, `ghcr.io/acme/app@${DIGEST}`],
    ["a tag and a digest", `ghcr.io/acme/app:1.4.0@${DIGEST}`, `ghcr.io/acme/app:1.4.0@${DIGEST}`],
    ["a Docker Hub image", "acme/app:1.4.0", "acme/app:1.4.0"],
  ])("app.image with %s is run as given", (_, image, expected) => {
    const rendered = renderWith(`image-${image.replace(/\W/g, "-")}`, "dev", { image });
    expect(rendered.status, rendered.stderr).toBe(0);
    for (const deployment of ["app-web", "app-worker"]) {
      expect(container(rendered, deployment).image, deployment).toBe(expected);
    }
    expect(rendered.outputs.appImage).toBe(expected);
    expect(rendered.outputs.appStatus).toBe("on");
  });

  it("a build is run by the digest its push returned, at <server>/<repository>, the host once", () => {
    const rendered = renderWith("build", "prod", {});
    expect(rendered.status, rendered.stderr).toBe(0);
    for (const deployment of ["app-web", "app-worker"]) {
      expect(container(rendered, deployment).image, deployment).toMatch(
        /^registry\.example\.com\/platform\/app@sha256:[0-9a-f]{64}$/,
      );
    }
    expect(rendered.outputs.appImage).toBe(container(rendered, "app-web").image);
  });
});

describe("pull credentials", () => {
  const securePassword = { "k3s-platform:registryPassword": { secure: PASSWORD } };

  it("a login with app.image becomes a dockerconfigjson Secret both workloads pull with", () => {
    const rendered = renderWith(
      "pull-login",
      "dev",
      { image: "registry.example.com/acme/app:1.4.0", registryUsername: "ci" },
      securePassword,
    );
    expect(rendered.status, rendered.stderr).toBe(0);
    const secret = rendered.manifest("secret-app-pull.yaml");
    expect(secret.type).toBe("kubernetes.io/dockerconfigjson");
    expect(Object.keys(secret.stringData ?? secret.data)).toEqual([".dockerconfigjson"]);
    for (const deployment of ["app-web", "app-worker"]) {
      expect(podSpec(rendered, deployment).imagePullSecrets, deployment).toEqual([
        { name: "app-pull" },
      ]);
    }
    expect(rendered.allText).not.toContain(PASSWORD);
    expect(rendered.allText).not.toContain(Buffer.from(`ci:${PASSWORD}`).toString("base64"));
  });

  it("a build pulls with the login it pushes with", () => {
    const rendered = renderWith("pull-build", "prod", {}, securePassword);
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(rendered.manifest("secret-app-pull.yaml").type).toBe("kubernetes.io/dockerconfigjson");
    expect(podSpec(rendered, "app-worker").imagePullSecrets).toEqual([{ name: "app-pull" }]);
    expect(rendered.allText).not.toContain(PASSWORD);
  });

  it("an existing Secret is referenced by name, and none is made", () => {
    const rendered = renderWith("pull-existing", "dev", {
      image: "registry.example.com/acme/app:1.4.0",
      imagePullSecret: "acme-pull",
    });
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(rendered.has("secret-app-pull.yaml")).toBe(false);
    for (const deployment of ["app-web", "app-worker"]) {
      expect(podSpec(rendered, deployment).imagePullSecrets).toEqual([{ name: "acme-pull" }]);
    }
  });

  it("a public image pulls without any", () => {
    const rendered = renderWith("pull-none", "dev", { image: "acme/app:1.4.0" });
    expect(podSpec(rendered, "app-web").imagePullSecrets).toBeUndefined();
  });
});

describe("the app's runtime contract", () => {
  const rendered = renderWith("contract", "dev", {
    image: "registry.example.com/acme/app:1.4.0",
    uid: 1001,
    gid: 2002,
    web: {
      port: 3001,
      probes: {
        readiness: { path: "/api/health" },
        liveness: { path: "/api/live" },
        startup: { path: "/api/started", port: 3002 },
        startupSeconds: 300,
      },
    },
    worker: {
      command: ["node"],
      args: ["dist/worker.js"],
      probes: { readiness: { exec: ["/app/ready"] }, liveness: { exec: ["/app/alive"] } },
    },
  });

  it("the web container listens on app.web.port and is probed where the stack says", () => {
    expect(rendered.status, rendered.stderr).toBe(0);
    const web = container(rendered, "app-web");
    expect(web.ports).toContainEqual({ name: "http", containerPort: 3001, protocol: "TCP" });
    expect(web.readinessProbe.httpGet).toEqual({ path: "/api/health", port: "http" });
    expect(web.livenessProbe.httpGet).toEqual({ path: "/api/live", port: "http" });
    expect(web.startupProbe.httpGet).toEqual({ path: "/api/started", port: 3002 });
    expect(web.startupProbe.failureThreshold * web.startupProbe.periodSeconds).toBe(300);
  });

  it("the Service and the Ingress reach that port, and the NetworkPolicy lets Traefik in on it", () => {
    const service = rendered.manifest("service-app-web.yaml");
    expect(service.spec.ports).toEqual([
      { name: "http", port: 80, protocol: "TCP", targetPort: "http" },
    ]);
    const ingress = rendered.manifest("ingress-app.yaml");
    for (const { backend } of ingress.spec.rules[0].http.paths) {
      expect(backend.service).toEqual({ name: "app-web", port: { name: "http" } });
    }
    const policy = rendered.manifest("networkpolicy-allow-web.yaml");
    const ports = policy.spec.ingress.flatMap((rule: Manifest) => rule.ports ?? []);
    expect(ports).toContainEqual({ port: 3001, protocol: "TCP" });
  });

  it("the worker runs its own entrypoint with exec probes and exposes no health port", () => {
    const worker = container(rendered, "app-worker");
    expect(worker.command).toEqual(["node"]);
    expect(worker.args).toEqual(["dist/worker.js"]);
    expect(worker.readinessProbe.exec).toEqual({ command: ["/app/ready"] });
    expect(worker.livenessProbe.exec).toEqual({ command: ["/app/alive"] });
    expect(worker.ports.map((port: Manifest) => port.name)).toEqual(["metrics"]);
  });

  it("both pods run as the stack's user and group", () => {
    for (const deployment of ["app-web", "app-worker"]) {
      expect(podSpec(rendered, deployment).securityContext).toMatchObject({
        runAsUser: 1001,
        runAsGroup: 2002,
        fsGroup: 2002,
      });
    }
  });
});

describe.each(["dev", "prod"] as const)("the %s profile's default app containers", (profile) => {
  const image =
    profile === "dev" ? "registry.example.com/acme/app:1.4.0" : `ghcr.io/acme/app@${DIGEST}`;
  const rendered = renderWith(`defaults-${profile}`, profile, { image, build: undefined });

  it("web on 3001 and the worker's health on 8080, probed at /readyz and /healthz, as the image's user", () => {
    expect(rendered.status, rendered.stderr).toBe(0);
    const web = container(rendered, "app-web");
    const worker = container(rendered, "app-worker");
    expect(web.ports.map(({ name, containerPort }: Manifest) => [name, containerPort])).toEqual([
      ["http", 3001],
      ["metrics", 9464],
    ]);
    expect(worker.ports.map(({ name, containerPort }: Manifest) => [name, containerPort])).toEqual([
      ["health", 8080],
      ["metrics", 9464],
    ]);
    for (const [app, port] of [
      [web, "http"],
      [worker, "health"],
    ] as const) {
      expect(app.readinessProbe.httpGet).toEqual({ path: "/readyz", port });
      expect(app.livenessProbe.httpGet).toEqual({ path: "/healthz", port });
      expect(app.startupProbe.httpGet).toEqual({ path: "/healthz", port });
      expect(app.command).toBeUndefined();
      expect(app.args).toBeUndefined();
    }
    expect(podSpec(rendered, "app-web").securityContext).toMatchObject({
      runAsUser: 65532,
      runAsGroup: 65532,
    });
  });
});
