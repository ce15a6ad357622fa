import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * A throw-away copy of this repository to render an upgrade from: the Platform does not take a
 * migrations directory or a config file as an argument, so the honest way to change one migration
 * and one config value is to change them in a copy and render that copy as `npm run render` would.
 * `node_modules` is linked, not copied; `out/` and `.git` are left behind.
 */

const ROOT = path.resolve(__dirname, "..", "..", "..");
const LEFT_BEHIND = new Set(["node_modules", "out", ".git"]);

export interface RepoCopy {
  root: string;
  /** Replaces `from` by `to` in a file of the copy; throws if `from` is not there exactly once. */
  edit(file: string, from: string | RegExp, to: string): void;
  /** Appends text to a file of the copy. */
  append(file: string, text: string): void;
  /** Runs `tsx <script> ...args` in the copy, as `npm run` would. */
  tsx(script: string, ...args: string[]): Promise<string>;
  remove(): void;
}

export function copyRepository(): RepoCopy {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-platform-copy-"));
  for (const entry of fs.readdirSync(ROOT)) {
    if (LEFT_BEHIND.has(entry)) continue;
    fs.cpSync(path.join(ROOT, entry), path.join(root, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(root, "node_modules"), "dir");
  return {
    root,
    edit(file, from, to) {
      const target = path.join(root, file);
      const text = fs.readFileSync(target, "utf8");
      const matches = text.split(from).length - 1;
      if (matches !== 1) throw new Error(`${file}: expected one ${String(from)}, found ${matches}`);
      fs.writeFileSync(target, text.replace(from, to));
    },
    append(file, text) {
      fs.appendFileSync(path.join(root, file), text);
    },
    tsx(script, ...args) {
      return new Promise((resolve, reject) =>
        execFile(
          process.execPath,
          [path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), script, ...args],
          { cwd: root, timeout: 120_000 },
          (error, stdout, stderr) =>
            error ? reject(new Error(`${script} ${args.join(" ")}: ${stderr}`)) : resolve(stdout),
        ),
      );
    },
    remove() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
