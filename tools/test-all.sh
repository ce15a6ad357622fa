#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh Debian machine, builds the
# Go-based test tools once, then runs every tier (type check, lint, unit, render, integration,
# e2e, engine). Safe to re-run; installs and builds only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
[ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
# Real programs for the integration, e2e and engine tiers (the latter: the Pulumi CLI and the
# Kubernetes provider), built from the Go module proxy at the pinned versions and cached in
# ~/.cache/k3s-platform: minutes on a fresh machine, nothing afterwards. Built here, before vitest,
# so no cold build runs inside a test's timeout.
npm run build:test-tools
# vitest picks up test/**/*.test.ts: test/engine (npm run test:engine) runs with the rest.
npm test
