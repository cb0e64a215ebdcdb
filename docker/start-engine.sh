#!/usr/bin/env bash
# Make sure a Docker engine answers, for docker/build-images.sh and tests/docker.
# Installs docker.io when dockerd is missing and starts it with bridge networking
# off: the LMS's containers use the host network and never talk to 172.x.
# Needs root. Log: $DOCKERD_LOG (/tmp/dockerd.log).
set -euo pipefail
LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
docker info >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] || { echo "no Docker engine answers, and starting one needs root" >&2; exit 1; }
if ! command -v dockerd >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io
fi
# an engine that was killed (a stopped session, a crash) leaves its pid file behind, and a
# new dockerd refuses to start while it exists
for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
  # (the pid may since belong to another process: only a live dockerd/containerd counts)
  if [ -f "$pidfile" ] && ! grep -qsE '^(dockerd|containerd)$' "/proc/$(cat "$pidfile" 2>/dev/null)/comm"; then
    rm -f "$pidfile"
  fi
done
nohup dockerd --bridge=none --iptables=false --ip-masq=false >"$LOG" 2>&1 &
for _ in $(seq 120); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "dockerd did not answer within 60 s; see $LOG" >&2
exit 1
