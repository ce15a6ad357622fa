import type { PlatformSettings } from "../stack-config/types";
import { appCheck } from "./args/app";
import type { ComponentCheck, StackKeys } from "./args/check";
import { deployTargetCheck } from "./args/deploy-target";
import { dragonflyCheck } from "./args/dragonfly";
import { migrationsCheck } from "./args/migrations";
import { networkPoliciesCheck } from "./args/network-policies";
import { objectStoreCheck } from "./args/object-store";
import { observabilityCheck } from "./args/observability";
import { ollamaCheck } from "./args/ollama";
import { pgbouncerCheck } from "./args/pgbouncer";
import { postgresCheck } from "./args/postgres";
import { temporalCheck } from "./args/temporal";

/**
 * The components' own rules, run on the settings the Platform would give them, with each
 * problem's argument path translated into the stack key a user writes. A component's rules live
 * once, in the component; only rules that span components live in the stack config.
 */

const COMPONENT_CHECKS: ComponentCheck[] = [
  dragonflyCheck,
  objectStoreCheck,
  observabilityCheck,
  appCheck,
  pgbouncerCheck,
  postgresCheck,
  migrationsCheck,
  deployTargetCheck,
  networkPoliciesCheck,
  ollamaCheck,
  temporalCheck,
];

/** A problem found by a component's rules, at its stack key (without the project prefix). */
export interface ComponentProblem {
  key: string;
  reason: string;
}

/** Whether the stack sets a key itself (rather than leaving it to its default). */
export type WrittenKey = (key: string) => boolean;

/**
 * Every problem the components' rules find in the stack config's settings for them. With
 * `written`, a problem at a key the stack left to its default is reported at the key the stack
 * set that clashes with it (see {@link StackKeys}); without, every key counts as written.
 */
export function componentProblems(
  config: PlatformSettings,
  written: WrittenKey = () => true,
): ComponentProblem[] {
  return withoutRepeats(
    componentCheckRules(written).flatMap((componentRules) => componentRules(config)),
  );
}

/**
 * One function per component, each giving that component's problems at their stack keys: for a
 * caller that runs (or skips) them one by one, e.g. skipping a component whose settings include
 * a value the schema refused while still checking the others.
 */
export function componentCheckRules(
  written: WrittenKey = () => true,
): ((config: PlatformSettings) => ComponentProblem[])[] {
  return COMPONENT_CHECKS.map(
    ({ rules, keys }) =>
      (config) =>
        withoutRepeats(
          rules(config).map(({ propertyPath, reason }) => {
            const [key, ...causes] = stackKeysOf(propertyPath, keys);
            if (written(key)) return { key, reason };
            const cause = causes.find(written);
            return cause === undefined
              ? { key, reason }
              : { key: cause, reason: `with this value, ${key} (left to its default) ${reason}` };
          }),
        ),
  );
}

/** Several arguments can come from one key (temporal.replicas sizes four services): one report. */
function withoutRepeats(problems: ComponentProblem[]): ComponentProblem[] {
  const seen = new Set<string>();
  return problems.filter(({ key, reason }) => {
    const id = `${key}\0${reason}`;
    return seen.has(id) ? false : (seen.add(id), true);
  });
}

function stackKeysOf(propertyPath: string, keys: Record<string, StackKeys>): string[] {
  const segments = propertyPath.split(".");
  for (let length = segments.length; length > 0; length--) {
    const mapped = keys[segments.slice(0, length).join(".")];
    if (mapped === undefined) continue;
    const [key, ...causes] = typeof mapped === "string" ? [mapped] : mapped;
    return [[key, ...segments.slice(length)].join("."), ...causes];
  }
  throw new Error(`no stack key is known for the component argument "${propertyPath}"`);
}
