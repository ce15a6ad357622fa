/**
 * The two shapes a stack comes in. `dev`: one small node, nothing protected. `prod`: HA where a
 * component supports it, stateful data protected and retained, backups on, no anonymous access.
 */
export const PROFILES = ["dev", "prod"] as const;

/** A stack's profile. */
export type Profile = (typeof PROFILES)[number];
