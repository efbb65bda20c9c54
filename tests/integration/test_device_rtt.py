"""A paired device's RTT below one millisecond (loopback, a LAN) is
reported, not null: devices.metrics (and devices.show's metrics) carry
rtt_us, whole microseconds, and rtt_ms, the same as a fractional number;
`network devices --verbose` prints it with two decimals. Both sides measure
an RTT with their first keepalive, so both have one right after the
connection is up; the side that dialed (bob: he joined) measures on every
keepalive, to the microsecond, so on loopback his is under a millisecond.
(Before, the RTT was whole milliseconds and 0 meant "none yet": on
loopback it stayed null for good.)

Every wait is bounded by harness.TIMEOUT; polls only look at state."""

import re

import devices_helpers as dh
import harness

FAST = ["--no-mdns", "--retry-interval", "200ms", "--connection-timeout", "2s",
        "--keepalive-interval", "1s"]


class DeviceRtt(harness.Case):
    def start(self, name, port):
        return self.daemon(name, ["--listen", f"/ip4/127.0.0.1/tcp/{port}", *FAST])

    def test_sub_millisecond_rtt_is_reported(self):
        port = dh.free_port()
        alice = self.start("alice", port)
        bob = self.start("bob", dh.free_port())
        peer = alice.call("node.info")["peer_id"]
        dh.pair(alice, bob, f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer}")
        dh.wait_connected(alice, "bob")
        dh.wait_connected(bob, "alice")
        for d, other in ((alice, "bob"), (bob, "alice")):
            m = dh.wait_until(f"{d.instance} has an RTT for {other}",
                              lambda: (lambda m: m if m["rtt_us"] is not None else None)(
                                  dh.metrics(d, other)))
            self.assertIsInstance(m["rtt_us"], int)
            self.assertGreater(m["rtt_us"], 0)
            # Loopback: well under a second whatever the machine's load.
            self.assertLess(m["rtt_us"], 1_000_000)
            self.assertIsInstance(m["rtt_ms"], float)
            self.assertAlmostEqual(m["rtt_ms"], m["rtt_us"] / 1000, places=3)
            if d is bob:
                # Several keepalives (1 s) later, still the dialer's own
                # figure: under 1 ms unless the machine stalls for that long.
                m = dh.wait_until("bob's RTT under 1 ms", lambda: (
                    lambda m: m if m["rtt_us"] < 1000 else None)(dh.metrics(bob, "alice")),
                    timeout=harness.TIMEOUT)
            shown = d.call("devices.show", {"device": other})["link"]["metrics"]
            self.assertIsNotNone(shown["rtt_us"])
            print(f"\n{d.instance} -> {other}: rtt {m['rtt_us']} us")
        r = dh.cli(alice, "network", "devices", "--verbose")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"\n  rtt: \d+\.\d\d ms, uptime: \d+ s")
        self.assertNotIn("rtt: -", r.stdout)
        r = dh.cli(alice, "--json", "network", "devices", "--verbose")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(re.search(r'"rtt_us": \d+', r.stdout), r.stdout)


if __name__ == "__main__":
    harness.main()
