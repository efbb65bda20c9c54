"""libp2p between two real sdnetd processes on loopback, driven over the
control socket: net.connect by multiaddr, net.peers on both sides with what
identify told them, net.ping, net.disconnect, the net.* events on an
events.subscribe connection (every wait bounded by the harness timeout),
and the errors: a wrong /p2p/ ID names both IDs, a closed port is refused,
a peer ID we are not connected to is not found. Also test.echo, served only
with --enable-test-protocols."""

import subprocess

import harness

LISTEN = ["--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"]
IDENTIFY = "/ipfs/id/1.0.0"
PUSH = "/ipfs/id/push/1.0.0"
PING = "/ipfs/ping/1.0.0"
ECHO = "/sdnetd-test/echo/1.0.0"
# A valid peer ID that neither daemon has (from js-libp2p's test keys).
STRANGER = "12D3KooWHjxnw69AHLK2MRcbDfvkYZbHnwXFNhiniWZTK2eJM9bz"


def version():
    out = subprocess.run([harness.SDNETD, "--version"], capture_output=True, text=True,
                         timeout=harness.TIMEOUT).stdout
    return out.split()[1]


class Net(harness.Case):
    def setUp(self):
        super().setUp()
        self.a = self.daemon("alice", args=LISTEN)
        self.b = self.daemon("bob", args=LISTEN)
        self.a_info = self.a.call("node.info")
        self.b_info = self.b.call("node.info")
        self.a_id = self.a_info["peer_id"]
        self.b_id = self.b_info["peer_id"]

    def subscribe(self, d):
        c = d.connect()
        r = c.request("events.subscribe", {"kinds": ["net.*"]})
        self.assertTrue(r["result"]["subscribed"])
        self.addCleanup(c.close)
        return c

    def test_listen_addrs_in_node_info(self):
        addrs = self.b_info["listen_addrs"]
        self.assertEqual(len(addrs), 1)
        self.assertRegex(addrs[0], r"^/ip4/127\.0\.0\.1/tcp/[1-9][0-9]*/p2p/" + self.b_id + "$")

    def test_connect_peers_ping_disconnect(self):
        ev_a = self.subscribe(self.a)
        ev_b = self.subscribe(self.b)
        addr = self.b_info["listen_addrs"][0]
        bare = addr.split("/p2p/")[0]

        conn = self.a.call("net.connect", {"addr": addr})
        self.assertEqual(conn["peer_id"], self.b_id)
        self.assertEqual(conn["direction"], "outbound")
        self.assertEqual(conn["transport"], "tcp")
        self.assertEqual(conn["remote_addr"], bare)

        # Events on both sides, in the order they happen.
        up = ev_a.wait_event("net.peer_connected")
        self.assertEqual((up["peer_id"], up["direction"], up["remote_addr"]),
                         (self.b_id, "outbound", bare))
        up = ev_b.wait_event("net.peer_connected")
        self.assertEqual((up["peer_id"], up["direction"]), (self.a_id, "inbound"))
        agent = "sdnetd/" + version()
        for ev, peer in ((ev_a, self.b_id), (ev_b, self.a_id)):
            ident = ev.wait_event("net.peer_identified")
            self.assertEqual(ident["peer_id"], peer)
            self.assertEqual(ident["agent_version"], agent)
            self.assertTrue({IDENTIFY, PUSH, PING} <= set(ident["protocols"]))
            self.assertTrue(ident["has_signed_record"])
            self.assertFalse(ident["push"])

        # Each lists the other with what identify said.
        for d, peer, info, direction in ((self.a, self.b_id, self.b_info, "outbound"),
                                         (self.b, self.a_id, self.a_info, "inbound")):
            peers = d.call("net.peers")["peers"]
            self.assertEqual([p["peer_id"] for p in peers], [peer])
            p = peers[0]
            self.assertEqual(p["direction"], direction)
            self.assertEqual(p["transport"], "tcp")
            self.assertEqual(p["agent_version"], agent)
            self.assertEqual(p["protocol_version"], "ipfs/0.1.0")
            self.assertTrue({IDENTIFY, PUSH, PING} <= set(p["protocols"]))
            self.assertNotIn(ECHO, p["protocols"])  # not without the test option
            self.assertEqual(p["listen_addrs"], [a.split("/p2p/")[0]
                                                 for a in info["listen_addrs"]])
            self.assertEqual(p["observed_addr"], p["local_addr"])
            self.assertTrue(p["has_signed_record"])
            self.assertEqual(p["connections"], 1)
            self.assertGreaterEqual(p["connected_ms"], 0)
            self.assertGreater(p["bytes_in"], 0)

        # Ping by peer ID: three rounds, each also an event.
        r = self.a.call("net.ping", {"target": self.b_id, "count": 3, "interval_ms": 20,
                                     "tag": "it"})
        self.assertEqual(r["peer_id"], self.b_id)
        self.assertEqual(len(r["rtts_us"]), 3)
        self.assertTrue(all(isinstance(x, int) and x > 0 for x in r["rtts_us"]))
        self.assertAlmostEqual(r["rtt_ms_avg"], sum(r["rtts_us"]) / 3 / 1000, places=3)
        seqs = []
        for _ in range(3):
            e = ev_a.wait_event("net.ping_rtt")
            self.assertEqual((e["peer_id"], e["tag"]), (self.b_id, "it"))
            seqs.append((e["seq"], e["rtt_us"]))
        self.assertEqual(seqs, list(zip([1, 2, 3], r["rtts_us"])))
        # net.peers now shows our ping's RTT.
        rtt = self.a.call("net.peers")["peers"][0]["rtt_ms"]
        self.assertAlmostEqual(rtt, r["rtts_us"][-1] / 1000, places=3)

        # Disconnect: both sides hear of it.
        self.assertEqual(self.a.call("net.disconnect", {"peer_id": self.b_id}),
                         {"disconnected": 1})
        down = ev_a.wait_event("net.peer_disconnected")
        self.assertEqual((down["peer_id"], down["reason"]), (self.b_id, "closed"))
        self.assertFalse(down["still_connected"])
        down = ev_b.wait_event("net.peer_disconnected")
        self.assertEqual(down["peer_id"], self.a_id)
        self.assertEqual(self.a.call("net.peers"), {"peers": []})
        # Not connected any more: a second disconnect closes nothing.
        self.assertEqual(self.a.call("net.disconnect", {"peer_id": self.b_id}),
                         {"disconnected": 0})

    def test_ping_by_multiaddr_dials_first(self):
        r = self.a.call("net.ping", {"target": self.b_info["listen_addrs"][0]})
        self.assertEqual(r["peer_id"], self.b_id)
        self.assertEqual(len(r["rtts_us"]), 1)
        self.assertEqual([p["peer_id"] for p in self.a.call("net.peers")["peers"]], [self.b_id])

    def test_wrong_peer_id_names_both(self):
        bare = self.b_info["listen_addrs"][0].split("/p2p/")[0]
        resp = self.a.rpc("net.connect", {"addr": bare + "/p2p/" + STRANGER})
        err = resp["error"]
        self.assertEqual(err["code"], -32006)
        self.assertEqual(err["data"]["reason"], "peer_id_mismatch")
        self.assertIn(STRANGER, err["message"])
        self.assertIn(self.b_id, err["message"])
        self.assertEqual(self.a.call("net.peers"), {"peers": []})

    def test_errors(self):
        bare = self.b_info["listen_addrs"][0].split("/p2p/")[0]
        port = int(bare.split("/")[4])
        self.assertEqual(self.b.stop(), 0)  # nothing listens there now
        resp = self.a.rpc("net.connect", {"addr": "/ip4/127.0.0.1/tcp/%d" % port})
        self.assertEqual(resp["error"]["code"], -32006)
        self.assertEqual(resp["error"]["data"]["reason"], "refused")
        self.assertIn("refused", resp["error"]["message"])
        cases = [
            ("net.connect", {"addr": "/ip4/1.2.3.4/tpc/1"}, -32602, "tpc"),
            ("net.connect", {"addr": "/ip4/127.0.0.1/udp/1/quic-v1"}, -32602, "/tcp/"),
            ("net.connect", {}, -32602, "addr"),
            ("net.disconnect", {"peer_id": "nope"}, -32602, "peer_id"),
            ("net.ping", {"target": self.b_id}, -32001, "not connected to " + self.b_id),
            ("net.ping", {"target": self.b_id, "count": 0}, -32602, "count"),
            ("net.ping", {"target": self.b_id, "count": 101}, -32602, "count"),
            ("net.ping", {"target": self.b_id, "interval_ms": -1}, -32602, "interval_ms"),
        ]
        for method, params, code, text in cases:
            resp = self.a.rpc(method, params)
            self.assertEqual(resp["error"]["code"], code, (method, params, resp))
            self.assertIn(text, resp["error"]["message"], (method, params))

    def test_test_methods_absent_without_option(self):
        resp = self.a.rpc("test.echo", {"peer_id": self.b_id, "streams": 1, "bytes": 1})
        self.assertEqual(resp["error"]["code"], -32601)
        doc = self.a.call("rpc.discover")
        self.assertIn("test.", doc["x-optional-prefixes"])
        names = {m["name"] for m in doc["methods"]}
        self.assertTrue({"net.connect", "net.disconnect", "net.ping", "net.peers",
                         "net.stats", "test.echo"} <= names)

    def test_stats(self):
        self.a.call("net.connect", {"addr": self.b_info["listen_addrs"][0]})
        st = self.a.call("net.stats")
        self.assertEqual(st["conns"], 1)
        self.assertEqual(st["dials"], 1)
        self.assertEqual(st["limits"]["max_conns"], 256)
        self.assertEqual(st["limits"]["max_streams_per_conn"], 512)
        self.assertEqual(self.b.call("net.stats")["inbound_accepted"], 1)

    def test_peer_stopping_is_seen(self):
        ev_a = self.subscribe(self.a)
        self.a.call("net.connect", {"addr": self.b_info["listen_addrs"][0]})
        ev_a.wait_event("net.peer_connected")
        self.assertEqual(self.b.stop(), 0)
        down = ev_a.wait_event("net.peer_disconnected")
        self.assertEqual(down["peer_id"], self.b_id)

    def test_client_gone_mid_ping(self):
        self.a.call("net.connect", {"addr": self.b_info["listen_addrs"][0]})
        c = self.a.connect()
        c.send({"jsonrpc": "2.0", "id": 1, "method": "net.ping",
                "params": {"target": self.b_id, "count": 100, "interval_ms": 1000}})
        c.close()  # the daemon stops the ping; nothing leaks (ASan builds check)
        self.assertEqual(self.a.call("net.peers")["peers"][0]["peer_id"], self.b_id)
        self.assertEqual(self.a.stop(), 0)

    def test_shutdown_answers_pending_calls(self):
        ev_b = self.subscribe(self.b)
        self.a.call("net.connect", {"addr": self.b_info["listen_addrs"][0]})
        with self.a.connect() as c:
            c.send({"jsonrpc": "2.0", "id": 7, "method": "net.ping",
                    "params": {"target": self.b_id, "count": 100, "interval_ms": 1000}})
            # The first round's event shows the call is running.
            c.request("events.subscribe", {"kinds": ["net.ping_rtt"]})
            c.wait_event("net.ping_rtt")
            self.assertEqual(self.a.call("node.shutdown"), {"stopping": True})
            while True:
                m = c.read()
                if m.get("id") == 7:
                    break
        self.assertEqual(m["error"]["code"], -32004)
        self.assertIn("stopping", m["error"]["message"])
        self.assertEqual(self.a.wait_exit(), 0)
        # Bob saw an orderly end: GoAway, then FIN, with a ping stream open.
        down = ev_b.wait_event("net.peer_disconnected")
        self.assertEqual((down["peer_id"], down["reason"]), (self.a_id, "closed"))
        self.assertEqual(self.b.call("net.peers"), {"peers": []})


class TestProtocols(harness.Case):
    def test_echo(self):
        args = LISTEN + ["--enable-test-protocols"]
        a = self.daemon("alice", args=args)
        b = self.daemon("bob", args=args)
        b_info = b.call("node.info")
        a.call("net.connect", {"addr": b_info["listen_addrs"][0]})
        r = a.call("test.echo", {"peer_id": b_info["peer_id"], "streams": 20,
                                 "bytes": 200000})
        self.assertEqual((r["ok"], r["streams"], r["streams_ok"], r["bytes"], r["error"]),
                         (True, 20, 20, 200000, None))
        peers = a.call("net.peers")["peers"]
        self.assertIn(ECHO, peers[0]["protocols"])
        # A protocol the peer does not speak: a result saying so, not a hang.
        r = a.call("test.echo", {"peer_id": b_info["peer_id"], "streams": 2, "bytes": 10,
                                 "protocol": "/nobody/1.0.0"})
        self.assertFalse(r["ok"])
        self.assertIn("does not speak it", r["error"])
        resp = a.rpc("test.echo", {"peer_id": b_info["peer_id"], "streams": 1001,
                                   "bytes": 1})
        self.assertEqual(resp["error"]["code"], -32602)
        self.assertIn("test protocols enabled", a.stderr() + a.stdout())


if __name__ == "__main__":
    harness.main()
