/**
 * The init SQL: databases, roles and who may connect where. The image runs it once, on the first
 * start of an empty data directory (`/docker-entrypoint-initdb.d`), as the superuser, with psql
 * and `ON_ERROR_STOP`. It is also safe to run again: every CREATE is guarded and every grant and
 * password is (re)set, so the same file can repair a server by hand.
 *
 * No password is in it: psql reads each role's SCRAM verifier at run time from the role's Secret,
 * mounted as a file (`\set name `cat file``), and the server stores the verifier as given. The
 * plain password never reaches the database pod.
 */

/** One login role of the platform. */
export interface RoleSpec {
  /** Role name; also the name of its Secret's mount directory. */
  name: string;
  /** Databases the role creates and owns; the owner is the only one (besides `connect`) admitted. */
  owns?: string[];
  /** Further databases it may connect to without owning them. @default none */
  connect?: string[];
  /** Predefined roles it is a member of (`pg_monitor`, `pg_read_all_data`). @default none */
  memberOf?: string[];
  /** May read past row-level security (a backup must see every row). @default false */
  bypassRls?: boolean;
  /** May open replication connections (base backups stream the whole cluster). @default false */
  replication?: boolean;
  /**
   * A role whose privileges and ownership its sessions take on from the start: it is granted that
   * role and its sessions begin with `SET ROLE` to it (`ALTER ROLE … SET role`), so what it
   * creates belongs to that role, not to this login. @default none (its sessions act as itself)
   */
  actsAs?: string;
}

/** The database every server has, where monitoring and the backup's listing connect. */
export const MAINTENANCE_DATABASE = "postgres";

/** The role the application uses; it owns the `app` database and nothing else. */
export const APP_ROLE: RoleSpec = { name: "app", owns: ["app"] };
/**
 * The app's second login, the other slot of a password rotation: it logs in with its own password
 * and acts as {@link APP_ROLE} (member of it, every session `SET ROLE app`), so tables made by
 * migrations under either login belong to `app` and stay usable by both. While the app uses one
 * login, the other's password may change without failing a single connection of pods that still
 * run with the one in use.
 */
export const APP_ALTERNATE_ROLE: RoleSpec = {
  name: "app2",
  connect: [APP_ROLE.name],
  actsAs: APP_ROLE.name,
};

/** The two logins of the app, either of which the stack may make the one its consumers use. */
export const APP_LOGINS = ["app", "app2"] as const;
export type AppLogin = (typeof APP_LOGINS)[number];

/** The app's login other than this one: the one a rotation gives the next password. */
export function otherAppLogin(login: AppLogin): AppLogin {
  return login === "app" ? "app2" : "app";
}

/** Temporal's role: owns its two databases (it connects directly, never through PgBouncer). */
export const TEMPORAL_ROLE: RoleSpec = {
  name: "temporal",
  owns: ["temporal", "temporal_visibility"],
};
/** postgres_exporter's role: reads statistics (pg_monitor), no table data. */
export const EXPORTER_ROLE: RoleSpec = {
  name: "exporter",
  connect: [MAINTENANCE_DATABASE],
  memberOf: ["pg_monitor"],
};

/** Name of the backup role (its Secret is what the backup CronJob logs in with). */
export const BACKUP_ROLE_NAME = "backup";

/**
 * The backup role: reads every row of every database (pg_read_all_data), writes nothing; with
 * `replication`, it may also take base backups.
 */
export function backupRole(databases: string[], replication = false): RoleSpec {
  return {
    name: BACKUP_ROLE_NAME,
    connect: [MAINTENANCE_DATABASE, ...databases],
    memberOf: ["pg_read_all_data"],
    bypassRls: true,
    replication,
  };
}

/** Names of the roles {@link platformRoles} creates, for given passwords. */
export const PLATFORM_ROLE_NAMES = ["app", "app2", "temporal", "exporter", "backup"] as const;
export type PlatformRoleName = (typeof PLATFORM_ROLE_NAMES)[number];

/**
 * Every role the Postgres component creates, in creation order; with `baseBackups`, the backup
 * role may take them.
 */
export function platformRoles(options: { baseBackups?: boolean } = {}): RoleSpec[] {
  const owned = [APP_ROLE, TEMPORAL_ROLE].flatMap((role) => role.owns ?? []);
  return [
    APP_ROLE,
    APP_ALTERNATE_ROLE,
    TEMPORAL_ROLE,
    EXPORTER_ROLE,
    backupRole(owned, options.baseBackups),
  ];
}

/**
 * The database a role's clients log in to, for its Secret's `database` and `url`: the first it
 * owns, or for a login acting as an owner, the first it may connect to. None for the others.
 */
export function loginDatabase(role: RoleSpec): string | undefined {
  return role.owns?.[0] ?? (role.actsAs === undefined ? undefined : role.connect?.[0]);
}

/** File (inside `secretsDir/<role>/`) that holds a role's SCRAM verifier. */
export const VERIFIER_FILE = "scramVerifier";

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

function identifier(kind: string, name: string): string {
  // Plain lowercase identifiers need no quoting anywhere (SQL, psql variables, file paths).
  if (!IDENTIFIER.test(name)) {
    throw new Error(`${kind} name "${name}" must match ${IDENTIFIER} (lowercase, digits, _)`);
  }
  return name;
}

/** Membership in the role a login acts as, and the `SET ROLE` its sessions start with. */
function actsAsSql(name: string, actsAs: string | undefined): string[] {
  if (actsAs === undefined) return [];
  const target = identifier("role", actsAs);
  return [`GRANT ${target} TO ${name};`, `ALTER ROLE ${name} SET role = '${target}';`];
}

/** The init SQL for these roles; verifiers are read from `<secretsDir>/<role>/scramVerifier`. */
export function initSql(roles: RoleSpec[], secretsDir: string): string {
  if (/[`'\s]/.test(secretsDir)) throw new Error(`secretsDir "${secretsDir}" must be a plain path`);
  const owners = new Map<string, string>();
  for (const role of roles) {
    for (const db of role.owns ?? []) {
      if (owners.has(db)) throw new Error(`database "${db}" has two owners`);
      owners.set(identifier("database", db), identifier("role", role.name));
    }
  }
  const known = new Set([MAINTENANCE_DATABASE, ...owners.keys()]);
  const out: string[] = [
    "-- Rendered by k3s-platform (components/postgres/init.ts). Runs as the superuser.",
    "\\set ON_ERROR_STOP on",
    "",
  ];

  out.push("-- Roles: login, nothing else; the password is the verifier from the role's Secret.");
  for (const role of roles) {
    const name = identifier("role", role.name);
    const variable = `${name}_verifier`;
    out.push(
      `\\set ${variable} \`cat ${secretsDir}/${name}/${VERIFIER_FILE}\``,
      `SELECT 'CREATE ROLE ${name}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${name}')\\gexec`,
      `ALTER ROLE ${name} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE ` +
        `${role.replication ? "REPLICATION" : "NOREPLICATION"} ` +
        `${role.bypassRls ? "BYPASSRLS" : "NOBYPASSRLS"} PASSWORD :'${variable}';`,
      `\\unset ${variable}`,
    );
    for (const member of role.memberOf ?? []) {
      out.push(`GRANT ${identifier("role", member)} TO ${name};`);
    }
    out.push(...actsAsSql(name, role.actsAs));
  }

  out.push("", "-- Databases: each owned by its role; nobody else may connect unless granted.");
  for (const [db, owner] of owners) {
    out.push(
      `SELECT 'CREATE DATABASE ${db} OWNER ${owner}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${db}')\\gexec`,
      `ALTER DATABASE ${db} OWNER TO ${owner};`,
    );
  }
  for (const db of known) {
    // PUBLIC holds CONNECT and TEMPORARY on every new database by default: that is what would
    // let the app role into Temporal's databases.
    out.push(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC;`);
  }
  for (const role of roles) {
    for (const db of role.connect ?? []) {
      if (!known.has(db))
        throw new Error(`role "${role.name}" connects to unknown database "${db}"`);
      out.push(`GRANT CONNECT ON DATABASE ${identifier("database", db)} TO ${role.name};`);
    }
  }
  return `${out.join("\n")}\n`;
}
