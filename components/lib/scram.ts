import * as crypto from "node:crypto";

/**
 * SCRAM-SHA-256 password verifiers (RFC 5802 with SHA-256, RFC 7677) in the exact text form
 * PostgreSQL stores in `pg_authid.rolpassword` and PgBouncer reads from `userlist.txt`:
 * `SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>`.
 *
 * Postgres and PgBouncer must hold the SAME verifier (same salt and iteration count): PgBouncer
 * logs into Postgres with the keys it recovers from the client's proof, which only works when both
 * sides derived them from one salt. So the verifier is computed once, here, and given to both;
 * neither side ever needs the plain password on disk.
 */

/** PostgreSQL's default (`scram_iterations`, fixed at 4096 before PostgreSQL 16). */
export const SCRAM_ITERATIONS = 4096;
/** PostgreSQL's salt length in bytes (`SCRAM_DEFAULT_SALT_LEN`). */
export const SCRAM_SALT_BYTES = 16;

const VERIFIER_PATTERN =
  /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/;

/** The parts of a verifier. */
export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

function hmac(key: Buffer, text: string): Buffer {
  return crypto.createHmac("sha256", key).update(text).digest();
}

/**
 * The verifier of `password` with the given salt. SASLprep, which RFC 5802 applies to the password
 * first, leaves printable ASCII unchanged; other input is refused rather than half-normalised, so
 * a verifier from here always matches the one PostgreSQL would compute.
 */
export function scramSha256Verifier(
  password: string,
  salt: Buffer,
  iterations: number = SCRAM_ITERATIONS,
): string {
  if (!/^[\x20-\x7e]*$/.test(password)) {
    throw new Error("SCRAM verifiers are computed for printable-ASCII passwords only");
  }
  if (salt.length === 0 || !Number.isInteger(iterations) || iterations < 1) {
    throw new Error("a SCRAM verifier needs a non-empty salt and a positive iteration count");
  }
  const saltedPassword = crypto.pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = hmac(saltedPassword, "Client Key");
  const storedKey = crypto.createHash("sha256").update(clientKey).digest();
  const serverKey = hmac(saltedPassword, "Server Key");
  const b64 = (b: Buffer) => b.toString("base64");
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/**
 * A salt from a generated random string (e.g. a `generatedPassword`): its SHA-256, cut to
 * PostgreSQL's salt length. Taking it from a stored random value instead of `crypto.randomBytes`
 * keeps the verifier stable across `pulumi up` runs, so it never shows as a change.
 */
export function scramSalt(seed: string): Buffer {
  return crypto.createHash("sha256").update(seed).digest().subarray(0, SCRAM_SALT_BYTES);
}

/** Splits a verifier into its parts; throws on anything that is not one. */
export function parseScramVerifier(verifier: string): ScramVerifier {
  const match = VERIFIER_PATTERN.exec(verifier);
  if (!match) throw new Error("not a SCRAM-SHA-256 verifier");
  return {
    iterations: Number(match[1]),
    salt: Buffer.from(match[2], "base64"),
    storedKey: Buffer.from(match[3], "base64"),
    serverKey: Buffer.from(match[4], "base64"),
  };
}
