#!/usr/bin/env bash
# System packages the platform needs on Debian/Ubuntu, installed only when missing.
#   scripts/system-deps.sh run    bubblewrap (the sandbox), setpriv
#   scripts/system-deps.sh test   + chromium for the browser tests
set -euo pipefail
want=(bubblewrap e2fsprogs)  # e2fsprogs: students' home images (LMS_DISK_LIMIT)
[ "${1:-run}" = test ] && want+=(chromium)
missing=()
for pkg in "${want[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
