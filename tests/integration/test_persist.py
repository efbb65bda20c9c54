"""Always-on connections between paired daemons on loopback (issue 6):
the seed's CLI workflow verbatim (pair alice and bob; `spacedrive --instance
alice stop && spacedrive --instance alice start`; `network devices` on alice
shows `bob (connected) - auto-reconnected`), kill -9 of one side (the other
backs off and reconnects when it returns), revoke (no reconnection in either
direction), a copied identity key without the pairing keys (authentication
fails), and key rotation with a side killed at each step of it.

Daemons listen on fixed loopback ports picked at the start, so either side
can dial the other after a restart. Every wait is bounded by
harness.TIMEOUT; polls only look at state, nothing sleeps to pass."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

import harness

SPACEDRIVE = os.environ.get(
    "SPACEDRIVE", os.path.join(os.path.dirname(os.path.dirname(harness.SDNETD)), "cli",
                               "spacedrive"))
# Small intervals so the suite runs in seconds (defaults: 1 s, 30 s, 24 h).
FAST = ["--retry-interval", "200ms", "--keepalive-interval", "2s", "--connection-timeout", "2s"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Persist(harness.Case):
    def setUp(self):
        super().setUp()
        self.ports = {}

    def listen(self, name):
        port = self.ports.setdefault(name, free_port())
        return ["--listen", f"/ip4/127.0.0.1/tcp/{port}"]

    def start(self, name, args=(), env=None):
        return self.daemon(name, self.listen(name) + FAST + list(args), env)

    def restart(self, d, env=None):
        """The same instance again (same data, same port), as a new process."""
        nd = harness.Daemon(self.home, d.instance, d.args, env)
        self.daemons.append(nd)
        return nd.start()

    def cli(self, instance, *args, env=None):
        return subprocess.run([SPACEDRIVE, "--instance", instance, *args],
                              env=env or self.home.env, capture_output=True, text=True,
                              timeout=harness.TIMEOUT * 2)

    def addr(self, d):
        info = d.call("node.info")
        return f"/ip4/127.0.0.1/tcp/{self.ports[d.instance]}/p2p/{info['peer_id']}"

    def pair(self, a, b):
        r = self.cli(a.instance, "network", "pair", "generate", "--expires", "120")
        self.assertEqual(r.returncode, 0, r.stderr)
        code = r.stdout.split("\n")[0].split(": ", 1)[1]
        r = self.cli(b.instance, "network", "pair", "join", code, "--peer", self.addr(a))
        self.assertEqual(r.returncode, 0, r.stderr)

    def device(self, d, name):
        for dev in d.call("devices.list")["devices"]:
            if dev["name"] == name:
                return dev
        return None

    def wait_until(self, what, fn, timeout=harness.TIMEOUT, poll=0.05):
        """Poll fn() (a cheap RPC) until it returns a true value; bounded."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail(f"not within {timeout} s: {what}")
            time.sleep(poll)

    def wait_state(self, d, name, state, timeout=harness.TIMEOUT):
        return self.wait_until(
            f"{d.instance} sees {name} {state}",
            lambda: (lambda x: x if x and x["state"] == state else None)(self.device(d, name)),
            timeout)

    def show(self, d, name):
        return d.call("devices.show", {"device": name})

    def events(self, d):
        c = d.connect()
        c.request("events.subscribe", {"kinds": ["device.*"]})
        return c

    # ------------------------------------------------------------------

    def test_seed_workflow_restart_auto_reconnected(self):
        """The seed's CLI workflow verbatim, with the daemons' options in
        their config files so `spacedrive start` needs none."""
        for name in ("alice", "bob"):
            port = self.ports.setdefault(name, free_port())
            self.home.write(self.home.config_path(name),
                            f"listen = /ip4/127.0.0.1/tcp/{port}\nno-mdns = true\n"
                            "retry-interval = 200ms\n")
        for name in ("alice", "bob"):
            r = self.cli(name, "start")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.before_cleanup.append(lambda name=name: self.cli(name, "stop"))
        alice = harness.Daemon(self.home, "alice")
        bob = harness.Daemon(self.home, "bob")
        self.pair(alice, bob)
        self.wait_state(alice, "bob", "connected")
        self.wait_state(bob, "alice", "connected")
        t0 = time.monotonic()
        r = subprocess.run("spacedrive --instance alice stop && spacedrive --instance alice start",
                           shell=True, env=dict(self.home.env, PATH=os.path.dirname(SPACEDRIVE)
                                                + ":" + self.home.env.get("PATH", "")),
                           capture_output=True, text=True, timeout=harness.TIMEOUT * 2)
        self.assertEqual(r.returncode, 0, r.stderr)
        t_started = time.monotonic()

        def shown():
            out = self.cli("alice", "network", "devices").stdout
            return out if out == "bob (connected) - auto-reconnected\n" else None

        self.wait_until("alice shows 'bob (connected) - auto-reconnected'", shown)
        t_up = time.monotonic()
        print(f"\nreconnect after `alice stop && alice start`: {(t_up - t_started) * 1000:.0f} ms "
              f"after start returned ({(t_up - t0) * 1000:.0f} ms including the restart)")
        self.wait_state(bob, "alice", "connected")
        self.assertTrue(self.device(bob, "alice")["auto_reconnected"])
        # --verbose adds the metrics; --json keeps the promised keys.
        r = self.cli("alice", "network", "devices", "--verbose")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("bob (connected) - auto-reconnected\n", r.stdout)
        self.assertRegex(r.stdout, r"rtt: (\d+\.\d\d ms|-), uptime: \d+ s, reconnects: 1\n")
        r = self.cli("alice", "--json", "network", "devices")
        self.assertEqual(json.loads(r.stdout)[0]["state"], "connected")

    def test_kill9_backoff_then_reconnect(self):
        alice, bob = self.start("alice"), self.start("bob")
        self.pair(alice, bob)
        self.wait_state(alice, "bob", "connected")
        ev = self.events(alice)
        bob.send_signal(signal.SIGKILL)
        bob.wait_exit()
        down = ev.wait_event("device.disconnected")
        self.assertEqual(down["name"], "bob")
        # Backoff: each failed attempt waits longer (1.6x at least: x2
        # nominal with +-20% jitter).
        waits = [ev.wait_event("device.reconnecting")["retry_in_ms"] for _ in range(4)]
        for a, b in zip(waits, waits[1:]):
            self.assertGreaterEqual(b * 1.0, a * 1.6 * 0.8 / 1.2 - 1, waits)
        self.assertLess(waits[0], 300)  # base 200 ms
        dev = self.device(alice, "bob")
        self.assertIn(dev["state"], ("backoff", "connecting"))
        out = self.cli("alice", "network", "devices").stdout
        self.assertRegex(out, r"^bob \((backoff\) - next retry in \d+ s|connecting\) - .*)\n$")
        hist = self.show(alice, "bob")["link"]["history"]
        self.assertIn("failed", [h["kind"] for h in hist])
        # Bob returns on the same port: connected again, as a reconnection.
        t0 = time.monotonic()
        bob2 = self.restart(bob)
        up = ev.wait_event("device.connected")
        print(f"\nreconnect after kill -9 and restart of the peer: "
              f"{(time.monotonic() - t0) * 1000:.0f} ms from its start")
        self.assertTrue(up["reconnected"])
        self.wait_state(alice, "bob", "connected")
        self.wait_state(bob2, "alice", "connected")
        m = alice.call("devices.metrics", {"device": "bob"})["devices"][0]
        self.assertGreaterEqual(m["reconnects"], 1)
        ev.close()

    def test_simultaneous_start_one_connection(self):
        """Both restart at once and dial each other: one connection per
        device, the same one on both sides, authenticated."""
        alice, bob = self.start("alice"), self.start("bob")
        self.pair(alice, bob)
        self.wait_state(alice, "bob", "connected")
        alice.stop()
        bob.stop()
        a2 = harness.Daemon(self.home, "alice", alice.args)
        b2 = harness.Daemon(self.home, "bob", bob.args)
        self.daemons += [a2, b2]
        a2.start(wait=False)
        b2.start(wait=False)
        a2.wait_ready()
        b2.wait_ready()
        self.wait_state(a2, "bob", "connected")
        self.wait_state(b2, "alice", "connected")
        ida, idb = a2.call("node.info")["peer_id"], b2.call("node.info")["peer_id"]

        def one_each():
            pa = [p for p in a2.call("net.peers")["peers"] if p["peer_id"] == idb]
            pb = [p for p in b2.call("net.peers")["peers"] if p["peer_id"] == ida]
            # net.stats counts every established connection, a draining
            # duplicate included: it must come down to one.
            conns = a2.call("net.stats")["conns"], b2.call("net.stats")["conns"]
            if (len(pa) == 1 and len(pb) == 1 and pa[0]["direction"] != pb[0]["direction"]
                    and conns == (1, 1)):
                return pa[0], pb[0]
            return None

        pa, pb = self.wait_until("one connection, the same on both sides", one_each)
        self.assertEqual(pa["local_addr"], pb["remote_addr"])
        self.assertEqual(self.device(a2, "bob")["state"], "connected")

    def test_revoke_no_reconnection_either_way(self):
        alice, bob = self.start("alice"), self.start("bob")
        self.pair(alice, bob)
        self.wait_state(alice, "bob", "connected")
        self.wait_state(bob, "alice", "connected")
        r = self.cli("alice", "network", "device", "revoke", "bob")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Device 'bob' is now revoked.\n")
        self.wait_state(alice, "bob", "disabled")
        # Bob keeps trying (it was not told); alice refuses every time.
        bob_peer = bob.call("node.info")["peer_id"]
        self.wait_until("alice refused bob twice", lambda: [
            h for h in self.show(alice, "bob")["link"]["history"] if h["kind"] == "refused"
        ][1:])
        # A restart of either side changes nothing.
        alice.stop()

        def attempts():
            return len([h for h in self.show(bob, "alice")["link"]["history"]
                        if h["kind"] == "attempt"])

        before = attempts()
        alice2 = self.restart(alice)
        self.wait_until("bob tried again after alice's restart", lambda: attempts() > before)
        # Backing off, not hammering: a handful of attempts, not hundreds.
        self.assertLess(attempts(), 20)
        self.assertEqual(self.device(alice2, "bob")["state"], "disabled")
        self.assertNotEqual(self.device(bob, "alice")["state"], "connected")
        kinds = [h["kind"] for h in self.show(alice2, "bob")["link"]["history"]]
        after = kinds[kinds.index("refused"):]
        self.assertNotIn("attempt", after)  # alice never dials a revoked device
        self.assertNotIn("connected", after)
        peers = [p["peer_id"] for p in alice2.call("net.peers")["peers"]]
        self.assertEqual(peers.count(bob_peer), 0)

    def test_copied_identity_without_pairing_keys(self):
        """Mallory has bob's identity key (a copied data directory) but not
        the pairing keys: alice does not take it for bob."""
        alice, bob = self.start("alice"), self.start("bob")
        self.pair(alice, bob)
        self.wait_state(alice, "bob", "connected")
        bob_peer = bob.call("node.info")["peer_id"]
        bob.stop()
        mdir = self.home.data_dir("mallory")
        shutil.copytree(self.home.data_dir("bob"), mdir)
        for ns in ("devices", "connections", "history", "queue", "dedup"):
            shutil.rmtree(os.path.join(mdir, ns), ignore_errors=True)
        self.ports["mallory"] = self.ports["bob"]  # where alice looks for bob
        mallory = self.start("mallory")
        self.assertEqual(mallory.call("node.info")["peer_id"], bob_peer)
        self.wait_until("alice recorded a failed authentication", lambda: [
            h for h in self.show(alice, "bob")["link"]["history"] if h["kind"] == "auth_failed"
        ])
        fails = [h for h in self.show(alice, "bob")["link"]["history"]
                 if h["kind"] == "auth_failed"]
        self.assertIn("not_paired", fails[0]["reason"])
        self.assertNotEqual(self.device(alice, "bob")["state"], "connected")
        hist = self.show(alice, "bob")["link"]["history"]
        last_connected = max(i for i, h in enumerate(hist) if h["kind"] == "connected")
        last_disc = max(i for i, h in enumerate(hist) if h["kind"] == "disconnected")
        self.assertLess(last_connected, last_disc)  # no connection since bob left

    def rotation_killed_at(self, point):
        env = {"SDNETD_TEST_REKEY_KILL": point}
        args = ["--key-rotation-interval", "1s", "--enable-test-protocols"]
        # Bob joins, so bob dials, authenticates as the opener and proposes
        # rotations; alice accepts them. The kill switch goes to the side
        # that plays the role the point belongs to.
        proposer = point.startswith("proposer")
        alice = self.start("alice", args, None if proposer else env)
        bob = self.start("bob", args, env if proposer else None)
        self.pair(alice, bob)
        dead, alive = (bob, alice) if proposer else (alice, bob)
        self.assertEqual(dead.proc.wait(timeout=harness.TIMEOUT), -signal.SIGKILL)
        self.assertIn(f"killed at rotation point {point}", dead.stderr())
        other = "bob" if dead is alice else "alice"
        back = self.restart(dead)  # without the kill switch
        self.wait_state(back, other, "connected")
        self.wait_state(alive, dead.instance, "connected")
        # Authenticated again; rotation goes on and both sides agree.
        e0 = self.show(alive, dead.instance)["link"]["key_epoch"]

        def agreed():
            x = self.show(alive, dead.instance)["link"]
            y = self.show(back, other)["link"]
            return (x["key_epoch"] == y["key_epoch"] and x["key_epoch"] > e0 and
                    x["state"] == y["state"] == "connected")

        self.wait_until(f"rotation after a kill at {point}", agreed)
        return alive, back

    def test_rotation_kill_accepter_after_store(self):
        self.rotation_killed_at("accepter_stored")

    def test_rotation_kill_proposer_before_store(self):
        self.rotation_killed_at("proposer_before_store")

    def test_rotation_kill_proposer_after_store(self):
        self.rotation_killed_at("proposer_stored")


if __name__ == "__main__":
    harness.main()
