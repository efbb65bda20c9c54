"""Paired-device connections across a real link (issue 6): two daemons in
two network namespaces joined by a veth pair, mDNS bound to the veths.

- Link down, then up: the keepalive finds the device gone (no frame for
  3.5 intervals), the link backs off; when the link comes back, mDNS finds
  the device again, the backoff resets and it reconnects.
- 5 % random loss each way (iptables statistic match: this kernel may have
  no sch_netem) and 100 ms delay each way where netem exists (otherwise the
  delay is not emulated, and the test says so): the connection holds (no
  device.disconnected), 150 requests answered by a local app and 50
  durable messages all arrive exactly once, the RTT shows the delay when
  there is one, and the device still proves its keys (devices.verify).

Skipped (exit 77) without root or `ip netns`."""

import base64
import os
import subprocess
import threading
import time

import netns

SPACEDRIVE = os.environ.get(
    "SPACEDRIVE", os.path.join(os.path.dirname(os.path.dirname(netns.SDNETD)), "cli",
                               "spacedrive"))
PORT = 4101
FAST = ["--keepalive-interval", "1s", "--retry-interval", "200ms", "--connection-timeout", "2s"]
N_REQ = 150
N_DURABLE = 50
# Few requests in flight, so they do not share TCP segments: many packets
# cross, and the 5 % loss rule certainly hits some of them.
WINDOW = 2


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


class Inbox:
    """A local app on its own control connection: registers protocol,
    records every message.received and answers those that want a reply
    with "ack <payload>". One reader thread; replies are sent without
    waiting for their results (which the thread reads and checks)."""

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

    def messages(self):
        with self.lock:
            assert not self.errors, self.errors
            return list(self.got)

    def close(self):
        self.conn.close()
        self.thread.join(timeout=netns.TIMEOUT)


class PersistNetns(netns.Case):
    tag = "k"

    def setup_pair(self):
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        self.net.veth(ns_a, "kpa0", ns_b, "kpb0")
        self.net.addr(ns_a, "kpa0", "10.205.0.1/24")
        self.net.addr(ns_b, "kpb0", "10.205.0.2/24")
        self.net.up(ns_a, "kpa0")
        self.net.up(ns_b, "kpb0")
        listen = ["--listen", f"/ip4/0.0.0.0/tcp/{PORT}"]
        a = self.sdnetd(ns_a, "alice", listen + FAST + ["--mdns-interface", "kpa0"])
        b = self.sdnetd(ns_b, "bob", listen + FAST + ["--mdns-interface", "kpb0"])
        r = subprocess.run([SPACEDRIVE,
                            "--instance", "alice", "network", "pair", "generate"],
                           env=a.env, capture_output=True, text=True, timeout=netns.TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        code = r.stdout.split("\n")[0].split(": ", 1)[1]
        peer = a.call("node.info")["peer_id"]
        r = subprocess.run([SPACEDRIVE,
                            "--instance", "bob", "network", "pair", "join", code, "--peer",
                            f"/ip4/10.205.0.1/tcp/{PORT}/p2p/{peer}"],
                           env=b.env, capture_output=True, text=True, timeout=netns.TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_connected(a, "bob")
        self.wait_connected(b, "alice")
        return ns_a, ns_b, a, b

    def state(self, d, name):
        return [x for x in d.call("devices.list")["devices"] if x["name"] == name][0]

    def wait_connected(self, d, name, timeout=netns.TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.state(d, name)["state"] != "connected":
            self.assertLess(time.monotonic(), deadline, f"{name} not connected on {d.instance}")
            time.sleep(0.05)

    def test_link_down_up_reconnects(self):
        ns_a, ns_b, a, b = self.setup_pair()
        ev = self.events(a, ["device.*"])
        netns._ip("link", "set", "kpa0", "down", ns=ns_a)
        t0 = time.monotonic()
        down = ev.wait("device.disconnected", timeout=20)
        print(f"\nlink down: device gone after {(time.monotonic() - t0) * 1000:.0f} ms "
              f"({down['reason']})")
        ev.wait("device.reconnecting")
        self.assertIn(self.state(a, "bob")["state"], ("backoff", "connecting"))
        netns._ip("link", "set", "kpa0", "up", ns=ns_a)
        netns._ip("route", "add", "224.0.0.0/4", "dev", "kpa0", ns=ns_a, check=False)
        t1 = time.monotonic()
        up = ev.wait("device.connected", timeout=netns.TIMEOUT)
        print(f"link up: reconnected after {(time.monotonic() - t1) * 1000:.0f} ms")
        self.assertTrue(up["reconnected"])
        self.wait_connected(b, "alice")

    def impair(self, ns, ifname):
        """5 % random loss on what ifname receives, with iptables (this
        kernel may lack sch_netem); 100 ms delay with netem when the kernel
        has it. Without netem the delay is not emulated: the TUN delay line
        of bench_dial_ping.c is C inside that bench and would need the veth
        replaced by a TUN pair, so it is not reused here. Returns whether
        the delay is in place."""
        r = subprocess.run(["ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-i", ifname,
                            "-m", "statistic", "--mode", "random", "--probability", "0.05",
                            "-j", "DROP"], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"iptables statistic match unavailable: {r.stderr.strip()}")
        r = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", ifname,
                            "root", "netem", "delay", "100ms"], capture_output=True, text=True)
        return r.returncode == 0

    def test_loss_holds_and_messages_arrive(self):
        ns_a, ns_b, a, b = self.setup_pair()
        delayed = [self.impair(ns, ifname) for ns, ifname in ((ns_a, "kpa0"), (ns_b, "kpb0"))]
        delayed = all(delayed)
        ev = self.events(a, ["device.*"])
        app = Inbox(b, "test/lossy")
        self.closers.append(app.close)
        t0 = time.monotonic()
        # 150 requests answered by bob's app, WINDOW in flight at a time on one
        # control connection (it allows 64), then 50 durable messages.
        with a.connect() as c:
            replies = {}
            sent = 0
            while len(replies) < N_REQ:
                while sent < N_REQ and sent - len(replies) < WINDOW:
                    c.send({"jsonrpc": "2.0", "id": sent + 1, "method": "messages.send",
                            "params": {"device": "bob", "protocol": "test/lossy",
                                       "payload": b64(f"r{sent}")}})
                    sent += 1
                m = c.read()
                if "id" in m:
                    replies[m["id"]] = m
            for i in range(N_DURABLE):
                r = c.request("messages.send", {"device": "bob", "protocol": "test/lossy",
                                                "payload": b64(f"d{i}"), "durable": True})
                self.assertTrue(r["result"]["queued"], r)
        for i in range(N_REQ):
            res = replies[i + 1].get("result")
            self.assertIsNotNone(res, replies[i + 1])
            self.assertEqual(unb64(res["payload"]), f"ack r{i}")
        want = [f"r{i}" for i in range(N_REQ)] + [f"d{i}" for i in range(N_DURABLE)]
        deadline = time.monotonic() + netns.TIMEOUT * 2
        while app.count() < len(want) or self.queue_durable(a, "bob") != 0:
            self.assertLess(time.monotonic(), deadline,
                            f"{app.count()} of {len(want)} messages arrived")
            app.changed.wait(0.1)
            app.changed.clear()
        got = [unb64(m["payload"]) for m in app.messages()]
        self.assertEqual(sorted(got), sorted(want), "each message exactly once")
        elapsed = time.monotonic() - t0
        # At least eight keepalive rounds (1 s) under loss in all: a
        # device.disconnected at any point fails the test (the wait reads
        # every event; it is meant to time out).
        try:
            down = ev.wait("device.disconnected", timeout=max(0.5, 8 - elapsed))
            self.fail(f"connection dropped under loss: {down}")
        except AssertionError as e:
            if "no device.disconnected" not in str(e):
                raise
        self.assertEqual(self.state(a, "bob")["state"], "connected")
        m = b.call("devices.metrics", {"device": "alice"})["devices"][0]
        # Without the delay a veth RTT is under 1 ms, which the metrics
        # report as null (0 ms): only the delayed link has an RTT to check.
        if delayed:
            self.assertIsNotNone(m["rtt_ms"])
            self.assertGreaterEqual(m["rtt_ms"], 190)
        v = a.call("devices.verify", {"device": "bob"})
        self.assertTrue(v["verified"])
        # The loss was real: some packets were dropped (hundreds crossed, so
        # none dropped at 5 % would be a broken rule, not luck).
        drops = sum(self.dropped(ns) for ns in (ns_a, ns_b))
        self.assertGreater(drops, 0)
        print(f"\n5% loss each way (iptables, {drops} packets dropped), delay "
              f"{'100 ms each way (netem)' if delayed else 'not emulated (no sch_netem)'}: "
              f"{N_REQ} replies + {N_DURABLE} durable arrived once each in {elapsed:.1f} s, "
              f"held {time.monotonic() - t0:.1f} s, rtt {m['rtt_ms']} ms, "
              f"verify {v['elapsed_ms']} ms")

    def dropped(self, ns):
        """Packets the namespace's statistic DROP rule has dropped."""
        r = subprocess.run(["ip", "netns", "exec", ns, "iptables", "-L", "INPUT", "-v", "-x",
                            "-n"], capture_output=True, text=True, check=True)
        return sum(int(line.split()[0]) for line in r.stdout.splitlines()
                   if "statistic" in line and "DROP" in line)

    def queue_durable(self, d, name):
        for dev in d.call("messages.status")["devices"]:
            if dev.get("device_name") == name:
                return dev["durable"]
        return 0


if __name__ == "__main__":
    netns.main()
