import type * as pulumi from "@pulumi/pulumi";
import { imageRef } from "../../core/images";
import { fieldErrorIf, type FieldError } from "../../core/validation";

/** The Patroni cluster that replaces the single StatefulSet pod (see `ha.ts`). */
export interface PostgresHaArgs {
  /** Members, one per node: at least 2, at most {@link PostgresHaArgs.nodes}. */
  members: number;
  /**
   * Nodes the members may run on (the stack's `cluster.nodes`): a member never shares a node
   * with another (required pod anti-affinity), so more members than nodes would stay Pending.
   */
  nodes: number;
  /** A commit returns only once synchronous standbys have it. @default true */
  synchronousMode?: boolean;
  /** Synchronous standbys a commit waits for, below `members`. @default 1 */
  synchronousStandbys?: number;
  /** Image with Patroni and PostgreSQL 15. @default the catalogue's `spilo` */
  image?: pulumi.Input<string>;
}

/** The HA args with their documented defaults filled in. */
export type ResolvedHaArgs = Required<PostgresHaArgs>;

/** The HA args with their documented defaults filled in. */
export function resolveHaArgs(ha: PostgresHaArgs): ResolvedHaArgs {
  return {
    ...ha,
    synchronousMode: ha.synchronousMode ?? true,
    synchronousStandbys: ha.synchronousStandbys ?? 1,
    image: ha.image ?? imageRef("spilo"),
  };
}

/** Every problem with the HA args, by their path inside `ha`. */
export function haRules(ha: Omit<PostgresHaArgs, "image">): FieldError[] {
  const { members, nodes } = ha;
  const standbys = ha.synchronousStandbys ?? 1;
  return [
    ...fieldErrorIf(
      !Number.isInteger(members) || members < 2,
      "members",
      () => `must be a whole number ≥ 2: a failover needs a standby to promote (got ${members})`,
    ),
    ...fieldErrorIf(
      Number.isInteger(members) && members > nodes,
      "nodes",
      () =>
        `is ${nodes}, fewer than the ${members} HA members: each member needs a node of its own ` +
        `(required pod anti-affinity), so ${members - nodes} would stay Pending; raise ` +
        `cluster.nodes or lower postgres.ha.members`,
    ),
    ...fieldErrorIf(
      (ha.synchronousMode ?? true) && (!Number.isInteger(standbys) || standbys < 1),
      "synchronousStandbys",
      () => `must be a whole number ≥ 1 (got ${standbys})`,
    ),
    ...fieldErrorIf(
      (ha.synchronousMode ?? true) &&
        Number.isInteger(members) &&
        members >= 2 &&
        standbys >= members,
      "synchronousStandbys",
      () =>
        `must be below postgres.ha.members (${standbys} ≥ ${members}): the primary is one of ` +
        `the members, so at most ${members - 1} standbys exist to wait for`,
    ),
  ];
}
