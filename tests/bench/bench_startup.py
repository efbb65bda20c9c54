#!/usr/bin/env python3
"""sdnetd start-up benchmark: time from exec to READY=1 and idle memory.

Each run starts sdnetd in fresh temporary XDG directories with this script
as its service manager: we bind a datagram socket, pass it as
$NOTIFY_SOCKET, and time from just before the spawn until the READY=1
datagram arrives (what systemd's Type=notify waits for). Then VmRSS is read
from /proc/<pid>/status while the daemon idles, and it is stopped with
SIGTERM.

Rows:
  sdnetd first start  fresh data directory: also makes the identity
  sdnetd restart      the same directory again: loads the identity
  python3 reference   a python3 process that sends READY=1 at once; the
                      same measurement for a trivial program, so the
                      figures read as ratios on any machine
The store runs in key-file mode (no password), as without --password-file;
with a password each start adds one PBKDF2 derivation (600,000
iterations), measured separately with --password.

Usage: bench_startup.py [--sdnetd PATH] [--runs N] [--password]
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TIMEOUT = 30.0
REFERENCE = ("import os, socket, sys\n"
             "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
             "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
             "sys.stdin.read()\n")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def run_once(cmd, env, root):
    """Spawn cmd, wait for READY=1; returns (seconds, VmRSS KiB)."""
    path = os.path.join(root, "notify")
    if os.path.exists(path):
        os.unlink(path)
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ns.settimeout(TIMEOUT)
    env = dict(env, NOTIFY_SOCKET=path)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            msg = ns.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                break
        elapsed = time.perf_counter() - t0
        rss = rss_kib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.stdin.close()
        proc.wait(timeout=TIMEOUT)
        ns.close()
    return elapsed, rss


def fresh_env(root):
    env = {k: v for k, v in os.environ.items()
           if k not in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CONFIGURATION_DIRECTORY",
                        "CREDENTIALS_DIRECTORY", "JOURNAL_STREAM", "LISTEN_FDS",
                        "LISTEN_PID", "WATCHDOG_USEC")}
    for d in ("data", "config", "run"):
        os.makedirs(os.path.join(root, d), mode=0o700, exist_ok=True)
    env.update(XDG_DATA_HOME=os.path.join(root, "data"),
               XDG_CONFIG_HOME=os.path.join(root, "config"),
               XDG_RUNTIME_DIR=os.path.join(root, "run"), HOME=root)
    return env


def measure(args):
    rows = {"sdnetd first start": [], "sdnetd restart": [], "python3 reference": []}
    if args.password:
        rows["sdnetd restart, password"] = []
    for _ in range(args.runs):
        root = tempfile.mkdtemp(prefix="sdbench-", dir="/tmp")
        try:
            env = fresh_env(root)
            cmd = [args.sdnetd, "--instance", "bench", "--no-mdns"]
            rows["sdnetd first start"].append(run_once(cmd, env, root))
            rows["sdnetd restart"].append(run_once(cmd, env, root))
            rows["python3 reference"].append(
                run_once([sys.executable, "-S", "-c", REFERENCE], env, root))
            if args.password:
                pw = os.path.join(root, "pw")
                with open(pw, "w") as f:
                    f.write("benchmark\n")
                pcmd = [args.sdnetd, "--instance", "bench-pw", "--no-mdns", "--password-file", pw]
                run_once(pcmd, env, root)  # first start makes the store
                rows["sdnetd restart, password"].append(run_once(pcmd, env, root))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sdnetd", default=os.environ.get("SDNETD", "daemon/sdnetd"))
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--password", action="store_true",
                   help="also measure a restart with a password (PBKDF2)")
    args = p.parse_args()
    rows = measure(args)
    print(f"sdnetd start-up, {args.runs} runs (median / min / max)")
    print(f"{'':28} {'start -> READY=1 (ms)':>26}   {'idle VmRSS (KiB)':>24}")
    med = {}
    for name, samples in rows.items():
        ms = [t * 1000 for t, _ in samples]
        kib = [r for _, r in samples]
        med[name] = (statistics.median(ms), statistics.median(kib))
        print(f"{name:28} {statistics.median(ms):8.1f} {min(ms):8.1f} {max(ms):8.1f}   "
              f"{statistics.median(kib):8.0f} {min(kib):7d} {max(kib):7d}")
    ref_t, ref_r = med["python3 reference"]
    for name in rows:
        if name.startswith("sdnetd"):
            t, r = med[name]
            print(f"ratio {name} / python3 reference: time {t / ref_t:.2f}x, "
                  f"RSS {r / ref_r:.2f}x")


if __name__ == "__main__":
    main()
