"""A key rotation under message load loses nothing (issue 6, "Tests"): two
paired daemons on loopback rotate their device keys every second
(--key-rotation-interval 1s, the minimum) while alice sends a steady stream
of requests (answered by an app on bob) and durable messages to bob. The
stream runs until at least two rotations have happened on both sides, then
every message must have arrived exactly once, every request must have had
its own reply, no connection may have dropped, and both sides must end on
the same key epoch.

Every wait is bounded by harness.TIMEOUT; polls only look at state,
nothing sleeps to pass."""

import collections
import time

import devices_helpers as dh
import harness

FAST = ["--no-mdns", "--retry-interval", "200ms", "--connection-timeout", "2s",
        "--key-rotation-interval", "1s"]
ROTATIONS = 2


class RotationLoad(harness.Case):
    def setUp(self):
        super().setUp()
        self.ports = {"alice": dh.free_port(), "bob": dh.free_port()}
        self.alice = self.start("alice")
        self.bob = self.start("bob")
        # Bob joins, so bob dials, authenticates as the opener and proposes
        # the rotations; alice accepts them.
        info = self.alice.call("node.info")
        addr = f"/ip4/127.0.0.1/tcp/{self.ports['alice']}/p2p/{info['peer_id']}"
        dh.pair(self.alice, self.bob, addr)
        dh.wait_connected(self.alice, "bob", harness.TIMEOUT * 2)
        dh.wait_connected(self.bob, "alice", harness.TIMEOUT * 2)

    def start(self, name):
        return self.daemon(name, ["--listen", f"/ip4/127.0.0.1/tcp/{self.ports[name]}", *FAST])

    def link(self, d, name):
        return dh.link(d, name)

    def wait_until(self, what, fn, timeout=harness.TIMEOUT * 2):
        return dh.wait_until(what, fn, timeout)

    def test_rotation_under_load_loses_nothing(self):
        ev = self.alice.connect()
        self.addCleanup(ev.close)
        ev.request("events.subscribe", {"kinds": ["device.*"]})
        app = dh.Inbox(self.bob, "test/rekey")
        self.addCleanup(app.close)
        e0 = self.link(self.alice, "bob")["key_epoch"]
        sent = []
        t0 = time.monotonic()
        deadline = t0 + harness.TIMEOUT * 3
        with self.alice.connect() as c:
            i = 0
            while True:
                # Two requests (each waits for its reply) and one durable
                # message per round, so both kinds cross every rotation.
                for kind in ("r", "r", "d"):
                    p = f"{kind}{i}"
                    i += 1
                    params = {"device": "bob", "protocol": "test/rekey", "payload": dh.b64(p)}
                    if kind == "d":
                        params["durable"] = True
                    r = c.request("messages.send", params)
                    self.assertIn("result", r, f"{p}: {r}")
                    if kind == "r":
                        self.assertEqual(dh.unb64(r["result"]["payload"]), f"ack {p}")
                    else:
                        self.assertTrue(r["result"]["queued"], r)
                    sent.append(p)
                if i % 60 == 0:
                    ea = self.link(self.alice, "bob")["key_epoch"]
                    eb = self.link(self.bob, "alice")["key_epoch"]
                    if min(ea, eb) >= e0 + ROTATIONS:
                        break
                    self.assertLess(time.monotonic(), deadline,
                                    f"fewer than {ROTATIONS} rotations (epochs {ea}, {eb})")
        send_s = time.monotonic() - t0
        self.wait_until("every message delivered",
                        lambda: app.count() >= len(sent) and
                        dh.durable_left(self.alice, "bob") == 0)
        got = app.payloads()
        dup = [p for p, n in collections.Counter(got).items() if n > 1]
        self.assertEqual(dup, [], "a message arrived more than once")
        self.assertEqual(sorted(got), sorted(sent), "each message exactly once")

        def agreed():
            x, y = self.link(self.alice, "bob"), self.link(self.bob, "alice")
            ok = (x["key_epoch"] == y["key_epoch"] and x["state"] == y["state"] == "connected")
            return x["key_epoch"] if ok else None

        epoch = self.wait_until("both sides on the same epoch", agreed)
        self.assertGreaterEqual(epoch, e0 + ROTATIONS)
        # The rotations happened on the live connection: no disconnection.
        self.assertEqual(dh.disconnections(ev), [])
        n_d = sum(1 for p in sent if p[0] == "d")
        print(f"\n{len(sent)} messages ({len(sent) - n_d} request/reply, {n_d} durable) "
              f"across epochs {e0}..{epoch} in {send_s:.1f} s: each arrived once")


if __name__ == "__main__":
    harness.main()
