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

/**
 * Where an argument comes from: its stack key, or its stack key and the other keys a problem
 * there can come from. Defaults are valid, so a problem at a key the stack left to its default is
 * caused by a key the stack did set: `web.maxReplicas` is below `web.minReplicas` because the
 * stack raised `app.web.minReplicas`. Such a problem is reported at the first of the other keys
 * the stack wrote, saying which default it clashes with.
 */
export type StackKeys = string | readonly [key: string, ...causes: string[]];

/** One component's check: its rules over its settings, and where its arguments come from. */
export interface ComponentCheck {
  rules: (config: PlatformSettings) => FieldError[];
  /**
   * Stack key (without the project prefix) of each argument path; the longest matching prefix
   * wins and the rest of the path is appended to the key (`resources` → `dragonfly.resources`,
   * so `resources.memoryLimit` → `dragonfly.resources.memoryLimit`), never to the causes.
   */
  keys: Record<string, StackKeys>;
}
