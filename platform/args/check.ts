import type { FieldError } from "../../core/validation";
import type { PlatformSettings } from "../../stack-config/types";

/*
 * One file per component here: `argsFor<Component>(config)`, a pure function giving the
 * component's settings from the stack config (the Platform adds what exists only at run time: the
 * namespace object, other components' outputs), and `<component>Check`, which runs the
 * component's own rules on exactly those settings and says which stack key each argument comes
 * from. So every rule lives once, in its component, and is still reported by the stack key a user
 * wrote, before any resource exists.
 */

/** One component's check: its rules over its settings, and where its arguments come from. */
export interface ComponentCheck {
  rules: (config: PlatformSettings) => FieldError[];
  /**
   * Stack key (without the project prefix) of each argument path; the longest matching prefix
   * wins and the rest of the path is appended (`resources` → `dragonfly.resources`, so
   * `resources.memoryLimit` → `dragonfly.resources.memoryLimit`).
   */
  keys: Record<string, string>;
}
