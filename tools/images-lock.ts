import * as fs from "node:fs";
import * as path from "node:path";
import {
  formatImageLock,
  IMAGE_LOCK_FILE,
  ImageLockError,
  readImageLock,
  type ImageLock,
} from "../policy/model/image-lock";
import { InputError, parseCommandLine, runTool, UsageError } from "./lib/cli";
import { REPOSITORY_ROOT } from "./lib/engine";
import {
  catalogueTargets,
  describeChanges,
  stackOverrideTargets,
  targetsByKey,
  updatedLock,
} from "./lib/image-lock-update";
import { RegistryResolver, type ResolvedTag } from "./lib/registry-resolver";

const USAGE =
  "npm run images:lock -- [--lock <file>] [--project-dir <dir>] " +
  "[--mirror <registry>=<host[:port]>,…] [--insecure-registry <host:port>,…] [--verify]";

/** How many registries are asked at once: enough to be quick, few enough to stay polite. */
const CONCURRENCY = 4;

/**
 * `npm run images:lock`: asks each registry which digest every image the stacks deploy points to
 * (the catalogue's tags and the stack files' `images.*` overrides) and writes the image lock
 * (`policy/images.lock.json` unless `--lock` says otherwise), printing what was added, re-pointed
 * or removed. All or nothing: if one image cannot be resolved, every failure is listed and the
 * lock is left as it was.
 */
runTool(async () => {
  const { positional, options } = parseCommandLine(process.argv.slice(2));
  if (positional.length > 0) throw new UsageError(`usage: ${USAGE}`);
  const lockFile = path.resolve(options.lock ?? IMAGE_LOCK_FILE);
  const projectDir = path.resolve(options["project-dir"] ?? REPOSITORY_ROOT);
  const previous = previousLock(lockFile);
  const resolver = new RegistryResolver({
    mirrors: mirrorsOf(options.mirror),
    insecureRegistries: listOf(options["insecure-registry"]),
    // A bare `--verify` (given last) arrives as "".
    verify: options.verify !== undefined && options.verify !== "false",
  });
  const targets = targetsByKey([...catalogueTargets(), ...stackOverrideTargets(projectDir)]);
  const resolved = await resolveAll(resolver, targets);
  const { lock, changes } = updatedLock(previous, resolved, new Date());
  fs.writeFileSync(lockFile, formatImageLock(lock));
  console.log(`${path.relative(process.cwd(), lockFile)}: ${resolved.size} image(s) resolved`);
  for (const line of describeChanges(changes)) console.log(`  ${line}`);
  return 0;
});

/** Resolves every target, a few at a time; any failure fails the run after all were tried. */
async function resolveAll(
  resolver: RegistryResolver,
  targets: ReadonlyMap<string, { reference: string; source: string }>,
): Promise<Map<string, ResolvedTag>> {
  const queue = [...targets];
  const resolved = new Map<string, ResolvedTag>();
  const failures: string[] = [];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const [key, target] = next;
      try {
        resolved.set(key, await resolver.resolve(target.reference));
      } catch (error) {
        failures.push(`${(error as Error).message} (${target.source})`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (failures.length > 0) {
    throw new InputError(
      `the lock is left as it was: ${failures.length} image(s) could not be resolved:\n` +
        failures
          .sort()
          .map((failure) => `  - ${failure}`)
          .join("\n"),
    );
  }
  return resolved;
}

/** The lock as it was; a malformed one is rewritten whole (every entry reported as added). */
function previousLock(file: string): ImageLock {
  if (!fs.existsSync(file)) return {};
  try {
    return readImageLock(file);
  } catch (error) {
    if (!(error instanceof ImageLockError)) throw error;
    console.error(`${error.message.split(";")[0]}; rewriting it from the registries`);
    return {};
  }
}

/** `docker.io=127.0.0.1:5000,quay.io=127.0.0.1:5000` as a map. */
function mirrorsOf(value: string | undefined): Record<string, string> {
  return Object.fromEntries(
    listOf(value).map((pair) => {
      const [from, to] = pair.split("=", 2);
      if (!from || !to) {
        throw new UsageError(`--mirror takes <registry>=<host[:port]> pairs, got "${pair}"`);
      }
      return [from, to];
    }),
  );
}

function listOf(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}
