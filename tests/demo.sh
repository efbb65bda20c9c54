#!/usr/bin/env bash
# The README's main job: start one sdnetd in the foreground with a throw-away
# data directory; it prints its peer ID and exits cleanly on Ctrl-C.
set -euo pipefail
build=${1:-build}
data=$(mktemp -d /tmp/sdnetd-demo.XXXXXX)
trap 'rm -rf "$data"' EXIT
"$build/daemon/sdnetd" --version
exec "$build/daemon/sdnetd" --foreground --instance demo --data-dir "$data"
