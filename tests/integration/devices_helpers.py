"""Helpers shared by the tests of paired devices (tests/integration and
tests/netns): pairing two daemons with the CLI, waiting for a device's
state, a local app that records and answers messages, and driving a batch
of messages through a link. Every wait is bounded; polls only look at
state, nothing sleeps to pass. Standard library only."""

import base64
import os
import socket
import subprocess
import threading
import time

import harness

SPACEDRIVE = os.environ.get(
    "SPACEDRIVE", os.path.join(os.path.dirname(os.path.dirname(harness.SDNETD)), "cli",
                               "spacedrive"))


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(d, *args, timeout=harness.TIMEOUT * 2):
    """`spacedrive --instance <d's> args...` with d's home (not its
    NOTIFY_SOCKET): the CompletedProcess."""
    env = {k: v for k, v in d.env.items() if k != "NOTIFY_SOCKET"}
    return subprocess.run([SPACEDRIVE, "--instance", d.instance, *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def pair(a, b, a_addr, expires=120):
    """a generates a code, b joins it dialing a_addr (a full /p2p/
    multiaddr), as a user would with the CLI; raises on failure."""
    r = cli(a, "network", "pair", "generate", "--expires", str(expires))
    if r.returncode != 0:
        raise AssertionError(f"pair generate: {r.stderr}")
    code = r.stdout.split("\n")[0].split(": ", 1)[1]
    r = cli(b, "network", "pair", "join", code, "--peer", a_addr)
    if r.returncode != 0:
        raise AssertionError(f"pair join: {r.stderr}")


def wait_until(what, fn, timeout=harness.TIMEOUT, poll=0.05):
    """Poll fn() (a cheap RPC) until it returns a true value, which is
    returned; AssertionError naming `what` after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(poll)


def device(d, name):
    """d's devices.list entry for the paired device called name, or None
    (the side that answers the pairing may record it a round trip after
    the joiner's CLI returned)."""
    for dev in d.call("devices.list")["devices"]:
        if dev["name"] == name:
            return dev
    return None


def link(d, name):
    """The link part of devices.show: state, key_epoch, ..."""
    return d.call("devices.show", {"device": name})["link"]


def wait_connected(d, name, timeout=harness.TIMEOUT):
    wait_until(f"{d.instance} sees {name} connected",
               lambda: (device(d, name) or {}).get("state") == "connected", timeout)


def durable_left(d, name):
    """Durable messages d still holds for name (not yet acknowledged)."""
    for dev in d.call("messages.status")["devices"]:
        if dev.get("device_name") == name:
            return dev["durable"]
    return 0


def metrics(d, name):
    return d.call("devices.metrics", {"device": name})["devices"][0]


class Inbox:
    """A local app on its own control connection: registers protocol,
    records every message.received and answers those that want a reply
    with "ack <payload>". One reader thread; replies are sent without
    waiting for their results (which the thread reads: an error result is
    kept and fails payloads()). With ack, a durable message that wants no
    reply is finished with messages.ack (without it, it stays in the
    receiver's inbox and is shown again after a restart); answered acks
    are counted in acked."""

    def __init__(self, daemon, protocol, ack=False):
        self.ack = ack
        self.acked = 0
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
                    elif self.ack and data.get("durable"):
                        self.next_id += 1
                        self.conn.send({"jsonrpc": "2.0", "id": self.next_id,
                                        "method": "messages.ack",
                                        "params": {"message_id": data["message_id"]}})
                    with self.lock:
                        self.got.append(data)
                    self.changed.set()
                elif "error" in m:
                    with self.lock:
                        self.errors.append(m)
                elif isinstance(m.get("result"), dict) and m["result"].get("acked"):
                    with self.lock:
                        self.acked += 1
                    self.changed.set()
        except (OSError, EOFError, ValueError):
            pass

    def count(self):
        with self.lock:
            return len(self.got)

    def payloads(self):
        """Every payload received so far (decoded), in arrival order."""
        with self.lock:
            assert not self.errors, self.errors
            return [unb64(m["payload"]) for m in self.got]

    def wait_count(self, n, extra=lambda: True, timeout=harness.TIMEOUT * 2):
        """Until n messages arrived and extra() holds; bounded, woken by
        each arrival (extra is polled at most every 0.1 s)."""
        deadline = time.monotonic() + timeout
        while self.count() < n or not extra():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.count()} of {n} messages arrived in {timeout} s")
            self.changed.wait(0.1)
            self.changed.clear()

    def close(self):
        # shutdown() wakes the reader blocked in recv(); close() alone
        # would not, and the join would wait out its timeout.
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
        self.thread.join(timeout=harness.TIMEOUT)


def send_batch(a, to, protocol, n_req, n_durable, window):
    """From a to the device `to`: n_req requests (messages.send waiting
    for the app's reply), `window` of them in flight at a time on one
    control connection (it allows 64), then n_durable durable messages.
    Payloads are r0.. and d0..; each reply must be "ack r<i>". Returns the
    payloads sent, in order."""
    with a.connect() as c:
        replies = {}
        sent = 0
        while len(replies) < n_req:
            while sent < n_req and sent - len(replies) < window:
                c.send({"jsonrpc": "2.0", "id": sent + 1, "method": "messages.send",
                        "params": {"device": to, "protocol": protocol,
                                   "payload": b64(f"r{sent}")}})
                sent += 1
            m = c.read()
            if "id" in m:
                replies[m["id"]] = m
        for i in range(n_durable):
            r = c.request("messages.send", {"device": to, "protocol": protocol,
                                            "payload": b64(f"d{i}"), "durable": True})
            if not r.get("result", {}).get("queued"):
                raise AssertionError(f"durable d{i}: {r}")
    for i in range(n_req):
        res = replies[i + 1].get("result")
        if res is None:
            raise AssertionError(f"request r{i}: {replies[i + 1]}")
        if unb64(res["payload"]) != f"ack r{i}":
            raise AssertionError(f"request r{i} answered {unb64(res['payload'])!r}")
    return [f"r{i}" for i in range(n_req)] + [f"d{i}" for i in range(n_durable)]


def disconnections(conn):
    """device.disconnected events pushed on conn (subscribed to device.*)
    so far: a request drains what came before its answer."""
    r = conn.request("devices.list")
    if "result" not in r:
        raise AssertionError(f"devices.list: {r}")
    return [m["params"]["data"] for m in conn.pending
            if m.get("method") == "event" and m["params"]["kind"] == "device.disconnected"]
