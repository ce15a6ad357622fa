import { REDACTED } from "../model/render-model";

/*
 * What counts as a credential written in plain text. Names are split into words (on `_`, `-`, `.`
 * and camelCase), so `DB_PASSWORD`, `adminPassword`, `api-key` and `DFLY_requirepass` are caught
 * and `KEYCLOAK_HOST` or `TEMPORAL_NAMESPACE` are not.
 */

const CREDENTIAL_WORD = /(PASSWORD|PASSWD|PASS|SECRET|TOKEN|KEY|CREDENTIALS?)$|^DSN$/;

/** Last words that name where a credential lives, not the credential: `PASSWORD_FILE=/run/...`. */
const LOCATION_WORDS = new Set(["FILE", "PATH", "DIR", "FILENAME"]);

/** `scheme://user:password@` or `scheme://:password@`, as in connection URLs. */
const URL_USERINFO = /[a-z][a-z0-9+.-]*:\/\/[^/?#@\s:]*:([^/?#@\s]+)@/i;

/**
 * `$(NAME)`: Kubernetes expands it from another env var of the container, which itself comes from
 * a secretKeyRef, so the literal holds a reference, not the credential.
 */
const ENV_REFERENCE = /^\$\([A-Za-z_][A-Za-z0-9_]*\)$/;

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .split(/[^A-Za-z0-9]+/)
    .filter((word) => word !== "")
    .map((word) => word.toUpperCase());
}

/** True for a name that looks like it holds a credential. */
export function looksLikeCredential(name: string): boolean {
  const parts = words(name);
  if (LOCATION_WORDS.has(parts.at(-1) ?? "")) return false;
  return parts.some((word) => CREDENTIAL_WORD.test(word));
}

/** Why a literal value under that name is a credential in plain text, or undefined. */
export function literalCredential(name: string, value: string): string | undefined {
  if (value.includes(REDACTED)) return "a secret value written as a literal";
  const password = URL_USERINFO.exec(value)?.[1];
  if (password !== undefined && !ENV_REFERENCE.test(password)) return "a URL with a password in it";
  if (looksLikeCredential(name) && !ENV_REFERENCE.test(value)) {
    return "a credential-looking name with a literal value";
  }
  return undefined;
}
