"""DeviceMessages between two paired daemons on loopback (issue 6,
"Messages"), driven over the control socket and the CLI: a request answered
by a local app's handler (`network message listen --echo` and
`network message send`), an Error for a protocol nobody handles, a handler
unregistered when its app disconnects, and durable delivery: 1,000 durable
messages sent while the peer is down arrive once each, in priority order,
after it comes back; the same with the sender killed (SIGKILL) in the middle
of the delivery and restarted.

Daemons listen on fixed loopback ports so either side can dial the other
after a restart. Every wait is bounded by harness.TIMEOUT; polls only look
at state, nothing sleeps to pass."""

import base64
import json
import os
import signal
import socket
import subprocess
import threading
import time

import harness

SPACEDRIVE = os.environ.get(
    "SPACEDRIVE", os.path.join(os.path.dirname(os.path.dirname(harness.SDNETD)), "cli",
                               "spacedrive"))
FAST = ["--no-mdns", "--retry-interval", "200ms", "--connection-timeout", "2s"]
PRIOS = ("low", "high", "normal")
N_DURABLE = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


class Inbox:
    """A local app: registers protocol on its own connection and collects
    message.received events from a reader thread."""

    def __init__(self, daemon, protocol):
        self.conn = daemon.connect()
        r = self.conn.request("handlers.register", {"protocol": protocol})
        if "result" not in r:
            raise AssertionError(f"handlers.register: {r}")
        self.got = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            while True:
                m = self.conn.read()
                if m.get("method") == "event" and m["params"]["kind"] == "message.received":
                    with self.lock:
                        self.got.append(m["params"]["data"])
        except (OSError, EOFError, ValueError):
            pass

    def count(self):
        with self.lock:
            return len(self.got)

    def close(self):
        self.conn.close()
        self.thread.join(timeout=harness.TIMEOUT)


class Messages(harness.Case):
    def setUp(self):
        super().setUp()
        self.ports = {"alice": free_port(), "bob": free_port()}
        self.alice = self.start("alice")
        self.bob = self.start("bob")
        self.pair(self.alice, self.bob)
        self.wait_connected(self.alice, "bob")
        self.wait_connected(self.bob, "alice")

    # ---- helpers ------------------------------------------------------------

    def start(self, name):
        args = ["--listen", f"/ip4/127.0.0.1/tcp/{self.ports[name]}", *FAST]
        return self.daemon(name, args)

    def restart(self, d):
        nd = harness.Daemon(self.home, d.instance, d.args)
        self.daemons.append(nd)
        return nd.start()

    def cli(self, instance, *args):
        return subprocess.run([SPACEDRIVE, "--instance", instance, *args], env=self.home.env,
                              capture_output=True, text=True, timeout=harness.TIMEOUT * 2)

    def pair(self, a, b):
        ev = a.connect()
        self.addCleanup(ev.close)
        ev.request("events.subscribe", {"kinds": ["pairing.completed"]})
        code = a.call("pairing.generate")["code"]
        info = a.call("node.info")
        addr = f"/ip4/127.0.0.1/tcp/{self.ports[a.instance]}/p2p/{info['peer_id']}"
        b.call("pairing.join", {"code": code, "peer": addr})
        ev.wait_event("pairing.completed")

    def wait_until(self, what, fn, timeout=harness.TIMEOUT * 2, poll=0.05):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail(f"not within {timeout} s: {what}")
            time.sleep(poll)

    def device_state(self, d, name):
        for dev in d.call("devices.list")["devices"]:
            if dev["name"] == name:
                return dev["state"]
        return None

    def wait_connected(self, d, name):
        self.wait_until(f"{d.instance} sees {name} connected",
                        lambda: self.device_state(d, name) == "connected")

    def queue_of(self, d, name):
        """messages.status of d for the device called name."""
        for dev in d.call("messages.status")["devices"]:
            if dev.get("device_name") == name:
                return dev
        return None

    def queue_files(self, d):
        path = os.path.join(self.home.data_dir(d.instance), "queue")
        return [f for f in os.listdir(path) if not f.startswith(".")]

    def send_durable(self, d, to, n):
        """n durable messages "0".."n-1", priorities cycling low/high/normal."""
        with d.connect() as c:
            for i in range(n):
                r = c.request("messages.send", {"device": to, "protocol": "test/durable",
                                                "payload": b64(str(i)), "durable": True,
                                                "priority": PRIOS[i % 3]})
                self.assertTrue(r["result"]["queued"], r)

    def assert_priority_order(self, got, n):
        order = [int(unb64(m["payload"])) for m in got]
        self.assertEqual(len(order), n, "each message exactly once")
        self.assertEqual(sorted(order), list(range(n)))
        want = [i for p in ("high", "normal", "low") for i in range(n) if PRIOS[i % 3] == p]
        self.assertEqual(order, want)
        for m in got:
            self.assertTrue(m["durable"])
            self.assertEqual(m["device_name"], "alice")
            self.assertEqual(m["priority"], PRIOS[int(unb64(m["payload"])) % 3])

    # ---- tests ----------------------------------------------------------------

    def test_send_reply_through_cli_handler(self):
        listen = subprocess.Popen([SPACEDRIVE, "--instance", "bob", "--json", "network",
                                   "message", "listen", "test/echo", "--echo", "--count", "1"],
                                  env=self.home.env, stdout=subprocess.PIPE, text=True)
        self.addCleanup(listen.stdout.close)
        self.addCleanup(listen.kill)
        self.assertEqual(json.loads(listen.stdout.readline()), {"listening": "test/echo"})
        r = self.cli("alice", "network", "message", "send", "bob", "test/echo", "hello there",
                     "--priority", "high")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "hello there\n")
        got = json.loads(listen.stdout.readline())
        self.assertEqual(listen.wait(timeout=harness.TIMEOUT), 0)
        self.assertEqual(unb64(got["payload"]), "hello there")
        self.assertEqual((got["protocol"], got["device_name"], got["priority"]),
                         ("test/echo", "alice", "high"))
        self.assertTrue(got["needs_reply"])
        self.assertFalse(got["durable"])
        # The JSON answer carries the reply and its round trip.
        bob_id = self.alice.call("devices.list")["devices"][0]["device_id"]
        with self.bob.connect() as h:
            h.request("handlers.register", {"protocol": "test/json"})
            c = self.alice.connect()
            self.addCleanup(c.close)
            c.send({"jsonrpc": "2.0", "id": 7, "method": "messages.send",
                    "params": {"device": "bob", "protocol": "test/json", "payload": b64("q"),
                               "metadata": {"k": "v"}}})
            ev = h.wait_event("message.received")
            self.assertEqual(ev["metadata"], {"k": "v"})
            h.request("messages.reply", {"message_id": ev["message_id"], "payload": b64("a"),
                                         "metadata": {"x": "y"}})
            res = c.read()["result"]
            self.assertEqual((res["message_id"], res["device_id"]), (ev["message_id"], bob_id))
            self.assertEqual((unb64(res["payload"]), res["metadata"]), ("a", {"x": "y"}))
            # Answered once: a second reply is refused.
            r = h.request("messages.reply", {"message_id": ev["message_id"], "payload": ""})
            self.assertEqual(r["error"]["code"], -32001)

    def test_unknown_protocol_gets_error(self):
        r = self.alice.rpc("messages.send", {"device": "bob", "protocol": "nobody/1",
                                             "payload": b64("anyone?"), "timeout_ms": 10000})
        self.assertEqual(r["error"]["code"], -32006, r)
        self.assertEqual(r["error"]["data"]["reason"], "no_handler")
        self.assertIn("no handler for protocol 'nobody/1'", r["error"]["message"])
        r = self.cli("alice", "network", "message", "send", "bob", "nobody/1", "hi")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ERROR_NO_HANDLER", r.stderr)
        # Not a paired device: not found, nothing sent.
        r = self.alice.rpc("messages.send", {"device": "carol", "protocol": "x",
                                             "payload": ""})
        self.assertEqual(r["error"]["code"], -32001, r)

    def test_handler_disconnect_unregisters(self):
        app = self.bob.connect()
        self.assertTrue(app.request("handlers.register", {"protocol": "app/1"})["result"])
        # Taken: another app cannot have it while the first is connected.
        r = self.bob.rpc("handlers.register", {"protocol": "app/1"})
        self.assertEqual(r["error"]["code"], -32007, r)
        self.assertIn("app/1", self.bob.call("messages.status")["handlers"])
        r = self.alice.call("messages.send", {"device": "bob", "protocol": "app/1",
                                              "payload": b64("one"), "expect_reply": False})
        self.assertTrue(r["queued"])
        self.assertEqual(unb64(app.wait_event("message.received")["payload"]), "one")
        app.close()
        self.wait_until("app/1 unregistered",
                        lambda: "app/1" not in self.bob.call("messages.status")["handlers"])
        r = self.alice.rpc("messages.send", {"device": "bob", "protocol": "app/1",
                                             "payload": b64("two"), "timeout_ms": 10000})
        self.assertEqual(r["error"]["data"]["reason"], "no_handler", r)
        # Free again for the next app.
        self.assertTrue(self.bob.call("handlers.register", {"protocol": "app/1"})["registered"])

    def test_durable_while_peer_down(self):
        self.bob.stop()
        t0 = time.monotonic()
        self.send_durable(self.alice, "bob", N_DURABLE)
        store_s = time.monotonic() - t0
        q = self.queue_of(self.alice, "bob")
        self.assertEqual((q["durable"], q["connected"]), (N_DURABLE, False))
        self.assertEqual(len(self.queue_files(self.alice)), N_DURABLE)
        r = self.cli("alice", "network", "message", "send", "bob", "test/durable", "late",
                     "--durable")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("queued durable message", r.stdout)
        # Bob returns; its app registers as soon as it can (messages that
        # arrive before are deferred by bob and resent by alice, in order).
        self.bob = self.restart(self.bob)
        app = Inbox(self.bob, "test/durable")
        self.addCleanup(app.close)
        t1 = time.monotonic()
        self.wait_until("every durable message delivered",
                        lambda: app.count() >= N_DURABLE + 1
                        and self.queue_of(self.alice, "bob")["durable"] == 0)
        deliver_s = time.monotonic() - t1
        got = [m for m in app.got if unb64(m["payload"]) != "late"]
        self.assertEqual(len(app.got), N_DURABLE + 1)
        self.assert_priority_order(got, N_DURABLE)
        self.assertEqual(self.queue_files(self.alice), [])
        print(f"\n{N_DURABLE} durable messages: stored in {store_s:.2f} s, "
              f"delivered in {deliver_s:.2f} s after the app registered")

    def test_durable_sender_killed_mid_delivery(self):
        self.bob.stop()
        self.send_durable(self.alice, "bob", N_DURABLE)
        self.bob = self.restart(self.bob)
        app = Inbox(self.bob, "test/durable")
        self.addCleanup(app.close)
        self.wait_until("delivery started", lambda: app.count() > 0, poll=0.001)
        self.alice.kill()  # SIGKILL, mid-delivery
        left = len(self.queue_files(self.alice))
        self.alice = self.restart(self.alice)
        self.wait_until("every durable message delivered",
                        lambda: app.count() >= N_DURABLE
                        and (self.queue_of(self.alice, "bob") or {"durable": 1})["durable"] == 0)
        self.assert_priority_order(list(app.got), N_DURABLE)
        self.assertEqual(self.queue_files(self.alice), [])
        dup = self.queue_of(self.bob, "alice")["duplicates"]
        print(f"\nkilled with {left} messages unacknowledged on disk; "
              f"{dup} resent ones acknowledged again without handling")


if __name__ == "__main__":
    harness.main()
