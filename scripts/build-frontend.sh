#!/usr/bin/env bash
# Build the two browser parts from npm packages; both are built, never committed:
#  - lms_extension/static/editor.bundle.js: the challenge page's code editor (CodeMirror 6),
#    from frontend/ with esbuild; the LMS serves it itself.
#  - lms_extension/labextension/: the JupyterLab extension @jupyter-lms/lms-course (Course
#    sidebar, Submit button), prebuilt (federated) from labextension/ with @jupyterlab/builder
#    against the JupyterLab of $VENV (default .venv); students' servers load it from
#    share/jupyter/labextensions/ (pip installs it there; `make frontend` links it into .venv).
#
#   scripts/build-frontend.sh           build what a source is newer than
#   scripts/build-frontend.sh --force   build both anyway
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

LABEXT=$REPO/labextension
LABEXT_OUT=$REPO/lms_extension/labextension
LABEXT_STAMP=$LABEXT_OUT/package.json
VENV=${VENV:-$REPO/.venv}
[ "${VENV#/}" = "$VENV" ] && VENV=$REPO/$VENV

# up to date: the output exists and nothing in the source folder (but node_modules and lib) is newer
stale() {  # stale <source dir> <output file>
  [ $force = 1 ] || [ ! -s "$2" ] || [ -n "$(find "$1" \( -path "$1/node_modules" -o -path "$1/lib" \) -prune \
                                               -o -type f -newer "$2" -print -quit)" ]
}
editor=0; lab=0
stale "$FRONTEND" "$BUNDLE" && editor=1
stale "$LABEXT" "$LABEXT_STAMP" && lab=1
if [ $editor = 0 ] && [ $lab = 0 ]; then
  exit 0
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "build-frontend: installing nodejs and npm (Debian packages)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "build-frontend: Node.js and npm are needed to build the code editor and the JupyterLab extension." >&2
    echo "  Install them (as root: apt-get install nodejs npm), then run $0 again." >&2
    exit 1
  fi
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "build-frontend: Node.js $(node --version) is too old; esbuild needs 18 or newer." >&2
  exit 1
fi

# npm ci wipes node_modules, so only when the lock file changed since the last install
# (npm writes node_modules/.package-lock.json on every install).
npm_install() {
  if [ -f package-lock.json ]; then
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
       || [ package.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
}

if [ $editor = 1 ]; then
  cd "$FRONTEND"
  started=$(date +%s)
  npm_install
  npm run --silent build
  touch "$BUNDLE"  # newer than every source, even one esbuild left unchanged
  echo "build-frontend: $(du -k "$BUNDLE" | cut -f1) KiB -> ${BUNDLE#"$REPO"/} in $(( $(date +%s) - started ))s" >&2
fi

if [ $lab = 1 ]; then
  # the federated build shares JupyterLab's own packages: it needs that JupyterLab's staging folder
  python=$VENV/bin/python
  [ -x "$python" ] || python=$(command -v python3)
  staging=$("$python" -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))' 2>/dev/null) || {
    echo "build-frontend: JupyterLab is not installed in $VENV (make setup installs it); the lab extension needs it to build." >&2
    exit 1
  }
  cd "$LABEXT"
  started=$(date +%s)
  npm_install
  npm run --silent build:lib
  rm -rf "$LABEXT_OUT/static"  # old hashed chunks would linger beside the new ones
  node_modules/.bin/build-labextension --core-path "$staging" . >/dev/null
  touch "$LABEXT_STAMP"
  echo "build-frontend: $(du -sk "$LABEXT_OUT" | cut -f1) KiB -> ${LABEXT_OUT#"$REPO"/} in $(( $(date +%s) - started ))s" >&2
fi
