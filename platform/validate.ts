import { dragonflyRules } from "../components/dragonfly";
import type { FieldError } from "../core/validation";
import type { ValidatedConfig } from "../stack-config/types";
import { argsForDragonfly } from "./args";

/**
 * The components' own rules, run on the settings the Platform would give them, with each
 * problem's argument path translated into the stack key a user writes. A component's rules live
 * once, in the component; only rules that span components live in the stack config.
 */

/** One component's check: its rules over its settings, and where its arguments come from. */
interface ComponentCheck {
  rules: (config: ValidatedConfig) => FieldError[];
  /**
   * Stack key (without the project prefix) of each argument path, longest prefix wins; the rest
   * of a path is appended (`resources.memoryLimit` under `resources` → `dragonfly.resources.memoryLimit`).
   */
  keys: Record<string, string>;
}

const COMPONENT_CHECKS: ComponentCheck[] = [
  {
    rules: (config) => dragonflyRules(argsForDragonfly(config)),
    keys: {
      resources: "dragonfly.resources",
      threads: "dragonfly.proactorThreads",
      // The default maxmemory follows the memory limit: that is the key to raise.
      maxMemoryMiB: "dragonfly.resources.memoryLimit",
      storageSize: "dragonfly.storageSize",
      snapshotCron: "dragonfly.snapshotCron",
    },
  },
];

/** A problem found by a component's rules, at its stack key (without the project prefix). */
export interface ComponentProblem {
  key: string;
  reason: string;
}

/** Every problem the components' rules find in the stack config's settings for them. */
export function componentProblems(config: ValidatedConfig): ComponentProblem[] {
  return COMPONENT_CHECKS.flatMap(({ rules, keys }) =>
    rules(config).map(({ propertyPath, reason }) => ({
      key: stackKeyOf(propertyPath, keys),
      reason,
    })),
  );
}

function stackKeyOf(propertyPath: string, keys: Record<string, string>): string {
  const segments = propertyPath.split(".");
  for (let length = segments.length; length > 0; length--) {
    const mapped = keys[segments.slice(0, length).join(".")];
    if (mapped !== undefined) return [mapped, ...segments.slice(length)].join(".");
  }
  throw new Error(`no stack key is known for the component argument "${propertyPath}"`);
}
