"""Connection and stream accounting between two real sdnetd processes: after
traffic (connect, pings both ways, test.echo over many streams, disconnect)
net.stats on both sides shows every connection and stream it opened closed
again, and at shutdown each daemon logs one line with the lifetime totals
("connections: N opened, N closed; streams: N opened, N closed") that
balance and agree with net.stats read just before the stop. A daemon
stopped while still connected balances too (its shutdown closes
everything first)."""

import re
import time

import harness

ARGS = ["--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "--enable-test-protocols"]
TOTALS = re.compile(r"connections: (\d+) opened, (\d+) closed; streams: (\d+) opened, "
                    r"(\d+) closed")


def totals_line(d):
    """The (conns opened, closed, streams opened, closed) of the shutdown
    log line; exactly one such line."""
    found = TOTALS.findall(d.stderr() + d.stdout())
    if len(found) != 1:
        raise AssertionError(f"expected one totals line, found {found}: {d.stderr()}")
    return tuple(int(x) for x in found[0])


def lifetime(st):
    return (st["conns_opened"], st["conns_closed"], st["streams_opened"],
            st["streams_closed"])


class Accounting(harness.Case):
    def setUp(self):
        super().setUp()
        self.a = self.daemon("alice", args=ARGS)
        self.b = self.daemon("bob", args=ARGS)
        self.a_id = self.a.call("node.info")["peer_id"]
        b_info = self.b.call("node.info")
        self.b_id = b_info["peer_id"]
        self.b_addr = b_info["listen_addrs"][0]

    def subscribe(self, d):
        c = d.connect()
        r = c.request("events.subscribe", {"kinds": ["net.*"]})
        self.assertTrue(r["result"]["subscribed"])
        self.addCleanup(c.close)
        return c

    def settled_stats(self, d):
        """net.stats once nothing is alive any more (closing is finished
        from the loop, a moment after the disconnect event)."""
        deadline = time.monotonic() + harness.TIMEOUT
        while True:
            st = d.call("net.stats")
            if st["conns_current"] == 0 and st["streams_current"] == 0:
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"net.stats never settled: {st}")
            time.sleep(0.05)  # polls look at state only

    def traffic(self):
        ev_a = self.subscribe(self.a)
        ev_b = self.subscribe(self.b)
        self.a.call("net.connect", {"addr": self.b_addr})
        for ev in (ev_a, ev_b):
            ev.wait_event("net.peer_identified")
        r = self.a.call("net.ping", {"target": self.b_id, "count": 3, "interval_ms": 10})
        self.assertEqual(len(r["rtts_us"]), 3)
        r = self.b.call("net.ping", {"target": self.a_id, "count": 2, "interval_ms": 10})
        self.assertEqual(len(r["rtts_us"]), 2)
        r = self.a.call("test.echo", {"peer_id": self.b_id, "streams": 16, "bytes": 100000})
        self.assertEqual((r["ok"], r["streams_ok"]), (True, 16), r)
        r = self.b.call("test.echo", {"peer_id": self.a_id, "streams": 4, "bytes": 5000})
        self.assertEqual((r["ok"], r["streams_ok"]), (True, 4), r)
        return ev_a, ev_b

    def test_balanced_after_disconnect_and_at_shutdown(self):
        ev_a, ev_b = self.traffic()
        self.assertEqual(self.a.call("net.disconnect", {"peer_id": self.b_id}),
                         {"disconnected": 1})
        self.assertEqual(ev_a.wait_event("net.peer_disconnected")["peer_id"], self.b_id)
        self.assertEqual(ev_b.wait_event("net.peer_disconnected")["peer_id"], self.a_id)
        before = {}
        for d in (self.a, self.b):
            st = self.settled_stats(d)
            self.assertEqual(st["conns_opened"], st["conns_closed"], st)
            self.assertEqual(st["streams_opened"], st["streams_closed"], st)
            self.assertEqual((st["conns"], st["streams"], st["handshaking"]), (0, 0, 0))
            self.assertGreaterEqual(st["conns_opened"], 1)
            # identify, 2 pings, 20 echo streams at least, on either side
            self.assertGreaterEqual(st["streams_opened"], 23, st)
            before[d.instance] = lifetime(st)
        for d in (self.a, self.b):
            self.assertEqual(d.stop(), 0)
            line = totals_line(d)
            self.assertEqual(line, before[d.instance])
            self.assertEqual(line[0], line[1])
            self.assertEqual(line[2], line[3])

    def test_balanced_when_stopped_while_connected(self):
        ev_a, ev_b = self.traffic()
        st = self.a.call("net.stats")
        self.assertEqual(st["conns_current"], 1)
        self.assertEqual(self.a.stop(), 0)
        conns_opened, conns_closed, streams_opened, streams_closed = totals_line(self.a)
        self.assertEqual(conns_opened, conns_closed)
        self.assertEqual(streams_opened, streams_closed)
        self.assertGreaterEqual(streams_opened, st["streams_opened"])
        # bob saw an orderly end (GoAway, then FIN) and balances too.
        down = ev_b.wait_event("net.peer_disconnected")
        self.assertEqual((down["peer_id"], down["reason"]), (self.a_id, "closed"))
        st = self.settled_stats(self.b)
        self.assertEqual(lifetime(st)[0], lifetime(st)[1])
        self.assertEqual(self.b.stop(), 0)
        self.assertEqual(totals_line(self.b), lifetime(st))


if __name__ == "__main__":
    harness.main()
