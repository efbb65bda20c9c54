#!/usr/bin/env python3
"""One-stream echo throughput over loopback: sdnetd <-> js-libp2p next to
js-libp2p <-> js-libp2p, in the same run.

Each row echoes BYTES (default 256 MiB) over one yamux stream of the echo
protocol /sdnetd-test/echo/1.0.0 and the sender compares every byte:
  js -> sdnetd    peer.mjs `echo` against sdnetd's echo handler
  sdnetd -> js    sdnetd's test.echo against peer.mjs's echo handler
  js -> js        peer.mjs `echo` against a second peer.mjs (reference)
Figures are payload MiB/s (bytes sent one way / time until all came back),
best of --runs, and each sdnetd row's ratio to the js <-> js row. Both ends
run on this machine, so the ratio, not the absolute figure, is the result.

Usage: bench_interop_throughput.py [--sdnetd PATH] [--mib N] [--runs N]
Exit 77 when the js peer's node_modules are missing."""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))

import interop  # noqa: E402
from interop import harness  # noqa: E402


def mib_s(nbytes, ms):
    return nbytes / interop.MIB / max(ms, 1) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdnetd", default=harness.SDNETD)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    interop.skip_without_node()
    harness.SDNETD = args.sdnetd
    nbytes = args.mib * interop.MIB
    timeout = max(120, args.mib)

    home = harness.Home()
    d = harness.Daemon(home, "bench", interop.sd_args())
    peers = []
    try:
        d.start()
        a = interop.JsPeer(home.root, "js-a")
        peers.append(a)
        b = interop.JsPeer(home.root, "js-b")
        peers.append(b)
        sd_id, sd_addr = interop.listen_addr(d)
        a.call("dial", addr=sd_addr)
        a.call("dial", addr=b.addr)

        def js_to_sd():
            return a.call("echo", timeout, peer=sd_id, streams=1, bytes=nbytes)["ms"]

        def sd_to_js():
            r = interop.call(d, "test.echo", {"peer_id": a.peer_id, "streams": 1,
                                              "bytes": nbytes}, timeout=timeout)
            if not r["ok"]:
                raise SystemExit(f"test.echo failed: {r}")
            return r["ms"]

        def js_to_js():
            return a.call("echo", timeout, peer=b.peer_id, streams=1, bytes=nbytes)["ms"]

        rows = [("js -> sdnetd", js_to_sd), ("sdnetd -> js", sd_to_js), ("js -> js", js_to_js)]
        best = {}
        for _ in range(args.runs):
            for name, fn in rows:
                ms = fn()
                best[name] = min(best.get(name, ms), ms)
        ref = mib_s(nbytes, best["js -> js"])
        print(f"one-stream echo of {args.mib} MiB over loopback, best of {args.runs}:")
        for name, _ in rows:
            rate = mib_s(nbytes, best[name])
            print(f"  {name:14} {best[name]:7d} ms  {rate:8.1f} MiB/s  "
                  f"{rate / ref:5.2f}x js <-> js")
    finally:
        for p in peers:
            p.close()
        d.kill()
        home.cleanup()


if __name__ == "__main__":
    main()
