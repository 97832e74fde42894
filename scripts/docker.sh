#!/usr/bin/env bash
# The container engines the enricher's runtime tests talk to: Debian's docker.io (dockerd, containerd, runc) and
# busybox-static (the offline test image's only binary) and debootstrap (the compose test's offline images).
# Installs what is missing and starts what does not answer.
# No systemd on these machines: the daemons run in the background, logging to /var/log. Idempotent; needs root.
set -euo pipefail

say() { printf 'docker: %s\n' "$*" >&2; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
containerd_up() { ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1; }
# Debian's client, not whatever else is first on PATH: it matches the daemon's API version.
docker_cli() { if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi; }
docker_up() { docker_cli info >/dev/null 2>&1; }
wait_for() { # check name seconds
  for _ in $(seq 1 $(($3 * 4))); do "$1" && return 0; sleep 0.25; done
  say "error: $2 did not answer within $3 s (see /var/log/$2.log)"; return 1
}
wait_apt() { # another apt/dpkg (e.g. a setup still installing docker.io) holds the lock: wait, bounded
  for _ in $(seq 1 600); do
    fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1 || return 0
    sleep 1
  done
  say "error: apt is still locked after 10 min"; return 1
}

# debootstrap: the compose test builds its images offline. No docker-compose: the compose test runs the stack
# through testcontainers (test/support/compose-stack.ts), because Debian 12's docker-compose is v1 and
# testcontainers' compose support needs v2.
# podman: services/enricher/test/runtime-podman.int.spec.ts runs `podman system service` (its Docker-compatible API).
packages=(docker.io busybox-static debootstrap podman)
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  wait_apt
  # The lock holder may have been installing these very packages.
  missing=()
  for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  # policy-rc.d: packages must not try to start services through an init system that may not be there.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

# Starts a daemon that outlives this script with none of its inherited descriptors but the standard three: a
# daemon holding a caller's lock file open (`flock LOCK scripts/test.sh`) would hold that lock for its whole life.
daemon() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      n=${fd##*/}
      if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi
    done
    exec nohup "$@" </dev/null
  ) &
}

if containerd_up; then
  say "containerd already answers"
else
  say "starting containerd (log /var/log/containerd.log)"
  mkdir -p /run/containerd
  daemon containerd >>/var/log/containerd.log 2>&1
  wait_for containerd_up containerd 30
fi

if docker_up; then
  say "dockerd already answers"
else
  say "starting dockerd (log /var/log/dockerd.log)"
  # Pointed at the containerd above, so both tests see one containerd (dockerd's containers in namespace moby).
  daemon dockerd --containerd /run/containerd/containerd.sock >>/var/log/dockerd.log 2>&1
  wait_for docker_up dockerd 60
fi
say "containerd (/run/containerd/containerd.sock) and dockerd (/var/run/docker.sock) answer"
