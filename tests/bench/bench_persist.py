#!/usr/bin/env python3
"""Paired-device connection benchmarks (issue 6): figures, not assertions.

Rows:
  reconnect after peer restart   bob stops (SIGTERM) and starts again; from
                                 bob's READY=1 to alice's device.connected
  reconnect after kill -9        the same with SIGKILL (alice backs off: the
                                 figure includes the wait for the next retry
                                 or bob's own dial, whichever comes first)
  peer start (reference)         bob's exec to READY=1: the same machine's
                                 cost of just starting the daemon
  keepalive bytes                device-stream bytes (DeviceMessage frames,
                                 both directions) per keepalive round, and
                                 the whole connection's bytes (yamux and
                                 Noise framing, host pings included) over an
                                 idle period, scaled to one minute at the
                                 default 30 s interval

Two daemons on loopback, fixed ports, the integration harness's private
directories. Usage: bench_persist.py [--runs N] [--idle S]"""

import argparse
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
import test_persist  # noqa: E402


class Bench(test_persist.Persist):
    runs = 10
    idle = 10

    def runTest(self):
        pass


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def reconnects(b, alice, bob, sig):
    ev = b.events(alice)
    times, starts = [], []
    for _ in range(Bench.runs):
        bob.send_signal(sig)
        bob.wait_exit()
        ev.wait_event("device.disconnected")
        t0 = time.perf_counter()
        bob = b.restart(bob)
        t_ready = time.perf_counter()
        ev.wait_event("device.connected")
        t_up = time.perf_counter()
        starts.append((t_ready - t0) * 1000)
        times.append((t_up - t_ready) * 1000)
    ev.close()
    return bob, times, starts


def keepalive(b, alice, bob):
    m0 = alice.call("devices.metrics", {"device": "bob"})["devices"][0]
    t0 = time.monotonic()
    time.sleep(Bench.idle)  # measuring an idle connection: the wait is the point
    m1 = alice.call("devices.metrics", {"device": "bob"})["devices"][0]
    secs = time.monotonic() - t0
    ka = (m1["keepalive_bytes_in"] + m1["keepalive_bytes_out"] -
          m0["keepalive_bytes_in"] - m0["keepalive_bytes_out"])
    conn = m1["bytes_in"] + m1["bytes_out"] - m0["bytes_in"] - m0["bytes_out"]
    return ka, conn, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--idle", type=float, default=10)
    a = ap.parse_args()
    Bench.runs, Bench.idle = a.runs, a.idle
    b = Bench()
    b.setUp()
    try:
        alice = b.start("alice", ["--keepalive-interval", "1s"])
        bob = b.start("bob", ["--keepalive-interval", "1s"])
        b.pair(alice, bob)
        b.wait_state(alice, "bob", "connected")
        b.wait_state(bob, "alice", "connected")
        bob, t_term, s1 = reconnects(b, alice, bob, signal.SIGTERM)
        bob, t_kill, s2 = reconnects(b, alice, bob, signal.SIGKILL)
        starts = s1 + s2
        ref = statistics.median(starts)
        print(f"{'row':34} {'median ms':>10} {'p90 ms':>8} {'x start':>8}")
        for name, v in (("reconnect after peer restart", t_term),
                        ("reconnect after kill -9", t_kill),
                        ("peer start (reference)", starts)):
            print(f"{name:34} {statistics.median(v):10.1f} {pct(v, 0.9):8.1f} "
                  f"{statistics.median(v) / ref:8.2f}")
        b.wait_state(alice, "bob", "connected")
        b.wait_state(bob, "alice", "connected")
        ka, conn, secs = keepalive(b, alice, bob)
        rounds = secs / 1.0
        per_round = ka / rounds
        conn_round = conn / rounds
        print(f"\nkeepalive, measured at a 1 s interval over {secs:.1f} s "
              f"({rounds:.0f} rounds):")
        print(f"  device stream: {per_round:.1f} bytes per round (Ping + Pong, both ways)")
        print(f"  whole connection: {conn_round:.1f} bytes per round (with yamux and Noise "
              f"framing)")
        # At the default 30 s: two rounds a minute, plus the host's own yamux
        # ping every 30 s, which is in conn_round only once per 30 rounds here.
        print(f"  per device per minute at the default 30 s interval: "
              f"{2 * per_round:.0f} bytes of DeviceMessage, about {2 * conn_round:.0f} bytes "
              f"on the wire (seed: ~200 bytes per minute, ~100 per 30 s)")
    finally:
        b.tearDown()


if __name__ == "__main__":
    main()
