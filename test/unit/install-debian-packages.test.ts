import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

/*
 * tools/install-debian-packages.sh, the test command's first step, on a system whose package
 * lists are faked: apt-get records what it was asked and apt-cache answers from a table. The
 * PostgreSQL and PgBouncer paths point nowhere, so both packages count as missing.
 */

const SCRIPT = path.resolve(__dirname, "..", "..", "tools", "install-debian-packages.sh");
const scratch: string[] = [];

afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the script with apt-cache offering `candidates` (package → version or `(none)`), on a
 * system with neither PostgreSQL nor PgBouncer, and with `python3` (a Python without venv when
 * not given).
 */
function run(candidates: Record<string, string>, python3?: string) {
  const dir = mkdtempSync(path.join(tmpdir(), "apt-fake-"));
  scratch.push(dir);
  const log = path.join(dir, "apt-get.log");
  const table = Object.entries(candidates)
    .map(([name, version]) => `  ${name}) echo "  Candidate: ${version}" ;;`)
    .join("\n");
  const tools: Record<string, string> = {
    "apt-get": `echo "$*" >> '${log}'`,
    "apt-cache": `echo "$2:"\ncase "$2" in\n${table}\n  *) ;;\nesac`,
    // Never the real sudo: a test run as another user must not reach the real apt-get.
    sudo: `exec "$@"`,
  };
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  }
  const result = spawnSync("bash", [SCRIPT], {
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${dir}:${process.env.PATH ?? ""}`,
      PG_BIN: path.join(dir, "no-postgres"),
      PGBOUNCER_BIN: path.join(dir, "no-pgbouncer"),
      PYTHON3: python3 ?? path.join(dir, "no-python3"),
    },
  });
  const calls = (() => {
    try {
      return readFileSync(log, "utf8").trim().split("\n");
    } catch {
      return [];
    }
  })();
  return { ...result, calls };
}

function distribution(): string {
  const text = readFileSync("/etc/os-release", "utf8");
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? "";
}

describe("the test command's Debian packages", () => {
  it("installs postgresql-15, pgbouncer and python3-venv by those names when the release has them", () => {
    const result = run({
      "postgresql-15": "15.20-0+deb12u1",
      pgbouncer: "1.18.0-1+deb12u1",
      "python3-venv": "3.11.2-1+b1",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.calls).toEqual([
      "update -qq",
      "install -y -qq --no-install-recommends postgresql-15 pgbouncer python3-venv",
    ]);
  });

  it("fails before installing anything when a package is not offered, naming the release", () => {
    const result = run({ "postgresql-15": "(none)", pgbouncer: "1.22.0-1" }, "/usr/bin/python3");
    expect(result.status).toBe(1);
    expect(result.calls).toEqual(["update -qq"]);
    expect(result.stderr).toContain(`${distribution()} offers no package named postgresql-15:`);
    expect(result.stderr).toContain("Debian 12 (bookworm) has all");
    expect(result.stderr).toContain("debian:12 container");
  });

  it("counts a package apt-cache does not know at all as not offered", () => {
    const result = run({}, "/usr/bin/python3");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("offers no package named postgresql-15 pgbouncer:");
  });
});
