"""Paired devices across a real link (issue 6, "Tests: network namespaces
where devices are involved"): alice and bob in two network namespaces
joined by a veth pair, mDNS bound to the veths, every connection crossing
it. The scenarios tests/integration runs on loopback, here between
namespaces:

- The seed's CLI workflow verbatim: both daemons started with
  `spacedrive start` inside their namespaces (options in their config
  files), paired with the CLI, then
  `spacedrive --instance alice stop && spacedrive --instance alice start`
  in alice's namespace; `spacedrive --instance alice network devices`
  shows `bob (connected) - auto-reconnected` within a bounded wait.
- kill -9 of bob: alice sees him go, backs off (device.reconnecting with
  growing retry_in_ms, state backoff/connecting in devices.list and the
  CLI) and reconnects when he is started again.
- Revoke on alice: bob keeps dialing and is refused every time; alice never
  dials him, before or after a restart (history and counters, watched over
  several of bob's attempts).
- 1,000 durable messages sent by alice while bob is down arrive once each,
  in priority order, at an app on bob that acks them (messages.ack); the
  same with alice killed (SIGKILL) in the middle of the delivery and
  restarted.

Prints the figures the issue asks for: reconnect time after a restart and
after a kill -9, durable messages per second across the link.

Skipped (exit 77) without root or `ip netns`. Every wait is bounded;
polls only look at state, nothing sleeps to pass."""

import collections
import os
import signal
import subprocess
import time

import netns  # first: it puts tests/integration on sys.path

import devices_helpers as dh  # noqa: E402
import harness  # noqa: E402

PORT = 4102
IF_A, IF_B = "dva0", "dvb0"
IP_A, IP_B = "10.207.0.1", "10.207.0.2"
# Small intervals so the file runs in seconds (defaults: 1 s, 30 s, 10 s).
FAST = {"retry-interval": "200ms", "keepalive-interval": "2s", "connection-timeout": "2s"}
PRIOS = ("low", "high", "normal")
N_DURABLE = 1000
PROTO = "test/devices-netns"


class DevicesNetns(netns.Case):
    tag = "v"

    # ---- setup ----------------------------------------------------------------

    def link(self):
        """Namespaces a and b joined by a veth pair, up, with addresses."""
        self.ns_a, self.ns_b = self.net.ns("a"), self.net.ns("b")
        self.net.veth(self.ns_a, IF_A, self.ns_b, IF_B)
        self.net.addr(self.ns_a, IF_A, f"{IP_A}/24")
        self.net.addr(self.ns_b, IF_B, f"{IP_B}/24")
        self.net.up(self.ns_a, IF_A)
        self.net.up(self.ns_b, IF_B)

    def args(self, ifname):
        return ["--listen", f"/ip4/0.0.0.0/tcp/{PORT}", "--mdns-interface", ifname] + [
            x for k, v in FAST.items() for x in (f"--{k}", v)]

    def start_pair(self):
        """alice in a, bob in b, paired over the veth, connected both ways."""
        self.link()
        a = self.sdnetd(self.ns_a, "alice", self.args(IF_A))
        b = self.sdnetd(self.ns_b, "bob", self.args(IF_B))
        self.pair(a, b)
        return a, b

    def restart(self, d, ns):
        """The same instance (same data, same options) as a new process in ns."""
        return self.sdnetd(ns, d.instance, d.args)

    def pair(self, a, b):
        peer = a.call("node.info")["peer_id"]
        dh.pair(a, b, f"/ip4/{IP_A}/tcp/{PORT}/p2p/{peer}")
        dh.wait_connected(a, "bob")
        dh.wait_connected(b, "alice")

    def history(self, d, name):
        return dh.link(d, name)["history"]

    def counters(self, d, name):
        return d.call("devices.show", {"device": name})["link"]["counters"]

    def state(self, d, name):
        return (dh.device(d, name) or {}).get("state")

    # ---- the seed's CLI workflow ----------------------------------------------

    def cli_env(self):
        env = {k: v for k, v in self.home.env.items() if k != "NOTIFY_SOCKET"}
        env["PATH"] = os.path.dirname(dh.SPACEDRIVE) + ":" + env.get("PATH", "")
        return env

    def in_ns(self, ns, shell):
        """A shell command line run inside ns with the test's home."""
        return subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", shell], env=self.cli_env(),
                              capture_output=True, text=True, timeout=netns.TIMEOUT * 2)

    def cli_start(self, ns, name):
        """`spacedrive --instance NAME start` inside ns. Whichever daemon
        runs the instance when the test ends is stopped with the CLI, and
        killed by pid if it is still there (before the home, and the
        socket with it, goes)."""
        d = harness.Daemon(self.home, name)

        def stop():
            try:
                pid = d.call("node.status")["pid"]
            except (OSError, AssertionError, EOFError, ValueError):
                return
            dh.cli(d, "stop")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.closers.append(stop)
        r = self.in_ns(ns, f"spacedrive --instance {name} start")
        self.assertEqual(r.returncode, 0, r.stderr)
        return d

    def test_seed_cli_workflow_auto_reconnected(self):
        self.link()
        for name, ifname in (("alice", IF_A), ("bob", IF_B)):
            self.home.write(self.home.config_path(name),
                            f"listen = /ip4/0.0.0.0/tcp/{PORT}\nmdns-interface = {ifname}\n" +
                            "".join(f"{k} = {v}\n" for k, v in FAST.items()))
        alice, bob = self.cli_start(self.ns_a, "alice"), self.cli_start(self.ns_b, "bob")
        self.pair(alice, bob)
        # The daemons really run in their namespaces: alice reaches bob
        # over the veth.
        bob_peer = bob.call("node.info")["peer_id"]
        conns = [p for p in alice.call("net.peers")["peers"] if p["peer_id"] == bob_peer]
        self.assertTrue(conns and f"/ip4/{IP_B}/" in conns[0]["remote_addr"], conns)
        t0 = time.monotonic()
        r = self.in_ns(self.ns_a,
                       "spacedrive --instance alice stop && spacedrive --instance alice start")
        self.assertEqual(r.returncode, 0, r.stderr)
        t_started = time.monotonic()

        def shown():
            out = dh.cli(alice, "network", "devices").stdout
            return out if out == "bob (connected) - auto-reconnected\n" else None

        dh.wait_until("alice shows 'bob (connected) - auto-reconnected'", shown)
        t_up = time.monotonic()
        print(f"\nveth, `alice stop && alice start` in alice's namespace: bob shown "
              f"'connected - auto-reconnected' {(t_up - t_started) * 1000:.0f} ms after start "
              f"returned ({(t_up - t0) * 1000:.0f} ms including the restart)")
        dh.wait_connected(bob, "alice")
        self.assertTrue(dh.device(bob, "alice")["auto_reconnected"])
        self.assertGreaterEqual(dh.metrics(alice, "bob")["reconnects"], 1)

    # ---- kill -9 ----------------------------------------------------------------

    def test_kill9_backoff_then_reconnect(self):
        a, b = self.start_pair()
        ev = self.events(a, ["device.*"])
        b.send_signal(signal.SIGKILL)
        b.wait_exit()
        t_kill = time.monotonic()
        down = ev.wait("device.disconnected")
        self.assertEqual(down["name"], "bob")
        # Backoff with jitter: x2 nominal, +-20 %, from the 200 ms base.
        waits = [ev.wait("device.reconnecting", lambda d: d["name"] == "bob")["retry_in_ms"]
                 for _ in range(4)]
        self.assertLess(waits[0], 300, waits)
        for x, y in zip(waits, waits[1:]):
            self.assertGreaterEqual(y, x * 2 * 0.8 / 1.2 - 1, waits)
        self.assertIn(self.state(a, "bob"), ("backoff", "connecting"))
        out = dh.cli(a, "network", "devices").stdout
        self.assertRegex(out, r"^bob \((backoff\) - next retry in \d+ s|connecting\) - .*)\n$")
        self.assertIn("failed", [h["kind"] for h in self.history(a, "bob")])
        self.assertEqual(ev.events("device.connected"), [])
        t0 = time.monotonic()
        b2 = self.restart(b, self.ns_b)
        t_ready = time.monotonic()
        up = ev.wait("device.connected", lambda d: d["name"] == "bob")
        t_up = time.monotonic()
        self.assertTrue(up["reconnected"])
        dh.wait_connected(a, "bob")
        dh.wait_connected(b2, "alice")
        self.assertGreaterEqual(dh.metrics(a, "bob")["reconnects"], 1)
        print(f"\nveth, bob kill -9'd: alice backed off {waits} ms over "
              f"{(t0 - t_kill):.1f} s; reconnected {(t_up - t0) * 1000:.0f} ms after bob's "
              f"start ({(t_up - t_ready) * 1000:.0f} ms after READY=1)")

    # ---- revoke ------------------------------------------------------------------

    def test_revoke_no_reconnection_either_way(self):
        a, b = self.start_pair()
        r = dh.cli(a, "network", "device", "revoke", "bob")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Device 'bob' is now revoked.\n")
        dh.wait_until("alice shows bob disabled", lambda: self.state(a, "bob") == "disabled")
        dh.wait_until("bob lost alice", lambda: self.state(b, "alice") != "connected")
        bob_peer = b.call("node.info")["peer_id"]

        def attempts_b():
            return self.counters(b, "alice")["attempts"]

        def refused_a(d):
            return [h for h in self.history(d, "bob") if h["kind"] == "refused"]

        # Watch alice over several of bob's dials (alice records at most one
        # refusal a second): bob keeps trying over the veth, every dial is
        # refused, alice makes none.
        ev = self.events(a, ["device.*"])
        att_a0, att_b0 = self.counters(a, "bob")["attempts"], attempts_b()
        n_ref0 = len(refused_a(a))
        dh.wait_until("alice refused bob twice more and bob dialed 3 times more",
                      lambda: len(refused_a(a)) >= n_ref0 + 2 and attempts_b() >= att_b0 + 3)
        self.assertEqual(self.counters(a, "bob")["attempts"], att_a0)
        self.assertEqual([e for e in ev.events() if e[1].get("name") == "bob" and e[0] in (
            "device.connected", "device.reconnecting")], [])
        self.assertEqual(self.state(a, "bob"), "disabled")
        self.assertNotEqual(self.state(b, "alice"), "connected")
        # A restart of alice changes nothing: bob dials again, refused.
        a.stop()
        a2 = self.restart(a, self.ns_a)
        ev2 = self.events(a2, ["device.*"])
        n_ref1, att_b1 = len(refused_a(a2)), attempts_b()
        dh.wait_until("bob dialed the restarted alice and was refused",
                      lambda: attempts_b() > att_b1 and len(refused_a(a2)) > n_ref1)
        self.assertEqual(self.state(a2, "bob"), "disabled")
        self.assertNotEqual(self.state(b, "alice"), "connected")
        kinds = [h["kind"] for h in self.history(a2, "bob")]
        after = kinds[kinds.index("refused"):]
        self.assertNotIn("attempt", after, "alice dialed a revoked device")
        self.assertNotIn("connected", after)
        self.assertEqual([e for e in ev2.events() if e[0] in (
            "device.connected", "device.reconnecting")], [])
        self.assertEqual([p for p in a2.call("net.peers")["peers"]
                          if p["peer_id"] == bob_peer], [])
        # Backing off, not hammering.
        self.assertLess(attempts_b() - att_b0, 20)
        print(f"\nveth, revoked: bob dialed {attempts_b() - att_b0} times, alice refused "
              f"every one and dialed none")

    # ---- 1,000 durable messages while bob is down -------------------------------

    def send_durable(self, d, to, n):
        """n durable messages "0".."n-1", priorities cycling low/high/normal."""
        with d.connect() as c:
            for i in range(n):
                r = c.request("messages.send", {"device": to, "protocol": PROTO,
                                                "payload": dh.b64(str(i)), "durable": True,
                                                "priority": PRIOS[i % len(PRIOS)]})
                self.assertTrue(r.get("result", {}).get("queued"), r)

    def queue_files(self, d):
        path = os.path.join(self.home.data_dir(d.instance), "queue")
        return [f for f in os.listdir(path) if not f.startswith(".")]

    def queue_of(self, d, name):
        for dev in d.call("messages.status")["devices"]:
            if dev.get("device_name") == name:
                return dev
        return None

    def assert_once_in_priority_order(self, app, n):
        got = list(app.got)
        order = [int(dh.unb64(m["payload"])) for m in got]
        dup = [p for p, k in collections.Counter(order).items() if k > 1]
        self.assertEqual(dup, [], "a message arrived more than once")
        self.assertEqual(sorted(order), list(range(n)), "each message exactly once")
        want = [i for p in ("high", "normal", "low") for i in range(n) if PRIOS[i % 3] == p]
        self.assertEqual(order, want, "not in priority order")
        self.assertEqual(len({m["message_id"] for m in got}), n)
        for m in got:
            self.assertTrue(m["durable"])
            self.assertFalse(m["redelivered"])  # bob never restarted with them unacked
            self.assertEqual(m["device_name"], "alice")
            self.assertEqual(m["priority"], PRIOS[int(dh.unb64(m["payload"])) % 3])

    def durable_while_bob_down(self):
        """Pair, stop bob, queue N_DURABLE at alice, start bob with an acking
        app: (alice, bob, app, seconds to store)."""
        a, b = self.start_pair()
        b.stop()
        dh.wait_until("alice sees bob gone", lambda: self.state(a, "bob") != "connected")
        t0 = time.monotonic()
        self.send_durable(a, "bob", N_DURABLE)
        store_s = time.monotonic() - t0
        q = self.queue_of(a, "bob")
        self.assertEqual((q["durable"], q["connected"]), (N_DURABLE, False))
        self.assertEqual(len(self.queue_files(a)), N_DURABLE)
        b = self.restart(b, self.ns_b)
        app = dh.Inbox(b, PROTO, ack=True)
        self.closers.append(app.close)
        return a, b, app, store_s

    def wait_delivered(self, a, b, app, n):
        """Until the app has n messages, all acked, and alice holds none."""
        app.wait_count(n, lambda: app.acked >= n and (self.queue_of(a, "bob") or {
            "durable": 1})["durable"] == 0 and self.queue_of(b, "alice")["inbox"] == 0)

    def test_durable_while_peer_down(self):
        a, b, app, store_s = self.durable_while_bob_down()
        t0 = time.monotonic()
        dh.wait_until("first message", lambda: app.count() > 0, poll=0.005)
        t_first = time.monotonic()
        self.wait_delivered(a, b, app, N_DURABLE)
        t_done = time.monotonic()
        self.assert_once_in_priority_order(app, N_DURABLE)
        self.assertEqual(self.queue_files(a), [])
        print(f"\nveth, {N_DURABLE} durable messages queued while bob was down "
              f"(stored in {store_s:.2f} s): first arrived {(t_first - t0) * 1000:.0f} ms after "
              f"bob's app registered, all delivered and acked in {t_done - t_first:.2f} s "
              f"({N_DURABLE / (t_done - t_first):.0f} messages/s)")

    def test_durable_sender_killed_mid_delivery(self):
        a, b, app, _ = self.durable_while_bob_down()
        dh.wait_until("delivery started", lambda: app.count() > 0, poll=0.002)
        a.send_signal(signal.SIGKILL)
        a.wait_exit()
        shown = app.count()
        left = len(self.queue_files(a))
        self.assertGreater(left, 0, "the delivery was over before the kill")
        self.assertLess(shown, N_DURABLE)
        t0 = time.monotonic()
        a = self.restart(a, self.ns_a)
        self.wait_delivered(a, b, app, N_DURABLE)
        elapsed = time.monotonic() - t0
        self.assert_once_in_priority_order(app, N_DURABLE)
        self.assertEqual(self.queue_files(a), [])
        dup = self.queue_of(b, "alice")["duplicates"]
        print(f"\nveth, alice kill -9'd after bob's app had {shown} of {N_DURABLE}: "
              f"{left} left on her disk, all {N_DURABLE} handled once each "
              f"{elapsed:.2f} s after her restart ({dup} resent ones acknowledged again by "
              f"bob without handling)")


if __name__ == "__main__":
    netns.main()
