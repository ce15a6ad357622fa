import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";

export const ROOT = path.resolve(__dirname, "..", "..");

/** Runs one of the engine-less tools in its own process, as a user would. */
export function runTool(
  tool: string,
  args: string[],
): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    [
      path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"),
      path.join(ROOT, "tools", `${tool}.ts`),
      ...args,
    ],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000 },
  );
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A rendered manifest, read back by the assertions. */
export type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered manifests, read by the assertions

/** A variant of a shipped stack: its file, where it renders, and a reader of its manifests. */
export interface StackVariant {
  stackFile: string;
  out: string;
  manifest: (name: string) => Props;
}

/**
 * The shipped `Pulumi.<stack>.yaml`, edited as a user would (`edit` changes its parsed document,
 * whose `config` holds the `k3s-platform:*` keys), written into `dir`.
 */
export function stackVariant(
  stack: string,
  dir: string,
  edit: (config: Props) => void,
): StackVariant {
  const document = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  edit(document.config);
  const stackFile = path.join(dir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(stackFile, stringify(document));
  const out = path.join(dir, "out");
  const manifest = (name: string): Props =>
    parse(fs.readFileSync(path.join(out, "manifests", `${name}.yaml`), "utf8"));
  return { stackFile, out, manifest };
}

/** The keys given as `secure:` values, as `pulumi config set --secret` writes them. */
export function secureKeys(config: Props, keys: string[]): void {
  for (const key of keys) config[`k3s-platform:${key}`] = { secure: `v1:ciphertext-of-${key}` };
}
