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
    exec "$root/tests/run-all.sh"
    ;;
  *)
    echo "usage: $0 demo|test|build" >&2
    exit 2
    ;;
esac
