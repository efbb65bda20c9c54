#!/usr/bin/env bash
# The README's main job: start one sdnetd in the foreground with a throw-away
# data directory; it prints its peer ID and exits cleanly on Ctrl-C. While it
# runs, `spacedrive --instance demo network info` talks to it from another
# terminal.
set -euo pipefail
build=${1:-build}
data=$(mktemp -d /tmp/sdnetd-demo.XXXXXX)
trap 'rm -rf "$data"' EXIT
"$build/daemon/sdnetd" --version
# Not exec: the shell stays to remove the data directory after Ctrl-C, which
# reaches sdnetd too (same process group); sdnetd exits 0 after it.
"$build/daemon/sdnetd" --foreground --instance demo --data-dir "$data" --no-mdns
