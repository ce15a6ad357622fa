/**
 * The image lock against a real registry: go-containerregistry's `registry` on loopback holds a
 * random image under every catalogue repository and tag (and under one stack override of its
 * own), `npm run images:lock` resolves them through `--mirror` (each catalogue registry mapped to
 * the loopback one, the lock keeping the catalogue's names), and every digest is compared with
 * `crane digest`. A prod render pinned by that lock is clean; after one tag is re-pushed, a second
 * run re-points exactly that entry, and the pack judging the earlier render by the new lock
 * reports the drift as mandatory. A loopback proxy that demands an anonymous Bearer token proves
 * the token flow the public registries use. Every server runs on loopback and is stopped in
 * `afterAll`, whatever the tests did.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { IMAGE_NAMES, imageRef } from "../../core/images";
import { imageLockKey, readImageLock, type ImageLock } from "../../policy/model/image-lock";
import { canonicalImageReference } from "../../policy/model/image-reference";
import type { RenderedResource } from "../../policy/model/render-model";
import { runPolicyPack } from "../../policy/run";
import { RegistryResolver } from "../../tools/lib/registry-resolver";
import { binaryPath, ensureGoTool } from "./lib/go-tools";
import { freePort, stopServer } from "./lib/process";
import { run } from "./lib/rendered-stack";
import { craneTool, registryTool } from "./lib/test-tools";

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const BUILD_TIMEOUT = 30 * 60_000;
/** The catalogue image the test re-pushes: its entry alone must move. */
const REPOINTED = "postgres";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-images-lock-"));
const project = path.join(work, "project");
const lockFile = path.join(work, "images.lock.json");
let registry: ChildProcess | undefined;
let proxy: http.Server | undefined;
let registryHost = "";
let crane = "";
/** The stack override the test adds: an image only the loopback registry has. */
let override = "";
let firstLock: ImageLock = {};
let firstRun = "";
let render: RenderedResource[] = [];

/** Starts the registry on a port it picks itself (`-port 0`), and reads which from its log. */
async function startRegistry(binary: string): Promise<string> {
  const child = spawn(binary, ["-port", "0"], { cwd: work, stdio: ["ignore", "ignore", "pipe"] });
  registry = child;
  const port = await new Promise<number>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`registry did not start:\n${log}`)), 30_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      const match = /serving on port (\d+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => reject(new Error(`registry exited ${code}:\n${log}`)));
  });
  return `localhost:${port}`;
}

/** Pushes a one-layer image of random bytes under `reference`; returns crane's digest of it. */
async function pushRandomImage(reference: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(work, "layer-"));
  fs.writeFileSync(path.join(dir, "random.bin"), randomBytes(256));
  const tarball = path.join(dir, "layer.tar");
  await run("tar", ["-cf", tarball, "-C", dir, "random.bin"]);
  await run(crane, ["append", "--insecure", "-f", tarball, "-t", reference]);
  return craneDigest(reference);
}

async function craneDigest(reference: string): Promise<string> {
  return (await run(crane, ["digest", "--insecure", reference])).stdout.trim();
}

/** Where a catalogue image sits in the loopback registry: same repository and tag. */
function onLoopback(reference: string): string {
  const { repository, tag } = canonicalImageReference(reference);
  return `${registryHost}/${repository}:${tag}`;
}

/** Every registry the catalogue names, mapped to the loopback one. */
function mirrorFlag(): string {
  const registries = new Set(
    IMAGE_NAMES.map((name) => canonicalImageReference(imageRef(name)).registry),
  );
  return [...registries].map((registry) => `${registry}=${registryHost}`).join(",");
}

/** `npm run images:lock` as a user runs it, against the loopback registry. */
async function lockImages(): Promise<string> {
  const { stdout } = await run(process.execPath, [
    TSX,
    path.join(ROOT, "tools", "images-lock.ts"),
    "--lock",
    lockFile,
    "--project-dir",
    project,
    "--mirror",
    mirrorFlag(),
    "--insecure-registry",
    registryHost,
  ]);
  return stdout;
}

/** Prod's stack file with the test's override and lock, in the test's project directory. */
function writeStackFile(): string {
  const file = parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8")) as {
    config: Record<string, unknown>;
  };
  file.config["k3s-platform:images"] = { curl: override };
  file.config["k3s-platform:imagesLock"] = lockFile;
  fs.mkdirSync(project, { recursive: true });
  const stackFile = path.join(project, "Pulumi.prod.yaml");
  fs.writeFileSync(stackFile, stringify(file));
  return stackFile;
}

/** The stack's resources, rendered in a process of its own (one render per process). */
async function renderResources(stackFile: string): Promise<RenderedResource[]> {
  const script = path.join(ROOT, "test", "unit", "policy", "render-stack-resources.ts");
  const { stdout } = await run(process.execPath, [TSX, script, "prod", stackFile]);
  return JSON.parse(stdout) as RenderedResource[];
}

/** Every container image a render deploys. */
function imagesIn(resources: RenderedResource[]): string[] {
  const text = JSON.stringify(resources.map((resource) => resource.props));
  return [...text.matchAll(/"image":"([^"]+)"/g)].map((match) => match[1]);
}

beforeAll(async () => {
  const registryBinary = binaryPath(registryTool(), "registry");
  await ensureGoTool(registryTool());
  await ensureGoTool(craneTool());
  crane = binaryPath(craneTool(), "crane");
  registryHost = await startRegistry(registryBinary);
  override = `${registryHost}/test/curl:8.11.1`;
  // Every catalogue repository path is pushed to one registry: two catalogue registries holding
  // the same path would collide there.
  const paths = IMAGE_NAMES.map((name) => canonicalImageReference(imageRef(name)).repository);
  expect(new Set(paths).size).toBe(paths.length);
  for (const name of IMAGE_NAMES) await pushRandomImage(onLoopback(imageRef(name)));
  await pushRandomImage(override);
  const stackFile = writeStackFile();
  firstRun = await lockImages();
  firstLock = readImageLock(lockFile);
  render = await renderResources(stackFile);
}, BUILD_TIMEOUT);

afterAll(async () => {
  if (registry) await stopServer(registry, "SIGTERM", 5_000);
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  fs.rmSync(work, { recursive: true, force: true });
});

describe("npm run images:lock against a loopback registry", () => {
  it("locks every catalogue image and the stack's override, each at crane's digest", async () => {
    const expected = [...IMAGE_NAMES.map((name) => imageRef(name)), override];
    expect(Object.keys(firstLock).sort()).toEqual(expected.map((ref) => imageLockKey(ref)).sort());
    for (const reference of expected) {
      const entry = firstLock[imageLockKey(reference) as string];
      const pushed = reference === override ? override : onLoopback(reference);
      expect(entry.digest, reference).toBe(await craneDigest(pushed));
      expect(entry.mediaType).toMatch(/manifest/);
    }
    expect(firstRun).toContain(`${expected.length} image(s) resolved`);
    expect(firstRun).toContain(`added      ${imageLockKey(imageRef("postgres"))}`);
  });

  it("pins the render by the lock, so prod's image rules find nothing", async () => {
    const images = imagesIn(render);
    expect(images).toContain(`${imageRef("postgres")}@${firstLock[imageRef("postgres")].digest}`);
    expect(images).toContain(`${override}@${firstLock[override].digest}`);
    for (const image of images) {
      const key = imageLockKey(image);
      // The app's image is built during the run: no reference under mocks.
      if (key === undefined) continue;
      expect(image, image).toBe(`${image.split("@")[0]}@${firstLock[key].digest}`);
    }
    const findings = await runPolicyPack(render, { imageLock: firstLock });
    const imageRules = findings.filter((finding) => finding.policy.startsWith("image-"));
    expect(imageRules).toEqual([]);
  });

  it("re-points exactly the re-pushed tag, and the earlier render drifts from the new lock", async () => {
    const moved = imageRef(REPOINTED);
    const digest = await pushRandomImage(onLoopback(moved));
    const output = await lockImages();
    const lock = readImageLock(lockFile);
    const differing = Object.keys(lock).filter(
      (key) => JSON.stringify(lock[key]) !== JSON.stringify(firstLock[key]),
    );
    expect(differing).toEqual([moved]);
    expect(lock[moved].digest).toBe(digest);
    expect(output).toContain(`re-pointed ${moved}: ${firstLock[moved].digest} -> ${digest}`);

    const findings = await runPolicyPack(render, { imageLock: lock });
    const drift = findings.filter((finding) => finding.policy === "image-lock-drift");
    expect(drift.length).toBeGreaterThan(0);
    for (const finding of drift) {
      expect(finding.level).toBe("mandatory");
      expect(finding.message).toContain(`has drifted from its lock entry ${moved}@${digest}`);
      expect(finding.message).toContain("run `npm run images:lock` and render again");
    }
  });
});

describe("a tag the registry lacks", () => {
  it("is an error naming the image, the registry and the registry's own error", async () => {
    const options = { mirrors: { "docker.io": registryHost }, insecureRegistries: [registryHost] };
    const missing = "docker.io/library/postgres:0.0.0-never-pushed";
    await expect(new RegistryResolver(options).resolve(missing)).rejects.toThrow(
      `${missing}: the tag does not exist in docker.io (through ${registryHost}) (HTTP 404`,
    );
    // A GET carries the registry's error body, which the message passes on.
    await expect(
      new RegistryResolver({ ...options, verify: true }).resolve(missing),
    ).rejects.toThrow(/HTTP 404, MANIFEST_UNKNOWN/);
  });
});

describe("the anonymous token flow", () => {
  it("answers a registry's 401 with a Bearer token from its realm, and only then reads", async () => {
    const token = randomBytes(16).toString("hex");
    const port = await freePort();
    const realm = `http://127.0.0.1:${port}/token`;
    const seen = { challenges: 0, tokens: [] as string[], forwarded: 0 };
    proxy = http.createServer((request, response) => {
      const url = new URL(request.url ?? "/", realm);
      if (url.pathname === "/token") {
        seen.tokens.push(`${url.searchParams.get("service")} ${url.searchParams.get("scope")}`);
        response.writeHead(200, { "Content-Type": "application/json" });
        response.end(JSON.stringify({ token }));
        return;
      }
      if (request.headers.authorization !== `Bearer ${token}`) {
        seen.challenges++;
        const repository = /^\/v2\/(.+)\/manifests\//.exec(url.pathname)?.[1] ?? "";
        response.writeHead(401, {
          "WWW-Authenticate": `Bearer realm="${realm}",service="loopback-registry",scope="repository:${repository}:pull"`,
        });
        response.end();
        return;
      }
      seen.forwarded++;
      const { authorization: _dropped, ...headers } = request.headers;
      const upstream = http.request(
        `http://${registryHost}${request.url}`,
        { method: request.method, headers: { ...headers, host: registryHost } },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on("error", () => response.destroy());
      request.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy?.listen(port, "127.0.0.1", resolve));

    const through = `127.0.0.1:${port}`;
    const resolver = new RegistryResolver({
      mirrors: { "docker.io": through },
      insecureRegistries: [through],
      verify: true,
    });
    const reference = imageRef("grafana");
    const resolved = await resolver.resolve(reference);
    expect(resolved.digest).toBe(await craneDigest(onLoopback(reference)));
    expect(seen.tokens).toEqual(["loopback-registry repository:grafana/grafana:pull"]);
    expect(seen.challenges).toBe(1);
    expect(seen.forwarded).toBe(1);
    // A second image asks for its own scope.
    await resolver.resolve(imageRef("loki"));
    expect(seen.tokens).toHaveLength(2);
  });
});
