"""mDNS interop with js-libp2p: sdnetd and a js-libp2p node running
@libp2p/mdns (tests/interop/mdns-peer.mjs) in two network namespaces joined
by a veth pair find each other: sdnetd reports a discovery.peer_found for
the js node at its veth address, js emits peer:discovery for sdnetd with
sdnetd's address, and sdnetd can dial what it found.

Skipped (exit 77) without root / `ip netns`, or when the js dependencies
were never installed."""

import os

import netns
from netns import interop

LISTEN = ["--listen", "/ip4/0.0.0.0/tcp/0"]
MDNS_PEER = os.path.join(interop.HERE, "mdns-peer.mjs")


class WithJs(netns.Case):
    tag = "j"

    def test_discovery_both_ways(self):
        ns_sd, ns_js = self.net.ns("s"), self.net.ns("j")
        self.net.veth(ns_sd, "mds0", ns_js, "mdj0")
        self.net.addr(ns_sd, "mds0", "10.203.0.1/24")
        self.net.addr(ns_js, "mdj0", "10.203.0.2/24")
        self.net.up(ns_sd, "mds0")
        self.net.up(ns_js, "mdj0")
        d = self.sdnetd(ns_sd, "alice", LISTEN + ["--mdns-interface", "mds0"])
        sd_id = d.call("node.info")["peer_id"]
        ev = self.events(d)
        js = self.js(ns_js, MDNS_PEER)

        # sdnetd finds js at its veth address only (js also announces
        # 127.0.0.1, which is dropped).
        found = ev.wait("discovery.peer_found", lambda x: x["peer_id"] == js.peer_id,
                        what=f"discovery.peer_found for js ({js.peer_id})")
        self.assertEqual(found["interface"], "mds0")
        self.assertEqual(len(found["addrs"]), 1, found)
        self.assertRegex(found["addrs"][0], r"^/ip4/10\.203\.0\.2/tcp/\d+$")
        js_port = js.addrs[0].split("/")[4]  # js listens on 0.0.0.0/tcp/<port>
        self.assertEqual(found["addrs"], [f"/ip4/10.203.0.2/tcp/{js_port}"])

        # js finds sdnetd, with the address sdnetd announced on the veth.
        disc = js.event("discovered", peerId=sd_id)
        sd_port = d.call("node.info")["listen_addrs"][0].split("/")[4]
        self.assertEqual(disc["addrs"], [f"/ip4/10.203.0.1/tcp/{sd_port}"])

        # And what sdnetd found is dialable: a full libp2p connection.
        r = d.rpc("net.connect", {"addr": f"{found['addrs'][0]}/p2p/{js.peer_id}"})
        self.assertIn("result", r, r)


if __name__ == "__main__":
    interop.skip_without_node()
    netns.main()
