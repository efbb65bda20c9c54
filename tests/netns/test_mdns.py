"""Live mDNS discovery between two sdnetd daemons in two network
namespaces joined by a veth pair, mDNS bound to the veths
(--mdns-interface): each daemon reports the other (discovery.peer_found,
both ways), and a listen address that appears later is announced
(discovery.peer_updated), as is one that goes away and, at a clean stop,
the whole peer (goodbyes).

The veth is created only after both daemons run and the test is subscribed
to their events, so no discovery can happen before the test listens; it
also shows that a named interface that does not exist yet is picked up
when it appears."""

import netns

LISTEN = ["--listen", "/ip4/0.0.0.0/tcp/0"]


def has_addr(prefix):
    return lambda d: any(a.startswith(prefix) for a in d["addrs"])


class TwoDaemons(netns.Case):
    tag = "m"

    def test_discover_both_ways_and_reannounce(self):
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        a = self.sdnetd(ns_a, "alice", LISTEN + ["--mdns-interface", "mda0"])
        b = self.sdnetd(ns_b, "bob", LISTEN + ["--mdns-interface", "mdb0"])
        id_a, id_b = a.call("node.info")["peer_id"], b.call("node.info")["peer_id"]
        ev_a, ev_b = self.events(a), self.events(b)

        self.net.veth(ns_a, "mda0", ns_b, "mdb0")
        self.net.addr(ns_a, "mda0", "10.201.0.1/24")
        self.net.addr(ns_b, "mdb0", "10.201.0.2/24")
        self.net.up(ns_a, "mda0")
        self.net.up(ns_b, "mdb0")

        # Each finds the other on its veth, at the other's veth address
        # (0.0.0.0 expanded to the interface's address, loopback left out).
        found_b = ev_a.wait("discovery.peer_found", lambda d: d["peer_id"] == id_b,
                            what=f"discovery.peer_found for bob ({id_b})")
        found_a = ev_b.wait("discovery.peer_found", lambda d: d["peer_id"] == id_a,
                            what=f"discovery.peer_found for alice ({id_a})")
        self.assertEqual(found_b["interface"], "mda0")
        self.assertEqual(found_a["interface"], "mdb0")
        port_a = found_a["addrs"][0].rsplit("/", 1)[1]
        self.assertEqual(found_a["addrs"], [f"/ip4/10.201.0.1/tcp/{port_a}"])
        self.assertTrue(found_b["addrs"][0].startswith("/ip4/10.201.0.2/tcp/"), found_b)

        # A second address on alice's veth: alice re-announces, bob hears
        # both addresses.
        self.net.addr(ns_a, "mda0", "10.201.0.11/24")
        upd = ev_b.wait("discovery.peer_updated",
                        lambda d: d["peer_id"] == id_a and has_addr("/ip4/10.201.0.11/")(d),
                        what="bob hearing alice's new address")
        self.assertEqual(sorted(upd["addrs"]), [f"/ip4/10.201.0.1/tcp/{port_a}",
                                                f"/ip4/10.201.0.11/tcp/{port_a}"])
        self.assertEqual(upd["interface"], "mdb0")

        # And when it goes, alice's goodbye takes it out of bob's view.
        self.net.addr(ns_a, "mda0", "10.201.0.11/24", add=False)
        gone = ev_b.wait("discovery.peer_updated",
                         lambda d: d["peer_id"] == id_a and not has_addr("/ip4/10.201.0.11/")(d),
                         what="bob dropping alice's withdrawn address")
        self.assertEqual(gone["addrs"], [f"/ip4/10.201.0.1/tcp/{port_a}"])

        # The found peers are dialable where they were announced.
        r = a.rpc("net.connect", {"addr": f"{found_b['addrs'][0]}/p2p/{id_b}"})
        self.assertIn("result", r, r)

        # A clean stop says goodbye: bob drops alice at once instead of
        # when her records' 120 s TTL runs out.
        self.assertEqual(a.stop(), 0)
        gone = ev_b.wait("discovery.peer_expired", lambda d: d["peer_id"] == id_a,
                         timeout=10, what="bob dropping alice after her goodbye")
        self.assertEqual(gone, {"peer_id": id_a, "addrs": [], "interface": "mdb0"})
        self.assertEqual(b.stop(), 0)

    def test_no_mdns_sends_nothing(self):
        """--no-mdns: a daemon next to a live one is never found, and finds
        nothing, while the live one keeps querying."""
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        self.net.veth(ns_a, "mda0", ns_b, "mdb0")
        self.net.addr(ns_a, "mda0", "10.202.0.1/24")
        self.net.addr(ns_b, "mdb0", "10.202.0.2/24")
        self.net.up(ns_a, "mda0")
        self.net.up(ns_b, "mdb0")
        quiet = self.sdnetd(ns_b, "quiet", LISTEN + ["--no-mdns"])
        a = self.sdnetd(ns_a, "alice", LISTEN + ["--mdns-interface", "mda0"])
        ev_a = self.events(a)
        # A third daemon that does run mDNS next to the quiet one, so
        # alice has something to find: proof the link carries mDNS.
        c = self.sdnetd(ns_b, "carol", LISTEN + ["--mdns-interface", "mdb0"])
        id_c = c.call("node.info")["peer_id"]
        id_q = quiet.call("node.info")["peer_id"]
        ev_a.wait("discovery.peer_found", lambda d: d["peer_id"] == id_c,
                  what="alice finding carol")
        # Alice has queried and carol has answered, after the quiet daemon
        # (started first) would have answered alice's first query.
        self.assertFalse([d for k, d in ev_a.events("discovery.")
                          if d["peer_id"] == id_q])
        self.assertNotIn("mDNS on", quiet.stderr())

if __name__ == "__main__":
    netns.main()
