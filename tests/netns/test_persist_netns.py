"""Paired-device connections across a real link (issue 6): two daemons in
two network namespaces joined by a veth pair, mDNS bound to the veths.

- Link down, then up: the keepalive finds the device gone (no frame for
  3.5 intervals), the link backs off; when the link comes back, mDNS finds
  the device again, the backoff resets and it reconnects.
- tc netem 5 % loss and 100 ms delay each way: the connection holds (no
  disconnection over many keepalive rounds), the RTT shows the delay, and
  the device still proves its keys on demand (devices.verify).

Skipped (exit 77) without root or `ip netns`."""

import os
import subprocess
import time

import netns

SPACEDRIVE = os.environ.get(
    "SPACEDRIVE", os.path.join(os.path.dirname(os.path.dirname(netns.SDNETD)), "cli",
                               "spacedrive"))
PORT = 4101
FAST = ["--keepalive-interval", "1s", "--retry-interval", "200ms", "--connection-timeout", "2s"]


class PersistNetns(netns.Case):
    tag = "k"

    def setup_pair(self):
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        self.net.veth(ns_a, "kpa0", ns_b, "kpb0")
        self.net.addr(ns_a, "kpa0", "10.205.0.1/24")
        self.net.addr(ns_b, "kpb0", "10.205.0.2/24")
        self.net.up(ns_a, "kpa0")
        self.net.up(ns_b, "kpb0")
        listen = ["--listen", f"/ip4/0.0.0.0/tcp/{PORT}"]
        a = self.sdnetd(ns_a, "alice", listen + FAST + ["--mdns-interface", "kpa0"])
        b = self.sdnetd(ns_b, "bob", listen + FAST + ["--mdns-interface", "kpb0"])
        r = subprocess.run([SPACEDRIVE,
                            "--instance", "alice", "network", "pair", "generate"],
                           env=a.env, capture_output=True, text=True, timeout=netns.TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        code = r.stdout.split("\n")[0].split(": ", 1)[1]
        peer = a.call("node.info")["peer_id"]
        r = subprocess.run([SPACEDRIVE,
                            "--instance", "bob", "network", "pair", "join", code, "--peer",
                            f"/ip4/10.205.0.1/tcp/{PORT}/p2p/{peer}"],
                           env=b.env, capture_output=True, text=True, timeout=netns.TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_connected(a, "bob")
        self.wait_connected(b, "alice")
        return ns_a, ns_b, a, b

    def state(self, d, name):
        return [x for x in d.call("devices.list")["devices"] if x["name"] == name][0]

    def wait_connected(self, d, name, timeout=netns.TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.state(d, name)["state"] != "connected":
            self.assertLess(time.monotonic(), deadline, f"{name} not connected on {d.instance}")
            time.sleep(0.05)

    def test_link_down_up_reconnects(self):
        ns_a, ns_b, a, b = self.setup_pair()
        ev = self.events(a, ["device.*"])
        netns._ip("link", "set", "kpa0", "down", ns=ns_a)
        t0 = time.monotonic()
        down = ev.wait("device.disconnected", timeout=20)
        print(f"\nlink down: device gone after {(time.monotonic() - t0) * 1000:.0f} ms "
              f"({down['reason']})")
        ev.wait("device.reconnecting")
        self.assertIn(self.state(a, "bob")["state"], ("backoff", "connecting"))
        netns._ip("link", "set", "kpa0", "up", ns=ns_a)
        netns._ip("route", "add", "224.0.0.0/4", "dev", "kpa0", ns=ns_a, check=False)
        t1 = time.monotonic()
        up = ev.wait("device.connected", timeout=netns.TIMEOUT)
        print(f"link up: reconnected after {(time.monotonic() - t1) * 1000:.0f} ms")
        self.assertTrue(up["reconnected"])
        self.wait_connected(b, "alice")

    def test_netem_loss_and_delay_holds(self):
        ns_a, ns_b, a, b = self.setup_pair()
        for ns, ifname in ((ns_a, "kpa0"), (ns_b, "kpb0")):
            r = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", ifname,
                                "root", "netem", "loss", "5%", "delay", "100ms"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                self.skipTest(f"tc netem unavailable: {r.stderr.strip()}")
        ev = self.events(a, ["device.*"])
        # Fifteen keepalive rounds under loss: the connection must hold.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.assertEqual(self.state(a, "bob")["state"], "connected")
            time.sleep(0.5)
        self.assertEqual([k for k, _ in ev.events("device.disconnected")], [])
        # Bob dialed, so bob pings every interval (alice answers).
        m = b.call("devices.metrics", {"device": "alice"})["devices"][0]
        self.assertIsNotNone(m["rtt_ms"])
        self.assertGreaterEqual(m["rtt_ms"], 190)
        v = a.call("devices.verify", {"device": "bob"})
        self.assertTrue(v["verified"])
        print(f"\nnetem 5% loss, 100 ms each way: held 15 s, rtt {m['rtt_ms']} ms, "
              f"verify {v['elapsed_ms']} ms")


if __name__ == "__main__":
    netns.main()
