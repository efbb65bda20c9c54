#!/usr/bin/env bash
# The README's main job: the seed's pairing workflow end to end, on one
# machine, with two devices, alice and bob.
#
#   as root: each device in its own network namespace, joined by a veth pair,
#            so discovery is real mDNS (and nothing leaves the machine: the
#            veth exists only between the two namespaces);
#   otherwise: both on loopback, bob told alice's address with --peer.
#
# alice generates a 12-word code, bob joins with it, and both list the other
# under `network devices`; then alice Spacedrops a 256 MiB file to bob,
# whose user accepts it, with a progress bar. Everything (namespaces,
# daemons, data) is removed on exit, also after Ctrl-C or a failure.
# Usage: tests/demo.sh [BUILD_DIR]
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
sdnetd="$build/daemon/sdnetd"
spacedrive="$build/cli/spacedrive"
work=$(mktemp -d /tmp/sdnetd-demo.XXXXXX)
export XDG_RUNTIME_DIR="$work/run" XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config"
mkdir -p -m 0700 "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
ns_a="sddemo-a-$$"
ns_b="sddemo-b-$$"
use_netns=false

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
  set +e
  "$spacedrive" --instance alice stop >/dev/null 2>&1
  "$spacedrive" --instance bob stop >/dev/null 2>&1
  if $use_netns; then
    ip netns del "$ns_a" 2>/dev/null
    ip netns del "$ns_b" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$sdnetd" --version

if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && ip netns add "$ns_a" 2>/dev/null; then
  use_netns=true
  ip netns add "$ns_b"
  ip link add veth-a netns "$ns_a" type veth peer name veth-b netns "$ns_b"
  ip -n "$ns_a" addr add 10.77.0.1/24 dev veth-a
  ip -n "$ns_b" addr add 10.77.0.2/24 dev veth-b
  for ns in "$ns_a" "$ns_b"; do
    ip -n "$ns" link set lo up
  done
  ip -n "$ns_a" link set veth-a up
  ip -n "$ns_b" link set veth-b up
  # mDNS needs a multicast route on the veth.
  ip -n "$ns_a" route add 224.0.0.0/4 dev veth-a
  ip -n "$ns_b" route add 224.0.0.0/4 dev veth-b
  say "Two devices in network namespaces $ns_a and $ns_b, linked by a veth pair (mDNS on it)"
  run ip netns exec "$ns_a" "$spacedrive" --instance alice start \
    --listen /ip4/10.77.0.1/tcp/0 --mdns-interface veth-a
  run ip netns exec "$ns_b" "$spacedrive" --instance bob start \
    --listen /ip4/10.77.0.2/tcp/0 --mdns-interface veth-b
  join_extra=()
else
  say "Two devices on loopback (run as root for namespaces and real mDNS)"
  run "$spacedrive" --instance alice start --no-mdns --listen /ip4/127.0.0.1/tcp/0
  run "$spacedrive" --instance bob start --no-mdns --listen /ip4/127.0.0.1/tcp/0
  alice_addr=$("$spacedrive" --instance alice --json network info |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["listen_addrs"][0])')
  join_extra=(--peer "$alice_addr")
fi

say "alice: generate a pairing code"
printf '$ %s\n' "spacedrive --instance alice network pair generate"
out=$("$spacedrive" --instance alice network pair generate)
printf '%s\n' "$out"
words=$(printf '%s\n' "$out" | sed -n 's/^Generated pairing code: //p')
[ -n "$words" ] || { echo "demo: no code in the output above" >&2; exit 1; }

say "bob: join with the 12 words"
run "$spacedrive" --instance bob network pair join "$words" "${join_extra[@]}"

say "Both devices list each other"
run "$spacedrive" --instance alice network devices
run "$spacedrive" --instance bob network devices

say "alice: Spacedrop a file to bob, whose user accepts it"
head -c $((256 << 20)) /dev/urandom >"$work/holiday.mov"
printf '$ %s\n' "spacedrive --instance alice network spacedrop bob holiday.mov --message 'from the trip'"
"$spacedrive" --instance alice network spacedrop bob "$work/holiday.mov" --message "from the trip" &
sender=$!
id=""
for _ in $(seq 100); do
  id=$("$spacedrive" --instance bob --json network spacedrop list |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["id"][:8] if r else "")')
  [ -n "$id" ] && break
  sleep 0.1
done
[ -n "$id" ] || { echo "demo: bob got no Spacedrop request" >&2; exit 1; }
run "$spacedrive" --instance bob network spacedrop list
run "$spacedrive" --instance bob network spacedrop accept "$id"
wait "$sender"
run "$spacedrive" --instance bob network transfers

say "Done; stopping both devices and removing their data"
