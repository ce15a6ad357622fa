import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { goEnvironment, type GoToolSpec } from "../../integration/lib/go-tools";
import { wrapperModuleIn } from "../../integration/lib/test-tools";

/**
 * The real Pulumi engine and Kubernetes provider for the engine tier, built from their Go modules
 * (no CLI or plugin can be downloaded here) at the versions of the npm SDKs we pin, so the engine
 * runs our program exactly as `pulumi up` would. Built by `npm run build:test-tools`, cached by
 * `ensureGoTool` like every other test tool.
 */

const ROOT = path.resolve(__dirname, "..", "..", "..");
export const PULUMI_CLI_MODULE_DIR = path.resolve(__dirname, "..", "pulumi-cli");
export const KUBERNETES_PROVIDER_MODULE_DIR = path.resolve(__dirname, "..", "kubernetes-provider");

const PULUMI_PKG = "github.com/pulumi/pulumi/pkg/v3";
const KUBERNETES_PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4";

/** The exact version package.json pins for an npm dependency, e.g. `3.248.0`. */
export function pinnedNpmVersion(name: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const version = pkg.dependencies?.[name];
  if (!version || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`package.json pins no exact version of ${name} (got ${version ?? "none"})`);
  }
  return version;
}

/** The version a go.mod requires of a module, if any. */
function requiredVersion(goMod: string, module: string): string | undefined {
  const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\s*(?:require\\s+)?${escaped} (v\\S+)`, "m").exec(goMod)?.[1];
}

/**
 * The `pulumi` CLI at the npm `@pulumi/pulumi` release: the wrapper's go.mod must require
 * `pulumi/pkg` at that release (the one place besides package.json it is written, checked here).
 * The version variable is linked in as the release build does: without it `pulumi version`
 * prints nothing and the Automation API refuses the binary.
 */
export function pulumiCliTool(): GoToolSpec {
  const wrapper = wrapperModuleIn(PULUMI_CLI_MODULE_DIR);
  const version = `v${pinnedNpmVersion("@pulumi/pulumi")}`;
  const required = requiredVersion(wrapper.goMod, PULUMI_PKG);
  if (required !== version) {
    throw new Error(
      `test/engine/pulumi-cli/go.mod requires ${PULUMI_PKG} ${required ?? "(none)"}, but ` +
        `package.json pins @pulumi/pulumi ${version.slice(1)}: run \`go get ${PULUMI_PKG}@${version} ` +
        `github.com/pulumi/pulumi/sdk/v3@${version} && go mod tidy\` there`,
    );
  }
  return {
    name: "pulumi-cli",
    version,
    packages: [`${PULUMI_PKG}/cmd/pulumi`],
    wrapper: {
      ...wrapper,
      ldflags: `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}`,
    },
  };
}

/** Where `go mod download` put a module's source (downloading it if need be). */
function moduleSource(module: string, version: string): string {
  const info = JSON.parse(
    execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], {
      encoding: "utf8",
      env: goEnvironment(),
      cwd: os.tmpdir(), // outside any module: download, not resolve against one
    }),
  ) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? "no Dir"}`);
  return info.Dir;
}

/**
 * `pulumi-resource-kubernetes` from the one `provider/v4` pseudo-version the proxy serves (commit
 * f47bc2d6f199 of pulumi/pulumi-kubernetes, 2026-01-15, required by the wrapper's go.mod), reporting
 * the npm `@pulumi/kubernetes` version we pin, so the engine takes it for the plugin the SDK asks
 * for. The code that runs is that commit's, whatever version it reports.
 *
 * Upstream's cmd/pulumi-resource-kubernetes embeds files its build generates (generate.go): the
 * schema with its `version` set, and the terraform mapping, compacted. They are generated here the
 * same way from the module source and handed to the build as files of the wrapper, so they also
 * key the cache.
 */
export function kubernetesProviderTool(): GoToolSpec {
  const wrapper = wrapperModuleIn(KUBERNETES_PROVIDER_MODULE_DIR);
  const moduleVersion = requiredVersion(wrapper.goMod, KUBERNETES_PROVIDER_MODULE);
  if (moduleVersion === undefined) {
    throw new Error(
      `test/engine/kubernetes-provider/go.mod requires no ${KUBERNETES_PROVIDER_MODULE}`,
    );
  }
  const version = pinnedNpmVersion("@pulumi/kubernetes");
  const cmdDir = path.join(
    moduleSource(KUBERNETES_PROVIDER_MODULE, moduleVersion),
    "cmd",
    "pulumi-resource-kubernetes",
  );
  const readJson = (file: string) =>
    JSON.parse(fs.readFileSync(path.join(cmdDir, file), "utf8")) as Record<string, unknown>;
  const schema = { ...readJson("schema.json"), version };
  return {
    name: "pulumi-resource-kubernetes",
    version: `v${version}`,
    // Binary named after the wrapper's module path, k3s-platform.test/pulumi-resource-kubernetes.
    packages: ["."],
    wrapper: {
      ...wrapper,
      mainFiles: {
        ...wrapper.mainFiles,
        "schema-embed.json": JSON.stringify(schema),
        "terraform-mapping-embed.json": JSON.stringify(readJson("terraform-mapping.json")),
      },
      ldflags: `-X ${KUBERNETES_PROVIDER_MODULE}/pkg/version.Version=${version}`,
    },
  };
}
