"""Robustness of sdnetd's listener, as far as a client outside the daemon
can reach it, each next to a js-libp2p connection that must not notice:
  - raw TCP clients sending garbage before multistream-select, a huge
    multistream line, garbage inside the Noise handshake: dropped at once;
  - clients that stall in the handshake, more of them than sdnetd lets
    handshake at once: the excess refused, the rest dropped by the handshake
    timeout, memory bounded;
  - a js peer opening more concurrent streams than sdnetd allows on one
    connection: the excess refused, sdnetd carries on.
Wire checks on the way: sdnetd answers `na` to an unknown protocol and
takes a Noise message pipelined behind the multistream proposal."""

import os
import select
import socket
import struct
import time

import interop
from interop import MIB, SLACK, call

MSS = "/multistream/1.0.0"


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mss(line):
    b = line.encode() + b"\n"
    return uvarint(len(b)) + b



class Raw:
    """A plain TCP client to sdnetd's listen port."""

    def __init__(self, port, name):
        self.name = name
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=interop.TIMEOUT)
        self.sock.setblocking(False)
        self.t0 = time.monotonic()
        self.got = b""
        self.closed_after = None

    def send(self, data):
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # already dropped; the close is still seen by poll()
        self.sock.setblocking(False)

    def poll(self):
        """Read what is there; True once the peer closed."""
        if self.closed_after is not None:
            return True
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return False
        except ConnectionResetError:
            chunk = b""
        if chunk:
            self.got += chunk
            return False
        self.closed_after = time.monotonic() - self.t0
        self.sock.close()  # so sdnetd's lingering close ends at once
        return True

    def read_until(self, pred, timeout=interop.TIMEOUT):
        deadline = time.monotonic() + timeout
        while not pred(self.got):
            left = deadline - time.monotonic()
            if left <= 0 or self.closed_after is not None:
                raise AssertionError(f"{self.name}: got {self.got!r}, closed "
                                     f"after {self.closed_after}")
            select.select([self.sock], [], [], left)
            self.poll()

    def close(self):
        self.sock.close()


def wait_all_closed(raws, timeout):
    """Wait until sdnetd closed every client or timeout passed."""
    deadline = time.monotonic() + timeout
    while True:
        open_ = [r for r in raws if not r.poll()]
        left = deadline - time.monotonic()
        if not open_ or left <= 0:
            return open_
        select.select([r.sock for r in open_], [], [], left)


class Robust(interop.Case):
    def setUp(self):
        super().setUp()
        self.raws = []
        self.closers.append(lambda: [r.close() for r in self.raws])
        # Debug level: a dropped handshake is logged with its reason there.
        self.d = self.sdnetd(extra=("--log-level", "debug"))
        self.limits = call(self.d, "net.stats")["limits"]
        self.js_ = self.js()
        self.sd_id, self.sd_addr = self.connect(self.d, self.js_, "js")
        self.port = interop.tcp_port(self.sd_addr)

    def raw(self, name):
        r = Raw(self.port, name)
        self.raws.append(r)
        return r

    def js_still_fine(self, echo_rid=None):
        """The js connection carried on: its background echo finished, a
        ping and a new echo work, and it is the same single connection."""
        js = self.js_
        if echo_rid is not None:
            r = js.reply(echo_rid, 60)
            self.assertTrue(r["ok"], r)
        self.assertGreaterEqual(js.call("ping", peer=self.sd_id)["rtt"], 0)
        js.call("echo", peer=self.sd_id, streams=4, bytes=MIB)
        self.assertEqual(js.call("peers")["peers"], [self.sd_id])
        self.assertIsNotNone(interop.peer_entry(self.d, js.peer_id))

    def test_garbage_dropped_at_once(self):
        js = self.js_
        echo = js.send("echo", peer=self.sd_id, streams=8, bytes=4 * MIB)
        before = call(self.d, "net.stats")

        http = self.raw("http request")
        http.send(b"GET / HTTP/1.1\r\nHost: sdnetd\r\n\r\n" + bytes(range(256)) * 16)
        huge = self.raw("huge multistream line")
        huge.send(uvarint(1 << 20) + MSS.encode() + b"A" * 65536)
        badheader = self.raw("wrong multistream header")
        badheader.send(mss("/multistream/0.0.1"))
        # An unknown protocol gets "na"; garbage after that is dropped.
        na = self.raw("unknown protocol then garbage")
        na.send(mss(MSS) + mss("/tls/1.0.0"))
        na.read_until(lambda b: mss("na") in b)
        na.send(b"\xff" * 64)
        # Noise: a message 1 that is too short.
        short = self.raw("short noise message 1")
        short.send(mss(MSS) + mss("/noise") + struct.pack(">H", 5) + b"\x01" * 5)
        # Noise message 1 pipelined behind the proposal is answered with
        # message 2 (e, encrypted s, encrypted payload), then a garbage
        # message 3 fails to decrypt.
        noise = self.raw("garbage noise message 3")
        noise.send(mss(MSS) + mss("/noise") + struct.pack(">H", 32) + os.urandom(32))
        prefix = mss(MSS) + mss("/noise")

        def has_msg2(b):
            if not b.startswith(prefix) or len(b) < len(prefix) + 2:
                return False
            (n,) = struct.unpack(">H", b[len(prefix):len(prefix) + 2])
            return len(b) >= len(prefix) + 2 + n
        noise.read_until(has_msg2)
        (n2,) = struct.unpack(">H", noise.got[len(prefix):len(prefix) + 2])
        # 32 (e) + 48 (s, tag) + at least a tag over the signed payload.
        self.assertGreater(n2, 32 + 48 + 16 + 64, "noise message 2 too short")
        noise.send(struct.pack(">H", 64 + 16) + b"\x00" * 80)

        raws = [http, huge, badheader, na, short, noise]
        still = wait_all_closed(raws, SLACK)
        reasons = [ln for ln in self.d.stderr().splitlines() if "failed during" in ln]
        self.assertEqual([r.name for r in still], [], "not dropped")
        for r in raws:
            print(f"{r.name}: dropped after {r.closed_after * 1000:.0f} ms")
        self.js_still_fine(echo)
        after = self.assert_no_leaks(self.d, conns=1)
        self.assertGreaterEqual(after["handshake_failures"] - before["handshake_failures"],
                                len(raws), after)
        # Each drop is logged with why (at debug level: strangers must not
        # be able to flood the log).
        print("\n".join(reasons))
        self.assertGreaterEqual(len(reasons), len(raws), reasons)
        for why in ("trailing newline", "length prefix", "fewer than 32"):
            self.assertTrue(any(why in ln for ln in reasons), f"no reason with {why!r}")

    def test_stalled_handshakes(self):
        """More silent clients than sdnetd handshakes at once (64 by
        default): the excess is refused at once, the rest is dropped by the
        handshake timeout; memory stays bounded and js carries on."""
        timeout = self.limits["handshake_timeout_ms"] / 1000
        rss0 = interop.rss_kib(self.d.pid)
        before = call(self.d, "net.stats")
        raws = [self.raw(f"silent {i}") for i in range(80)]
        partial = self.raw("partial multistream header")
        partial.send(mss(MSS)[:6])
        after_msg1 = self.raw("stalled after noise message 1")
        after_msg1.send(mss(MSS) + mss("/noise") + struct.pack(">H", 32) + os.urandom(32))
        raws += [partial, after_msg1]
        # js works while they all sit there.
        self.js_still_fine()
        mid = call(self.d, "net.stats")
        rss1 = interop.rss_kib(self.d.pid)
        still = wait_all_closed(raws, timeout + SLACK)
        self.assertEqual([r.name for r in still], [], "not dropped by the handshake timeout")
        times = sorted(r.closed_after for r in raws)
        early = [t for t in times if t < timeout / 2]
        late = [t for t in times if t >= timeout / 2]
        print(f"{len(early)} refused at once, {len(late)} dropped after "
              f"{min(late, default=0):.1f}..{max(late, default=0):.1f} s; "
              f"net.stats mid-flood: {mid}; VmRSS {rss0} -> {rss1} KiB")
        # Some waited for the timeout: it is what drops a stall.
        self.assertTrue(late, "no client waited for the handshake timeout")
        self.assertLessEqual(mid["handshaking"], self.limits["max_handshaking"])
        self.assertLessEqual(mid["handshaking"] + mid["conns"], self.limits["max_conns_per_ip"])
        end = self.assert_no_leaks(self.d, conns=1)
        refused = (end["refused_handshake"] + end["refused_limit"]
                   - before["refused_handshake"] - before["refused_limit"])
        self.assertEqual(refused, len(early), end)
        self.assertGreaterEqual(end["handshake_timeouts"] - before["handshake_timeouts"],
                                len(late), end)
        self.assert_rss_growth(rss1 - rss0, 32 * 1024, "stalled handshakes")
        log = self.d.stderr().splitlines()
        refusals = [ln for ln in log if "inbound connection refused" in ln]
        timeouts = [ln for ln in log if "failed during" in ln and "timed out" in ln]
        print(f"logged: {len(refusals)} refusals, e.g. {refusals[:1]}; {len(timeouts)} "
              f"timeouts, e.g. {timeouts[:1]}")
        self.assertEqual(len(refusals), len(early))
        self.assertGreaterEqual(len(timeouts), len(late))
        self.js_still_fine()
        # And a new js peer can dial once they are gone.
        js2 = self.js("js2")
        self.assertEqual(js2.call("dial", addr=self.sd_addr)["peer"], self.sd_id)
        js2.call("echo", peer=self.sd_id, streams=2, bytes=MIB)

    def test_peer_stops_reading(self):
        """js writes 256 MiB into an echo stream and never reads: once js's
        receive window is full sdnetd stops echoing, so it stops reading,
        so js's writes stall at a few windows' worth; sdnetd's memory stays
        bounded and the connection's other streams carry on."""
        js = self.js_
        rss0 = interop.rss_kib(self.d.pid)
        sid = js.call("stall", peer=self.sd_id, bytes=256 * MIB)["sid"]
        # Other streams work meanwhile (and give the stall time to set in).
        self.js_still_fine()
        s1 = js.call("stallstat", sid=sid)
        self.js_still_fine()
        s2 = js.call("stallstat", sid=sid)
        rss1 = interop.rss_kib(self.d.pid)
        print(f"non-reading stream: js got {s1['sent']} then {s2['sent']} bytes out; "
              f"sdnetd VmRSS {rss0} -> {rss1} KiB")
        self.assertIsNone(s2["error"])
        self.assertGreater(s1["sent"], 0)
        self.assertEqual(s1["sent"], s2["sent"], "writes into a non-reading peer never stalled")
        self.assertLessEqual(s2["sent"], 17 * MIB)  # 16 MiB max window and a chunk
        self.assert_rss_growth(rss1 - rss0, 32 * 1024, "non-reading stream")
        js.call("stallend", sid=sid)
        self.assert_no_leaks(self.d, conns=1)
        self.js_still_fine()

    def test_stream_flood(self):
        """600 concurrent echo streams on one connection, past sdnetd's
        per-connection cap (512): the excess is refused (reset), the
        connection and the daemon carry on."""
        js = self.js_
        before = call(self.d, "net.stats")
        r = js.reply(js.send("echo", peer=self.sd_id, streams=600, bytes=64 * 1024), 60)
        print(f"600-stream flood: js saw {r}")
        end = self.assert_no_leaks(self.d, conns=1)
        print(f"net.stats after: {end}")
        self.assertFalse(r["ok"], "600 concurrent streams all went through a 512 cap")
        self.assertGreater(end["refused_limit"], before["refused_limit"], end)
        self.js_still_fine()


if __name__ == "__main__":
    interop.main()
