"""Pairing found over mDNS: two daemons in two network namespaces joined by
a veth pair (mDNS bound to the veths). `network pair generate` on alice,
`network pair join "<words>"` on bob without --peer: bob's daemon finds
alice through the _sdpair._udp.local advertisement (only the code's
rendezvous identifier is on the wire) and pairs; both then list each other
under `network devices`. Prints the time from `join` to Completed on both
sides.

Skipped (exit 77) without root or `ip netns`."""

import os
import re
import subprocess
import time

import netns

SPACEDRIVE = os.environ.get(
    "SPACEDRIVE", os.path.join(os.path.dirname(os.path.dirname(netns.SDNETD)), "cli",
                               "spacedrive"))
LISTEN = ["--listen", "/ip4/0.0.0.0/tcp/0"]


class PairOverMdns(netns.Case):
    tag = "p"

    def cli(self, d, *args):
        return subprocess.run([SPACEDRIVE, "--instance", d.instance, *args], env=d.env,
                              capture_output=True, text=True, timeout=netns.TIMEOUT * 4)

    def test_generate_and_join_without_peer(self):
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        self.net.veth(ns_a, "mpa0", ns_b, "mpb0")
        self.net.addr(ns_a, "mpa0", "10.204.0.1/24")
        self.net.addr(ns_b, "mpb0", "10.204.0.2/24")
        self.net.up(ns_a, "mpa0")
        self.net.up(ns_b, "mpb0")
        a = self.sdnetd(ns_a, "alice", LISTEN + ["--mdns-interface", "mpa0"])
        b = self.sdnetd(ns_b, "bob", LISTEN + ["--mdns-interface", "mpb0"])
        id_a, id_b = a.call("node.info")["peer_id"], b.call("node.info")["peer_id"]
        ev_a = self.events(a, ["pairing.*"])
        ev_b = self.events(b, ["pairing.*"])

        r = self.cli(a, "network", "pair", "generate", "--expires", "120")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.fullmatch(r"Generated pairing code: ((?:[a-z]+ ){11}[a-z]+)\n"
                         r"Code expires in: 120 seconds\n", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        code = m.group(1)

        t0 = time.monotonic()
        r = self.cli(b, "network", "pair", "join", code)
        t_cli = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Connecting to initiator...\n"
                         "Pairing successful! Device 'alice' added.\n")
        done_b = ev_b.wait("pairing.completed", lambda d: d["role"] == "joiner")
        done_a = ev_a.wait("pairing.completed", lambda d: d["role"] == "initiator")
        t_a = time.monotonic() - t0
        self.assertEqual(done_b["device"]["peer_id"], id_a)
        self.assertEqual(done_a["device"]["peer_id"], id_b)
        # Bob found alice by mDNS (there was no --peer to go by).
        self.assertIn(f"pairing initiator {id_a} found", b.stderr())

        devs_a = a.call("devices.list")["devices"]
        devs_b = b.call("devices.list")["devices"]
        self.assertEqual([(d["name"], d["peer_id"]) for d in devs_a], [("bob", id_b)])
        self.assertEqual([(d["name"], d["peer_id"]) for d in devs_b], [("alice", id_a)])
        r = self.cli(b, "network", "devices")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^alice \(")
        print(f"join -> Completed over mDNS: joiner {done_b['elapsed_ms']} ms "
              f"(CLI {t_cli * 1000:.0f} ms), initiator {done_a['elapsed_ms']} ms after the "
              f"joiner's stream (observed {t_a * 1000:.0f} ms after join)")


if __name__ == "__main__":
    netns.main()
