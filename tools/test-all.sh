#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh Debian machine, builds the
# Go-based test tools once, then runs every tier (type check, lint, unit, render, integration,
# e2e, engine) on the pinned Node.js LTS.
# Safe to re-run; installs and builds only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

now() { date +%s.%N; }
seconds_since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'; }

CACHE="$HOME/.cache/k3s-platform"

# First, so a distribution without them fails in seconds rather than after the tool builds.
bash tools/install-debian-packages.sh

# The Node.js the suite runs on: the LTS release pinned in .node-version, taken from the npm
# registry's node-linux-<arch> package (the registry is the one network the tests may use) and
# kept in $CACHE/node-<version>. Installed beside it and then moved into place, so an interrupted
# install is never mistaken for a finished one.
pinned_node() {
  local version arch home staging started
  version="$(tr -d '[:space:]' < .node-version)"
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "no node-linux-* package for $(uname -m); the suite pins Node $version" >&2; exit 1 ;;
  esac
  home="$CACHE/node-$version"
  if [ ! -x "$home/node_modules/.bin/node" ]; then
    mkdir -p "$CACHE"
    staging="$(mktemp -d "$CACHE/.node-$version.XXXXXX")"
    started="$(now)"
    npm install --prefix "$staging" --no-save --no-package-lock --no-audit --no-fund \
      "node-linux-$arch@$version" >&2
    # Another run that finished first keeps its copy.
    mv -T "$staging" "$home" 2>/dev/null || rm -rf "$staging"
    echo "installed node-linux-$arch@$version into $home in $(seconds_since "$started") s" >&2
  fi
  if [ "$("$home/node_modules/.bin/node" --version)" != "v$version" ]; then
    echo "$home holds no Node $version: remove it and run again" >&2
    exit 1
  fi
  echo "$home/node_modules/.bin"
}

if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "the test command needs a Node.js with npm, of any release, to fetch the pinned one" >&2
  exit 1
fi
pinned_bin="$(pinned_node)"
# npm and every program the tests spawn find `node` on PATH: the pinned one from here on.
export PATH="$pinned_bin:$PATH"
pinned="$(node --version)"

echo "Node $pinned (pinned in .node-version): npm ci, type check, lint and every test tier"
install_log="$(mktemp)"
trap 'rm -f "$install_log"' EXIT
npm ci --no-audit --no-fund 2>&1 | tee "$install_log"
# npm only warns when a dependency refuses the running Node; here that fails the run, since the
# suite would then pass on a Node some dependency does not support.
if grep -q EBADENGINE "$install_log"; then
  echo "npm ci on Node $pinned printed EBADENGINE: a dependency refuses the pinned Node" >&2
  exit 1
fi
# Real programs for the integration, e2e and engine tiers (the latter: the Pulumi CLI and the
# Kubernetes provider), built from the Go module proxy at the pinned versions and cached in
# ~/.cache/k3s-platform: minutes on a fresh machine, nothing afterwards. Built here, before vitest,
# so no cold build runs inside a test's timeout.
npm run build:test-tools
# vitest picks up test/**/*.test.ts: test/engine (npm run test:engine) runs with the rest.
npm test
