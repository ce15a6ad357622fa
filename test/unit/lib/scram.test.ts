import * as crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  parseScramVerifier,
  scramSalt,
  scramSha256Verifier,
  SCRAM_ITERATIONS,
} from "../../../components/lib/scram";

describe("SCRAM-SHA-256 verifiers", () => {
  it("match the verifier PostgreSQL 15 stored for the same password and salt", () => {
    // `CREATE ROLE u PASSWORD 'pencil'` on PostgreSQL 15.18, then pg_authid.rolpassword.
    const stored =
      "SCRAM-SHA-256$4096:18uWFvn3FMblU8G7MvyP4Q==$SHnzeV+XqkYxn0G2T90rsCtonxJCHwij+VIFFvTfO1g=:VMbK5px170qLJ2OSVf0buKT4COMP8rd2mQ6xASVoKBA=";
    const { salt, iterations } = parseScramVerifier(stored);
    expect(scramSha256Verifier("pencil", salt, iterations)).toBe(stored);
  });

  it("verify the client proof and server signature of RFC 7677's example exchange", () => {
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const { storedKey, serverKey } = parseScramVerifier(scramSha256Verifier("pencil", salt, 4096));
    const authMessage =
      "n=user,r=rOprNGfwEbeRWgbNEkqO," +
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const hmac = (key: Buffer) => crypto.createHmac("sha256", key).update(authMessage).digest();
    const proof = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
    const signature = hmac(storedKey);
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ signature[i]));
    expect(crypto.createHash("sha256").update(clientKey).digest()).toEqual(storedKey);
    expect(hmac(serverKey).toString("base64")).toBe("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  });

  it("use PostgreSQL's iteration count and salt length, and a stable salt for a stable seed", () => {
    const verifier = parseScramVerifier(scramSha256Verifier("secret", scramSalt("seed")));
    expect(verifier.iterations).toBe(SCRAM_ITERATIONS);
    expect(verifier.salt).toHaveLength(16);
    expect(scramSalt("seed")).toEqual(scramSalt("seed"));
    expect(scramSalt("seed")).not.toEqual(scramSalt("other seed"));
  });

  it("refuse non-ASCII passwords rather than guess at SASLprep", () => {
    expect(() => scramSha256Verifier("pässword", scramSalt("s"))).toThrow(/printable-ASCII/);
  });

  it("a malformed verifier is refused", () => {
    expect(() => parseScramVerifier("md5abcdef")).toThrow(/not a SCRAM-SHA-256 verifier/);
  });
});
