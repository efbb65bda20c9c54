"""Transfers broken off midway, each in both directions of dial:
  - js closes its stream, resets it, closes the connection (GoAway) or
    aborts it (socket destroyed) while echoing through sdnetd;
  - the js process is killed while sdnetd's test.echo streams to it;
  - sdnetd is shut down (node.shutdown, SIGTERM) while js echoes through it
    or it echoes through js.
js must report an error, sdnetd must stay healthy (node.info answers,
net.peers agrees with js, a fresh echo works both ways, and net.stats drains
to no streams and the right number of connections), and a shut-down sdnetd
exits 0 promptly."""

import signal

import interop
from interop import EXIT_BOUND, MIB, call

AFTER = 4 * MIB        # abort once this much came back
TOTAL = 64 * MIB       # far more than can pass before the abort lands


class JsAborts(interop.Case):
    def healthy_after(self, d, js, ev, sd_id, dropped):
        """The checks after a broken transfer; dropped: whether the
        connection was expected to go."""
        self.assertEqual(call(d, "node.info")["peer_id"], sd_id)
        if dropped:
            ev.wait("net.peer_disconnected", peer_id=js.peer_id)
            js.event("disconnect", peer=sd_id)
            self.assertIsNone(interop.peer_entry(d, js.peer_id))
            self.assertEqual(js.call("peers")["peers"], [])
            self.assert_no_leaks(d, conns=0)
        else:
            self.assertIsNotNone(interop.peer_entry(d, js.peer_id))
            self.assertEqual(js.call("peers")["peers"], [sd_id])
            self.assert_no_leaks(d, conns=1)
        # A fresh echo both ways (js dials again when the connection went).
        js.call("echo", peer=sd_id, streams=4, bytes=256 * 1024)
        r = call(d, "test.echo", {"peer_id": js.peer_id, "streams": 4, "bytes": 256 * 1024})
        self.assertIs(r["ok"], True, r)
        self.assert_no_leaks(d, conns=1)
        js.call("hangup", peer=sd_id)
        # js-libp2p 2.10 closes the socket cleanly without a yamux GoAway:
        # reported as the peer closing, not as a reset.
        down = ev.wait("net.peer_disconnected", peer_id=js.peer_id)
        self.assertEqual(down["reason"], "closed by the peer")
        self.assert_no_leaks(d, conns=0)

    def js_aborts(self, direction, mode):
        d = self.sdnetd()
        js = self.js()
        ev = self.events(d)
        sd_id, _ = self.connect(d, js, direction, ev)
        r = js.call("abort", 60, peer=sd_id, mode=mode, after=AFTER, bytes=TOTAL)
        self.assertIsInstance(r["error"], str, r)
        self.assertNotEqual(r["error"], "")
        print(f"[{direction} dials] js {mode} mid-transfer; js saw: {r['error']}")
        self.healthy_after(d, js, ev, sd_id, dropped=mode in ("goaway", "kill"))

    def js_dies(self, direction):
        """SIGKILL on the js process while sdnetd's test.echo is streaming to
        it: test.echo fails with a message, the connection is gone, nothing
        leaks, and a new js peer works."""
        d = self.sdnetd()
        js = self.js()
        ev = self.events(d)
        self.connect(d, js, direction, ev)
        js.call("watch", bytes=AFTER)
        with d.connect() as c:
            c.sock.settimeout(60)
            c.send({"jsonrpc": "2.0", "id": 1, "method": "test.echo",
                    "params": {"peer_id": js.peer_id, "streams": 1, "bytes": 256 * MIB}})
            js.event("echo-bytes")
            js.kill()
            resp = c.read()
        self.assertEqual(resp["id"], 1)
        if "result" in resp:
            self.assertIs(resp["result"]["ok"], False, resp)
        print(f"[{direction} dials] js killed mid test.echo; sdnetd answered: {resp}")
        ev.wait("net.peer_disconnected", peer_id=js.peer_id)
        self.assert_no_leaks(d, conns=0)
        js2 = self.js("js2")
        sd_id, _ = self.connect(d, js2, direction, ev)
        js2.call("echo", peer=sd_id, streams=2, bytes=MIB)

    def sd_stops(self, direction, how, transfer):
        """sdnetd shut down while js echoes through it (transfer "js") or
        while it echoes through js ("sd"): exit 0 within EXIT_BOUND, and js
        sees the connection close (with an error for its own transfer)."""
        d = self.sdnetd()
        js = self.js()
        sd_id, _ = self.connect(d, js, direction)
        rpc = None
        if transfer == "js":
            rid = js.send("abort", peer=sd_id, mode="notify", after=AFTER, bytes=256 * MIB)
            js.event("abort-point", id=rid)
        else:
            js.call("watch", bytes=AFTER)
            rpc = d.connect()
            self.closers.append(rpc.close)
            rpc.send({"jsonrpc": "2.0", "id": 1, "method": "test.echo",
                      "params": {"peer_id": js.peer_id, "streams": 1, "bytes": 256 * MIB}})
            js.event("echo-bytes")
        if how == "rpc":
            self.assertEqual(call(d, "node.shutdown"), {"stopping": True})
        else:
            d.send_signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(timeout=EXIT_BOUND), 0)
        js.event("disconnect", peer=sd_id)
        if transfer == "js":
            r = js.reply(rid)
            self.assertTrue(r["ok"], r)
            self.assertIsInstance(r["error"], str, r)
            self.assertNotEqual(r["error"], "")
            print(f"[{direction} dials] sdnetd stopped ({how}) mid js echo; js saw: "
                  f"{r['error']}")
        self.assertEqual(js.call("peers")["peers"], [])

    def test_js_dies_sd_dials(self):
        self.js_dies("sd")

    def test_js_dies_js_dials(self):
        self.js_dies("js")


def _add(name, fn, *args):
    setattr(JsAborts, name, lambda self: fn(self, *args))


for _dir in ("sd", "js"):
    for _mode in ("close", "reset", "goaway", "kill"):
        _add(f"test_js_{_mode}_{_dir}_dials", JsAborts.js_aborts, _dir, _mode)
    _add(f"test_sdnetd_shutdown_rpc_{_dir}_dials", JsAborts.sd_stops, _dir, "rpc", "js")
    _add(f"test_sdnetd_sigterm_{_dir}_dials", JsAborts.sd_stops, _dir, "sigterm", "js")
    _add(f"test_sdnetd_sigterm_during_its_echo_{_dir}_dials", JsAborts.sd_stops, _dir,
         "sigterm", "sd")

if __name__ == "__main__":
    interop.main()
