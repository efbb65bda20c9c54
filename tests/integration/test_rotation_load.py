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

import base64
import collections
import socket
import subprocess
import threading
import time

import harness
import test_persist

FAST = ["--no-mdns", "--retry-interval", "200ms", "--connection-timeout", "2s",
        "--key-rotation-interval", "1s"]
ROTATIONS = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


class Inbox:
    """A local app on bob: registers protocol, records every
    message.received and answers each request with "ack <payload>". Replies
    are sent without waiting for their results; an error result is kept and
    fails the test."""

    def __init__(self, daemon, protocol):
        self.conn = daemon.connect()
        r = self.conn.request("handlers.register", {"protocol": protocol})
        if "result" not in r:
            raise AssertionError(f"handlers.register: {r}")
        self.got = []
        self.errors = []
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.next_id = 1000
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            while True:
                m = self.conn.read()
                if m.get("method") == "event" and m["params"]["kind"] == "message.received":
                    data = m["params"]["data"]
                    if data.get("needs_reply"):
                        self.next_id += 1
                        self.conn.send({"jsonrpc": "2.0", "id": self.next_id,
                                        "method": "messages.reply",
                                        "params": {"message_id": data["message_id"],
                                                   "payload": b64("ack " +
                                                                  unb64(data["payload"]))}})
                    with self.lock:
                        self.got.append(data)
                    self.changed.set()
                elif "error" in m:
                    with self.lock:
                        self.errors.append(m)
        except (OSError, EOFError, ValueError):
            pass

    def count(self):
        with self.lock:
            return len(self.got)

    def payloads(self):
        with self.lock:
            assert not self.errors, self.errors
            return [unb64(m["payload"]) for m in self.got]

    def close(self):
        self.conn.close()
        self.thread.join(timeout=harness.TIMEOUT)


class RotationLoad(harness.Case):
    def setUp(self):
        super().setUp()
        self.ports = {"alice": free_port(), "bob": free_port()}
        self.alice = self.start("alice")
        self.bob = self.start("bob")
        # Bob joins, so bob dials, authenticates as the opener and proposes
        # the rotations; alice accepts them.
        info = self.alice.call("node.info")
        addr = f"/ip4/127.0.0.1/tcp/{self.ports['alice']}/p2p/{info['peer_id']}"
        r = subprocess.run([test_persist.SPACEDRIVE, "--instance", "alice", "network", "pair",
                            "generate", "--expires", "120"], env=self.home.env,
                           capture_output=True, text=True, timeout=harness.TIMEOUT * 2)
        self.assertEqual(r.returncode, 0, r.stderr)
        code = r.stdout.split("\n")[0].split(": ", 1)[1]
        r = subprocess.run([test_persist.SPACEDRIVE, "--instance", "bob", "network", "pair",
                            "join", code, "--peer", addr], env=self.home.env,
                           capture_output=True, text=True, timeout=harness.TIMEOUT * 2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_until("alice sees bob connected", lambda: self.link(self.alice, "bob")
                        ["state"] == "connected")
        self.wait_until("bob sees alice connected", lambda: self.link(self.bob, "alice")
                        ["state"] == "connected")

    def start(self, name):
        return self.daemon(name, ["--listen", f"/ip4/127.0.0.1/tcp/{self.ports[name]}", *FAST])

    def link(self, d, name):
        return d.call("devices.show", {"device": name})["link"]

    def durable_left(self, d, name):
        for dev in d.call("messages.status")["devices"]:
            if dev.get("device_name") == name:
                return dev["durable"]
        return 0

    def wait_until(self, what, fn, timeout=harness.TIMEOUT * 2, poll=0.05):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail(f"not within {timeout} s: {what}")
            time.sleep(poll)

    def test_rotation_under_load_loses_nothing(self):
        ev = self.alice.connect()
        self.addCleanup(ev.close)
        ev.request("events.subscribe", {"kinds": ["device.*"]})
        app = Inbox(self.bob, "test/rekey")
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
                    params = {"device": "bob", "protocol": "test/rekey", "payload": b64(p)}
                    if kind == "d":
                        params["durable"] = True
                    r = c.request("messages.send", params)
                    self.assertIn("result", r, f"{p}: {r}")
                    if kind == "r":
                        self.assertEqual(unb64(r["result"]["payload"]), f"ack {p}")
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
                        self.durable_left(self.alice, "bob") == 0)
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
        r = ev.request("devices.list")  # drains the events pushed so far
        self.assertIn("result", r)
        drops = [m["params"]["data"] for m in ev.pending
                 if m.get("method") == "event" and m["params"]["kind"] == "device.disconnected"]
        self.assertEqual(drops, [])
        n_d = sum(1 for p in sent if p[0] == "d")
        print(f"\n{len(sent)} messages ({len(sent) - n_d} request/reply, {n_d} durable) "
              f"across epochs {e0}..{epoch} in {send_s:.1f} s: each arrived once")


if __name__ == "__main__":
    harness.main()
