#!/usr/bin/env python3
"""Daemon RSS with 50 connected paired devices (issue 6, "Benchmarks"):
figures, not assertions.

One hub daemon and N small daemons (default 50), all on loopback with
--no-mdns, each in its own temporary XDG directories. The hub pairs with
each small daemon through the CLI (`spacedrive --instance hub network pair
join CODE --peer ADDR`, the code from that daemon's pairing.generate). The
hub joins, so the hub dials: on loopback every device shares the source
address 127.0.0.1; the hub's max-connections-per-ip (by default
max-connections, 50) would admit them dialing in too, but dialing from the
hub keeps the figure independent of that setting. The bench then waits
until the hub's devices.list shows all N devices connected and prints
the hub's VmRSS (from /proc/PID/status) before any pairing, after, and the
difference per device. Every process it started
is killed on exit, also on an error or SIGTERM.

Usage: bench_rss50.py [--devices N]"""

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

SPACEDRIVE = os.environ.get(
    "SPACEDRIVE", os.path.join(os.path.dirname(os.path.dirname(harness.SDNETD)), "cli",
                               "spacedrive"))
COMMON = ["--no-mdns", "--retry-interval", "200ms", "--connection-timeout", "5s"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_kib(pid, field):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def wait_until(what, fn, timeout):
    """Poll fn() (a cheap RPC) until true; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SystemExit(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def connected(hub):
    return sum(1 for d in hub.call("devices.list")["devices"] if d["state"] == "connected")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=50)
    a = ap.parse_args()
    n = a.devices
    homes, daemons = [], []

    def cleanup():
        for d in daemons:
            try:
                d.kill()
            except Exception:  # noqa: BLE001 - every process still goes
                pass
        for h in homes:
            h.cleanup()

    # meson's timeout sends SIGTERM: turn it into an exception so the
    # finally below still kills every daemon.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        hub_home = harness.Home()
        homes.append(hub_home)
        hub_port = free_port()
        # Room for every device (max-connections defaults to 50, the seed's).
        hub = harness.Daemon(hub_home, "hub", ["--listen", f"/ip4/127.0.0.1/tcp/{hub_port}",
                                               "--max-connections", str(max(50, n + 10)),
                                               *COMMON])
        daemons.append(hub)
        hub.start()
        rss0 = vm_kib(hub.pid, "VmRSS")
        print(f"=== sdnetd hub RSS with {n} connected paired devices, loopback, "
              f"--no-mdns: {shlex.join([sys.argv[0], *sys.argv[1:]])} ===")
        sys.stdout.flush()
        t0 = time.monotonic()
        for i in range(n):
            home = harness.Home()
            homes.append(home)
            name = f"dev{i:02d}"
            port = free_port()
            d = harness.Daemon(home, name, ["--listen", f"/ip4/127.0.0.1/tcp/{port}", *COMMON])
            daemons.append(d)
            d.start()
            addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{d.call('node.info')['peer_id']}"
            code = d.call("pairing.generate")["code"]
            r = subprocess.run([SPACEDRIVE, "--instance", "hub", "network", "pair", "join", code,
                                "--peer", addr], env=hub_home.env, capture_output=True,
                               text=True, timeout=harness.TIMEOUT * 2)
            if r.returncode != 0:
                raise SystemExit(f"{name}: pair join failed: {r.stderr.strip()}")
        t_paired = time.monotonic() - t0
        wait_until(f"hub sees {n} devices connected", lambda: connected(hub) >= n,
                   harness.TIMEOUT * 4)
        t_conn = time.monotonic() - t0
        rss1 = vm_kib(hub.pid, "VmRSS")
        hwm = vm_kib(hub.pid, "VmHWM")
        small = sorted(vm_kib(d.pid, "VmRSS") for d in daemons[1:])
        print(f"hub VmRSS before pairing   {rss0:8d} KiB")
        print(f"hub VmRSS, {n} connected   {rss1:8d} KiB  (peak VmHWM {hwm} KiB)")
        print(f"per device                 {(rss1 - rss0) / n:8.1f} KiB")
        print(f"small daemon VmRSS median  {small[len(small) // 2]:8d} KiB  (one device "
              f"connected, for reference)")
        print(f"{n} pairings via the CLI in {t_paired:.1f} s; all connected after "
              f"{t_conn:.1f} s")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
