"""DeviceMessages between two paired daemons on loopback (issue 6,
"Messages"), driven over the control socket and the CLI: a request answered
by a local app's handler (`network message listen --echo` and
`network message send`), an Error for a protocol nobody handles, a handler
unregistered when its app disconnects, and durable delivery: 1,000 durable
messages sent while the peer is down arrive once each, in priority order,
after it comes back; the same with the sender killed (SIGKILL) in the middle
of the delivery and restarted. The receiver's inbox: a durable message an app
was shown but did not acknowledge (messages.ack) is shown again, marked
redelivered, after the receiver is killed and restarted, and an acknowledged
one never is; 1,000 durable messages reach an acking app with no message
lost and none shown twice unless marked redelivered, while the receiver is
killed again and again; devices.forget deletes the device's queue, dedup
and inbox records.

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


class AckApp:
    """A local app for durable messages on its own connection: collects
    every message.received in order and, with ack, handles them one at a
    time like an app with a database would: "commit" the message, call
    messages.ack, and take the next one once the ack is answered. Answered
    acks are collected in acked."""

    def __init__(self, daemon, protocol, ack=True):
        self.conn = daemon.connect()
        r = self.conn.request("handlers.register", {"protocol": protocol})
        if "result" not in r:
            raise AssertionError(f"handlers.register: {r}")
        self.events = []
        self.acked = set()
        self.errors = []
        self.cond = threading.Condition()
        self.next_id = 1000
        self.closed = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        if ack:
            self.worker = threading.Thread(target=self.work, daemon=True)
            self.worker.start()

    def send_ack(self, message_id):
        with self.cond:
            self.next_id += 1
            self.conn.send({"jsonrpc": "2.0", "id": self.next_id, "method": "messages.ack",
                            "params": {"message_id": message_id}})

    def run(self):
        try:
            while True:
                m = self.conn.read()
                with self.cond:
                    if m.get("method") == "event" and \
                            m["params"]["kind"] == "message.received":
                        self.events.append(m["params"]["data"])
                    elif "result" in m and m["result"].get("acked"):
                        self.acked.add(m["result"]["message_id"])
                    elif "error" in m:
                        self.errors.append(m["error"])
                    self.cond.notify_all()
        except (OSError, EOFError, ValueError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def work(self):
        done = 0
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.closed or len(self.events) > done)
                if self.closed:
                    return
                mid = self.events[done]["message_id"]
            try:
                self.send_ack(mid)
            except OSError:
                return
            with self.cond:
                self.cond.wait_for(lambda: self.closed or mid in self.acked or self.errors)
            done += 1

    def count(self):
        with self.cond:
            return len(self.events)

    def acked_count(self):
        with self.cond:
            return len(self.acked)

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

    def tearDown(self):
        # A clean exit, so a sanitizer build also checks for leaks (the
        # harness fails the test on any finding in the logs).
        for d in self.daemons:
            if d.proc and d.proc.poll() is None:
                d.stop()
        super().tearDown()

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

    def send_durable(self, d, to, n, protocol="test/durable", prios=PRIOS, first=0):
        """n durable messages "first".."first+n-1", priorities cycling
        low/high/normal unless prios says otherwise."""
        with d.connect() as c:
            for i in range(first, first + n):
                r = c.request("messages.send", {"device": to, "protocol": protocol,
                                                "payload": b64(str(i)), "durable": True,
                                                "priority": prios[i % len(prios)]})
                self.assertTrue(r["result"]["queued"], r)

    def store_files(self, d, ns):
        path = os.path.join(self.home.data_dir(d.instance), ns)
        return sorted(f for f in os.listdir(path) if not f.startswith("."))

    def inbox_of(self, d, name):
        q = self.queue_of(d, name)
        return q["inbox"] if q else None

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

    def test_cli_listener_acks_durable_messages(self):
        def listen(count):
            p = subprocess.Popen([SPACEDRIVE, "--instance", "bob", "--json", "network", "message",
                                  "listen", "test/cli-durable", "--count", str(count)],
                                 env=self.home.env, stdout=subprocess.PIPE, text=True)
            self.addCleanup(p.stdout.close)
            self.addCleanup(p.kill)
            self.assertEqual(json.loads(p.stdout.readline()), {"listening": "test/cli-durable"})
            return p

        first = listen(2)
        self.send_durable(self.alice, "bob", 2, protocol="test/cli-durable")
        got = [json.loads(first.stdout.readline()) for _ in range(2)]
        self.assertEqual(first.wait(timeout=harness.TIMEOUT), 0)
        self.assertEqual(sorted(unb64(m["payload"]) for m in got), ["0", "1"])
        self.assertTrue(all(m["durable"] and not m["redelivered"] for m in got))
        # Printed and acked: the inbox empties, and the next listener sees
        # only the new message, not the two again.
        self.wait_until("bob's inbox empty", lambda: self.inbox_of(self.bob, "alice") == 0)
        second = listen(1)
        self.send_durable(self.alice, "bob", 1, protocol="test/cli-durable", first=2)
        again = json.loads(second.stdout.readline())
        self.assertEqual(second.wait(timeout=harness.TIMEOUT), 0)
        self.assertEqual((unb64(again["payload"]), again["redelivered"]), ("2", False))

    def test_ack_then_close_at_once_is_kept(self):
        """An app that acks and closes without reading the answers: its
        acks were sent, so they count (the daemon reads what is left in the
        socket even when writing to the gone client fails first)."""
        for rnd in range(4):
            c = self.bob.connect()
            c.request("handlers.register", {"protocol": "test/ack-close"})
            self.send_durable(self.alice, "bob", 2, protocol="test/ack-close", first=2 * rnd)
            seen = []
            while len(seen) < 2:
                m = c.read()
                if m.get("method") == "event" and m["params"]["kind"] == "message.received":
                    data = m["params"]["data"]
                    seen.append((unb64(data["payload"]), data["redelivered"]))
                    c.send({"jsonrpc": "2.0", "id": 100 + len(seen), "method": "messages.ack",
                            "params": {"message_id": data["message_id"]}})
            c.close()
            self.assertEqual(sorted(seen), [(str(2 * rnd), False), (str(2 * rnd + 1), False)])
            self.wait_until(f"round {rnd}: bob's inbox empty",
                            lambda: self.inbox_of(self.bob, "alice") == 0)

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

    # ---- the receiver's inbox -------------------------------------------------

    def test_inbox_redelivers_unacked_after_receiver_killed(self):
        app = AckApp(self.bob, "test/inbox", ack=False)
        self.send_durable(self.alice, "bob", 10, protocol="test/inbox", prios=("normal",))
        self.wait_until("bob was shown all 10 and acknowledged them to alice",
                        lambda: app.count() == 10
                        and self.queue_of(self.alice, "bob")["durable"] == 0)
        first = list(app.events)
        self.assertEqual([unb64(e["payload"]) for e in first], [str(i) for i in range(10)])
        for e in first:
            self.assertTrue(e["durable"])
            self.assertFalse(e["redelivered"])
        self.assertEqual(self.inbox_of(self.bob, "alice"), 10)
        self.assertTrue(self.store_files(self.bob, "inbox"))
        # The app commits and acknowledges the first four only.
        for e in first[:4]:
            app.send_ack(e["message_id"])
        self.wait_until("four acks answered", lambda: app.acked_count() == 4)
        self.assertEqual(self.inbox_of(self.bob, "alice"), 6)
        # Someone else's ack is refused: only a handler of the protocol may.
        r = self.bob.rpc("messages.ack", {"message_id": first[5]["message_id"]})
        self.assertEqual(r["error"]["code"], -32001, r)
        r = self.bob.rpc("messages.ack", {"message_id": "zz"})
        self.assertEqual(r["error"]["code"], -32602, r)
        # Killed after showing the rest, before the app acknowledged them.
        self.bob.kill()
        app.close()
        self.bob = self.restart(self.bob)
        app2 = AckApp(self.bob, "test/inbox", ack=False)
        self.addCleanup(app2.close)
        self.wait_until("the six unacknowledged shown again", lambda: app2.count() >= 6)
        # Acknowledge them, then nothing else may still come.
        for e in list(app2.events):
            app2.send_ack(e["message_id"])
        self.wait_until("six acks answered", lambda: app2.acked_count() >= 6)
        self.wait_until("bob's inbox empty", lambda: self.inbox_of(self.bob, "alice") == 0)
        again = list(app2.events)
        self.assertEqual([e["message_id"] for e in again],
                         [e["message_id"] for e in first[4:]])
        self.assertEqual([unb64(e["payload"]) for e in again], [str(i) for i in range(4, 10)])
        for e in again:
            self.assertTrue(e["redelivered"])
            self.assertTrue(e["durable"])
        self.assertEqual(app2.errors, [])
        self.assertEqual(self.store_files(self.bob, "inbox"), [])
        # Alice never had to send anything again: bob had them on disk.
        self.assertEqual(self.queue_files(self.alice), [])

    def test_inbox_exactly_once_with_receiver_killed_repeatedly(self):
        n = N_DURABLE
        self.bob.stop()
        self.send_durable(self.alice, "bob", n, protocol="test/inbox", prios=("normal",))
        seen = []  # every message.received over every app, in order
        apps = []

        def start_bob():
            self.bob = self.restart(self.bob)
            app = AckApp(self.bob, "test/inbox")
            apps.append(app)
            self.addCleanup(app.close)
            return app

        app = start_bob()
        kills = 0
        for k in range(3):
            # Kill while the messages arrive, then while they are being
            # acknowledged.
            if k == 0:
                self.wait_until("a quarter shown", lambda: app.count() >= n // 4, poll=0.001)
            else:
                self.wait_until("the app acknowledged some",
                                lambda: app.acked_count() >= n // 10, poll=0.001)
            self.bob.kill()
            kills += 1
            app.close()
            seen.extend(app.events)
            app = start_bob()

        def done():
            got = {e["payload"] for e in seen + list(app.events)}
            q = self.queue_of(self.alice, "bob")
            return len(got) == n and q and q["durable"] == 0 \
                and self.inbox_of(self.bob, "alice") == 0
        self.wait_until("every message acknowledged by the app", done)
        self.wait_until("the last app's acks answered",
                        lambda: app.acked_count() == len({e["message_id"] for e in app.events}))
        seen.extend(app.events)
        payloads = [int(unb64(e["payload"])) for e in seen]
        self.assertEqual(sorted(set(payloads)), list(range(n)), "nothing lost")
        # Shown more than once only when marked redelivered (the app was
        # killed with them unacknowledged), never twice as new.
        new = [e["message_id"] for e in seen if not e["redelivered"]]
        self.assertEqual(len(new), len(set(new)), "a message was shown twice as new")
        first_seen = {}
        for i, e in enumerate(seen):
            if e["message_id"] in first_seen:
                self.assertTrue(e["redelivered"], e)
            first_seen.setdefault(e["message_id"], i)
        # An answered ack is final: never shown again by a later life.
        for i, a in enumerate(apps):
            for later in apps[i + 1:]:
                again = a.acked & {e["message_id"] for e in later.events}
                self.assertEqual(again, set(), "an acknowledged message came back")
        # The app commits each id once: exactly once at the app boundary.
        committed = {}
        for e in seen:
            committed.setdefault(e["message_id"], e)
        self.assertEqual(len(committed), n)
        # In order per handler, within each app's life.
        for a in apps:
            order = [int(unb64(e["payload"])) for e in a.events]
            self.assertEqual(order, sorted(order))
        self.assertEqual(self.store_files(self.bob, "inbox"), [])
        self.assertEqual(self.queue_files(self.alice), [])
        dup = self.queue_of(self.bob, "alice")["duplicates"]
        print(f"\n{n} durable messages, receiver killed {kills} times: "
              f"{len(seen) - n} shown again (redelivered), {dup} resends acknowledged "
              f"again without handling since the last restart; per app (shown, acked, "
              f"redelivered): "
              f"{[(a.count(), a.acked_count(), sum(e['redelivered'] for e in a.events)) for a in apps]}")

    def test_forget_removes_message_records(self):
        app = AckApp(self.bob, "test/inbox", ack=False)
        self.send_durable(self.alice, "bob", 3, protocol="test/inbox")
        self.wait_until("bob was shown 3", lambda: app.count() == 3
                        and self.queue_of(self.alice, "bob")["durable"] == 0)
        app.close()
        self.assertTrue(self.store_files(self.bob, "inbox"))
        self.assertTrue(self.store_files(self.bob, "dedup"))
        self.bob.stop()
        self.send_durable(self.alice, "bob", 4, protocol="test/inbox")
        self.assertEqual(len(self.queue_files(self.alice)), 4)
        r = self.alice.call("devices.forget", {"device": "bob"})
        self.assertEqual(r["name"], "bob")
        self.assertEqual(self.store_files(self.alice, "queue"), [])
        self.assertIsNone(self.queue_of(self.alice, "bob"))
        self.bob = self.restart(self.bob)
        self.assertEqual(self.inbox_of(self.bob, "alice"), 3)  # loaded back
        self.bob.call("devices.forget", {"device": "alice"})
        self.assertEqual(self.store_files(self.bob, "inbox"), [])
        self.assertEqual(self.store_files(self.bob, "dedup"), [])
        self.assertEqual(self.store_files(self.bob, "queue"), [])
        self.assertIsNone(self.queue_of(self.bob, "alice"))


if __name__ == "__main__":
    harness.main()
