#!/usr/bin/env bash
# Build the Jupyter LMS images without any container registry.
#
#   docker/build-images.sh [student] [hub] [grader] [all]     (default: student)
#
# The base image is made from debootstrap + `docker import` when it is absent, so
# nothing is ever pulled. Each image installs the project from a wheel built from
# this checkout; the dependency layer is cached separately, so a code-only change
# rebuilds in seconds. Builds use the host network (no bridge traffic) and the
# host's CA bundle for pip only, because egress TLS may be intercepted.
#
# Environment (all optional):
#   LMS_BASE_IMAGE    base image tag            (jupyter-lms/base:bookworm)
#   LMS_DOCKER_IMAGE  student image tag         (jupyter-lms/student:latest; the hub reads the same variable)
#   LMS_HUB_IMAGE     hub image tag             (jupyter-lms/hub:latest)
#   LMS_GRADER_IMAGE  grader image tag          (jupyter-lms/grader:latest)
#   DEBIAN_MIRROR     mirror for debootstrap    (http://deb.debian.org/debian)
#   CA_BUNDLE         CA bundle pip should trust (/etc/ssl/certs/ca-certificates.crt)
#   PYTHON            Python that builds the wheel (.venv/bin/python, else python3)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BASE_IMAGE=${LMS_BASE_IMAGE:-jupyter-lms/base:bookworm}
STUDENT_IMAGE=${LMS_DOCKER_IMAGE:-jupyter-lms/student:latest}
HUB_IMAGE=${LMS_HUB_IMAGE:-jupyter-lms/hub:latest}
GRADER_IMAGE=${LMS_GRADER_IMAGE:-jupyter-lms/grader:latest}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lms-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
timed() { local s=$SECONDS; "$@"; echo "== $((SECONDS - s))s: $*" >&2; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(student)
[ "${targets[*]}" != all ] || targets=(student hub grader)
for t in "${targets[@]}"; do
  case $t in student|hub|grader) ;; *) echo "unknown image: $t (student|hub|grader|all)" >&2; exit 2;; esac
done

docker info >/dev/null 2>&1 || { echo "no Docker engine answers (docker info failed)" >&2; exit 1; }

build_base() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return
  if ! command -v debootstrap >/dev/null; then
    apt-get update -q && timed apt-get install -y -q debootstrap
  fi
  timed debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR"
  rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
  timed sh -c "tar -C '$WORK/rootfs' -c . | docker import - '$BASE_IMAGE'"
  rm -rf "$WORK/rootfs"
}

# The wheel is built from a copy of the package sources so the checkout gets no
# build/ or egg-info droppings; a fixed SOURCE_DATE_EPOCH makes the wheel
# byte-identical for identical sources, which keeps Docker's layer cache warm.
build_wheel() {
  # the hub serves the editor bundle from the wheel; the wheel installs the JupyterLab extension
  # into share/jupyter/labextensions/ of the student image
  "$REPO/scripts/build-frontend.sh"
  [ -s "$REPO/lms_extension/static/editor.bundle.js" ] || { echo "editor.bundle.js missing" >&2; exit 1; }
  [ -s "$REPO/lms_extension/labextension/package.json" ] || { echo "lms_extension/labextension missing" >&2; exit 1; }
  local src=$WORK/src
  mkdir -p "$src" "$WORK/dist"
  cp "$REPO/pyproject.toml" "$src/"
  for f in README.md LICENSE MANIFEST.in setup.py setup.cfg; do
    [ ! -e "$REPO/$f" ] || cp "$REPO/$f" "$src/"
  done
  [ -e "$src/README.md" ] || : >"$src/README.md"   # pyproject names it; may not exist yet
  tar -C "$REPO" --exclude=__pycache__ --exclude='*.pyc' -c lms_extension graders hub_config | tar -C "$src" -x
  SOURCE_DATE_EPOCH=315532800 timed "$PYTHON" -m pip wheel -q --no-deps -w "$WORK/dist" "$src"
}

# requirements.txt = the wheel's Requires-Dist for the given extras, so the
# dependency layer only changes when pyproject.toml's dependencies do.
write_requirements() {  # <context dir> <extras, comma separated>
  "$PYTHON" - "$WORK"/dist/jupyter_lms-*.whl "$2" >"$1/requirements.txt" <<'EOF'
import email, re, sys, zipfile
wheel, extras = sys.argv[1], {e for e in sys.argv[2].split(",") if e}
with zipfile.ZipFile(wheel) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    msg = email.message_from_bytes(z.read(meta))
for req in msg.get_all("Requires-Dist") or []:
    spec, _, marker = req.partition(";")
    extra = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)
    if extra is None or extra.group(1) in extras:
        print(spec.strip())
EOF
}

build_image() {  # <student|hub|grader> <tag> <extras>
  local ctx=$WORK/ctx-$1
  mkdir -p "$ctx"
  cp "$HERE/$1.Dockerfile" "$ctx/Dockerfile"
  cp "$WORK"/dist/jupyter_lms-*.whl "$ctx/"
  write_requirements "$ctx" "$3"
  if [ -s "$CA_BUNDLE" ]; then
    cp "$CA_BUNDLE" "$ctx/host-ca.crt"
  else
    cp "$("$PYTHON" -c 'import certifi; print(certifi.where())')" "$ctx/host-ca.crt"
  fi
  timed docker build --network host --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --label org.opencontainers.image.source=jupyter-lms -t "$2" "$ctx"
}

tag_of() { case $1 in student) echo "$STUDENT_IMAGE" ;; hub) echo "$HUB_IMAGE" ;; grader) echo "$GRADER_IMAGE" ;; esac; }
extras_of() { if [ "$1" = hub ]; then echo docker,kubernetes; fi; }  # the hub runs the spawners

timed build_base
build_wheel
for t in "${targets[@]}"; do build_image "$t" "$(tag_of "$t")" "$(extras_of "$t")"; done
for t in "${targets[@]}"; do docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$(tag_of "$t")"; done
