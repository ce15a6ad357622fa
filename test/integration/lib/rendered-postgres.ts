/**
 * A real PostgreSQL 15 configured the way our Postgres component configures it: the stack's
 * config parsed by `config.ts`, `postgresql.conf` and `pg_hba.conf` rendered by the component's
 * builders (only the hba path, port, listen address and socket folder changed for loopback), and
 * the component's init SQL run against it with freshly generated role passwords whose verifiers
 * sit in files, as the mounted Secrets do in the pod.
 */
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseConfig, type PlatformConfig } from "../../../config";
import { memoryCeiling } from "../../../components/lib/resources";
import { scramSalt, scramSha256Verifier } from "../../../components/lib/scram";
import {
  BACKUP_ROLE_NAME,
  initSql,
  pgHbaConf,
  platformRoles,
  postgresqlConf,
  walArchiveSettings,
} from "../../../components/postgres";
import { readStackConfig } from "../../../tools/lib/stack-file";
import { PG_BIN, startPostgres, type OsUser, type PostgresServer } from "./postgres";

const ROOT = resolve(__dirname, "../../..");
const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A password shaped like `generatedPassword`'s: 32 random alphanumerics. */
export function generatedLikePassword(): string {
  return Array.from({ length: 32 }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join("");
}

/** One role's generated credentials, as the component's Secret holds them. */
export interface RoleLogin {
  username: string;
  password: string;
  scramVerifier: string;
}

export interface RenderedPostgres {
  pg: PostgresServer;
  config: PlatformConfig;
  /** The rendered postgresql.conf the server runs with. */
  conf: string;
  /** The rendered init SQL that was run. */
  initSql: string;
  /** `max_connections` as rendered. */
  maxConnections: number;
  /** Credentials of every role the init SQL created, by role name. */
  roles: Record<string, RoleLogin>;
  /** A libpq environment for a role and database (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). */
  envFor(role: string, db: string): Record<string, string>;
  stop(): Promise<void>;
}

/** The stack's validated config, read from `Pulumi.<stack>.yaml` as `pulumi up` would. */
export function stackConfig(stack: string): PlatformConfig {
  return parseConfig(readStackConfig(join(ROOT, `Pulumi.${stack}.yaml`)).values);
}

/** Options of {@link startRenderedPostgres}. */
export interface RenderedPostgresOptions {
  /**
   * Archive WAL as the stack's `postgres.backup.wal` renders it, into this spool folder instead
   * of the pod's; the backup role may then take base backups, as it may in the pod.
   * @default no archiving
   */
  walSpool?: string;
}

/** Starts PostgreSQL with the stack's rendered config and runs the rendered init SQL on it. */
export async function startRenderedPostgres(
  stack = "dev",
  options: RenderedPostgresOptions = {},
): Promise<RenderedPostgres> {
  const config = stackConfig(stack);
  const dir = mkdtempSync(join(tmpdir(), "pg-rendered-"));
  // The server (the `postgres` OS user under root) reads the config files from here.
  chmodSync(dir, 0o755);
  const hbaFile = join(dir, "pg_hba.conf");
  const confFile = join(dir, "postgresql.conf");
  const { walSpool } = options;
  const conf = postgresqlConf({
    maxConnections: config.postgres.maxConnections,
    superuserReservedConnections: config.postgres.superuserReservedConnections,
    memoryLimit: memoryCeiling(config.postgres.resources),
    hbaFile,
    settings: walSpool
      ? walArchiveSettings(walSpool, config.postgres.backup.wal.archiveTimeoutSeconds)
      : {},
  });
  writeFileSync(confFile, conf, { mode: 0o644 });
  writeFileSync(hbaFile, pgHbaConf(walSpool ? [BACKUP_ROLE_NAME] : []), { mode: 0o644 });
  const roleSpecs = platformRoles({ baseBackups: walSpool !== undefined });
  const maxConnections = Number(/^max_connections = (\d+)$/m.exec(conf)?.[1]);

  // Verifiers in files, one folder per role, as the pod mounts the role Secrets.
  const rolesDir = join(dir, "roles");
  const roles: Record<string, RoleLogin> = {};
  for (const role of roleSpecs) {
    const password = generatedLikePassword();
    const scramVerifier = scramSha256Verifier(password, scramSalt(generatedLikePassword()));
    roles[role.name] = { username: role.name, password, scramVerifier };
    mkdirSync(join(rolesDir, role.name), { recursive: true });
    writeFileSync(join(rolesDir, role.name, "scramVerifier"), scramVerifier, { mode: 0o400 });
  }

  let pg: PostgresServer | undefined;
  try {
    pg = await startPostgres({
      maxConnections,
      password: generatedLikePassword(),
      settings: { config_file: confFile },
    });
    const sql = initSql(roleSpecs, rolesDir);
    await pg.psql(sql);
    const server = pg;
    return {
      pg: server,
      config,
      conf,
      initSql: sql,
      maxConnections,
      roles,
      envFor: (role, db) => ({
        PGHOST: server.host,
        PGPORT: String(server.port),
        PGUSER: roles[role].username,
        PGPASSWORD: roles[role].password,
        PGDATABASE: db,
      }),
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** How a client program ended. */
export interface ProgramResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a PostgreSQL client program (from the PostgreSQL 15 bin folder, unless given as an absolute
 * path) with a libpq environment
 * and never throws: tests assert on refusals too. With `raiseFdLimit` the soft file-descriptor
 * limit goes up to the hard one first (pgbench with a thousand clients needs a thousand sockets).
 */
export function runProgram(
  program: string,
  args: readonly string[],
  env: Record<string, string>,
  options: { raiseFdLimit?: boolean; input?: string; user?: OsUser } = {},
): Promise<ProgramResult> {
  const binary = program.startsWith("/") ? program : join(PG_BIN, program);
  const [command, argv] = options.raiseFdLimit
    ? ["bash", ["-c", 'ulimit -Sn "$(ulimit -Hn)"; exec "$@"', "bash", binary, ...args]]
    : [binary, [...args]];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, argv, {
      env: { ...process.env, PATH: `${PG_BIN}:${process.env.PATH ?? ""}`, ...env },
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.user ?? {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, stdout, stderr }));
    // A program that never reads its input (pg_dump, psql -c) may exit before this write lands:
    // the EPIPE is not the program's failure, its exit code says how it ended.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** Runs a script with a shell (`/bin/bash`, or `/bin/sh` for POSIX-only scripts), never throwing. */
export function runShell(
  shell: "/bin/bash" | "/bin/sh",
  script: string,
  env: Record<string, string>,
  user?: OsUser,
): Promise<ProgramResult> {
  return runProgram(shell, ["-c", script], env, { user });
}
