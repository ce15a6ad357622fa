/**
 * The two shapes a stack comes in. `dev`: one small node, nothing protected. `prod`: HA where a
 * component supports it, stateful data protected and retained, backups on, no anonymous access.
 */
export const PROFILES = ["dev", "prod"] as const;

/** A stack's profile. */
export type Profile = (typeof PROFILES)[number];

/**
 * The label the platform puts on its namespace to say which profile the stack runs, so a review
 * learns the profile from the stack itself rather than from its name or a flag.
 */
export const PROFILE_LABEL = "k3s-platform/profile";

/**
 * The profile a stack declares on its namespaces. It fails closed: only a stack whose every
 * declaration says `dev` is dev; no declaration at all, or any other value, is prod.
 */
export function declaredProfile(declarations: readonly string[]): Profile {
  return declarations.length > 0 && declarations.every((value) => value === "dev") ? "dev" : "prod";
}
