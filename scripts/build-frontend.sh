#!/usr/bin/env bash
# Build lms_extension/static/editor.bundle.js (CodeMirror 6 and its languages) from
# frontend/ with esbuild. The bundle is built, never committed; the LMS serves it itself.
#
#   scripts/build-frontend.sh           build when a frontend source is newer than the bundle
#   scripts/build-frontend.sh --force   build anyway
#
# Needs Node.js >= 18 and npm. When they are missing and this runs as root, Debian's
# nodejs and npm are installed; otherwise it stops and says how to install them.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
FRONTEND=$REPO/frontend
BUNDLE=$REPO/lms_extension/static/editor.bundle.js
force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

# Up to date: the bundle exists and nothing under frontend/ (but node_modules) is newer.
if [ $force = 0 ] && [ -s "$BUNDLE" ] \
   && [ -z "$(find "$FRONTEND" -path "$FRONTEND/node_modules" -prune -o -type f -newer "$BUNDLE" -print -quit)" ]; then
  exit 0
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "build-frontend: installing nodejs and npm (Debian packages)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "build-frontend: Node.js and npm are needed to build the code editor ($BUNDLE)." >&2
    echo "  Install them (as root: apt-get install nodejs npm), then run $0 again." >&2
    exit 1
  fi
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "build-frontend: Node.js $(node --version) is too old; esbuild needs 18 or newer." >&2
  exit 1
fi

cd "$FRONTEND"
started=$(date +%s)
# npm ci wipes node_modules, so only when the lock file changed since the last install
# (npm writes node_modules/.package-lock.json on every install).
if [ -f package-lock.json ]; then
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
     || [ package.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
else
  npm install --no-audit --no-fund --loglevel=error
fi
npm run --silent build
touch "$BUNDLE"  # newer than every source, even one esbuild left unchanged
echo "build-frontend: $(du -k "$BUNDLE" | cut -f1) KiB -> ${BUNDLE#"$REPO"/} in $(( $(date +%s) - started ))s" >&2
