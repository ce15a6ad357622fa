#!/usr/bin/env bash
# The system packages the integration tier runs: PostgreSQL 15's server (and its client programs)
# from `postgresql-15`, PgBouncer from `pgbouncer`, and Python's venv (`python3-venv`), in which
# the HA tests install Patroni from PyPI; installed by those names when missing.
# Tested on Debian 12 (bookworm), which has both; a release without them (Ubuntu 24.04 has only
# PostgreSQL 16) fails here, before anything is built, naming what it lacks.
# PG_BIN and PGBOUNCER_BIN, which the test harnesses read, point at other installations; PYTHON3
# names the Python the Patroni venv is made from (default /usr/bin/python3).
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

distribution() {
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091 # the running system's file, not ours
    (. /etc/os-release && echo "${PRETTY_NAME:-$ID}")
  else
    echo "this system (no /etc/os-release)"
  fi
}

missing=()
[ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" ] || missing+=(postgresql-15)
[ -x "${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}" ] || missing+=(pgbouncer)
"${PYTHON3:-/usr/bin/python3}" -c "import ensurepip, venv" 2> /dev/null || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] && exit 0

needs="the integration tier needs PostgreSQL 15's server and client programs (package postgresql-15, \
in /usr/lib/postgresql/15/bin, or PG_BIN) and PgBouncer (package pgbouncer, /usr/sbin/pgbouncer, \
or PGBOUNCER_BIN), and Python 3's venv (package python3-venv) for Patroni; Debian 12 (bookworm) has all and is the release the tests run on, e.g. in a \
debian:12 container"
if ! command -v apt-get > /dev/null || ! command -v apt-cache > /dev/null; then
  echo "$(distribution) has no apt-get: $needs" >&2
  exit 1
fi

echo "installing Debian packages: ${missing[*]}"
as_root apt-get update -qq
unavailable=()
for package in "${missing[@]}"; do
  candidate="$(apt-cache policy "$package" | awk '$1 == "Candidate:" { print $2 }')"
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then unavailable+=("$package"); fi
done
if [ ${#unavailable[@]} -gt 0 ]; then
  echo "$(distribution) offers no package named ${unavailable[*]}: $needs" >&2
  exit 1
fi
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
