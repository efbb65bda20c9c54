"""Malformed and hostile yamux from an authenticated peer: raw-yamux.mjs
lets js-libp2p do TCP, multistream-select and Noise, then writes the frames
this test builds. Each case runs next to a well-behaved js-libp2p peer that
must not notice:
  - a data frame overrunning the stream's receive window, a frame longer
    than any window, an unknown version or frame type, a SYN on an ID the
    dialer may not use: GoAway with "protocol error", the connection
    dropped with a logged reason (a second SYN on an open stream is only
    ignored, as js-libp2p-yamux does);
  - a GoAway(normal): sdnetd answers GoAway(normal) and closes, orderly;
  - 600 SYNs at once, past the 512 streams a connection may hold: the
    excess reset, the connection kept;
  - a peer that floods pings and stops reading the answers: sdnetd stops
    reading too (backpressure) and its memory stays bounded.
Afterwards sdnetd answers, the good peer echoes, and nothing leaks."""

import struct
import time

import interop
from interop import MIB, SLACK, call

# yamux (spec: hashicorp/yamux spec.md, libp2p yamux)
DATA, WINDOW, PING, GOAWAY = 0, 1, 2, 3
SYN, ACK, FIN, RST = 1, 2, 4, 8
GOAWAY_PROTOCOL_ERROR = 1
INITIAL_WINDOW = 256 * 1024


def frame(ftype, flags, sid, length, payload=b"", version=0):
    return struct.pack(">BBHII", version, ftype, flags, sid, length) + payload


class Frames:
    """Parses what sdnetd sends to the raw peer into yamux frames."""

    def __init__(self, raw):
        self.raw = raw
        self.buf = b""
        self.ended = None
        self.frames = []

    def _feed(self, m):
        if m["event"] == "rx-end":
            self.ended = m
            return
        self.buf += bytes.fromhex(m["hex"])
        while len(self.buf) >= 12:
            ver, ftype, flags, sid, length = struct.unpack(">BBHII", self.buf[:12])
            body = length if ftype == DATA else 0
            if len(self.buf) < 12 + body:
                break
            self.frames.append((ftype, flags, sid, length))
            self.buf = self.buf[12 + body:]

    def wait(self, pred, timeout=interop.TIMEOUT, what="a frame"):
        """The first frame so far or to come for which pred holds."""
        deadline = time.monotonic() + timeout
        while True:
            for f in self.frames:
                if pred(f):
                    return f
            if self.ended is not None:
                raise AssertionError(f"connection ended ({self.ended}) before {what}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s")
            self._feed(self.raw.wait(lambda m: m.get("event") in ("rx", "rx-end"), left, what))

    def wait_end(self, timeout):
        deadline = time.monotonic() + timeout
        while self.ended is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"sdnetd kept the connection for {timeout} s")
            self._feed(self.raw.wait(lambda m: m.get("event") in ("rx", "rx-end"), left,
                                     "the end of the connection"))
        return self.ended


class YamuxAbuse(interop.Case):
    def setUp(self):
        super().setUp()
        self.d = self.sdnetd()
        self.ev = self.events(self.d)
        self.good = self.js("good")
        self.sd_id, self.sd_addr = self.connect(self.d, self.good, "js", self.ev)
        self.raw = self.js("raw", interop.RAW_YAMUX)
        self.assertEqual(self.raw.call("dial", addr=self.sd_addr)["peer"], self.sd_id)
        self.ev.wait("net.peer_connected", peer_id=self.raw.peer_id)
        self.rx = Frames(self.raw)

    def send(self, *frames):
        self.raw.call("send", hex=b"".join(frames).hex())

    def good_still_fine(self):
        self.assertEqual(call(self.d, "node.info")["peer_id"], self.sd_id)
        self.good.call("echo", peer=self.sd_id, streams=4, bytes=MIB)
        r = call(self.d, "test.echo", {"peer_id": self.good.peer_id, "streams": 2, "bytes": MIB})
        self.assertIs(r["ok"], True, r)
        self.assertEqual(self.good.call("peers")["peers"], [self.sd_id])

    def expect_protocol_error(self, what, *frames):
        """Send frames; sdnetd must answer GoAway(protocol error), close,
        log why, and carry on with the good peer."""
        t0 = time.monotonic()
        self.send(*frames)
        self.rx.wait(lambda f: f[0] == GOAWAY, SLACK, "GoAway")
        goaway = [f for f in self.rx.frames if f[0] == GOAWAY][0]
        self.assertEqual(goaway[3], GOAWAY_PROTOCOL_ERROR, f"GoAway code {goaway}")
        self.rx.wait_end(SLACK)
        ms = (time.monotonic() - t0) * 1000
        data = self.ev.wait("net.peer_disconnected", peer_id=self.raw.peer_id)
        dropped = [ln for ln in self.d.stderr().splitlines()
                   if self.raw.peer_id in ln and "dropped:" in ln]
        print(f"{what}: GoAway(protocol error) and close after {ms:.0f} ms; event reason "
              f"{data.get('reason')!r}; log: {dropped}")
        self.assertTrue(dropped, "no logged reason for the drop")
        self.good_still_fine()
        self.assert_no_leaks(self.d, conns=1)

    def test_window_overrun(self):
        n = INITIAL_WINDOW + 1
        self.expect_protocol_error("window overrun", frame(WINDOW, SYN, 1, 0),
                                   frame(DATA, 0, 1, n, b"\x00" * n))

    def test_frame_longer_than_any_window(self):
        # Only the header: the length alone is the violation.
        self.expect_protocol_error("16 MiB + 1 data frame", frame(WINDOW, SYN, 1, 0),
                                   frame(DATA, 0, 1, 16 * MIB + 1))

    def test_bad_version(self):
        self.expect_protocol_error("version 1", frame(PING, SYN, 0, 1, version=1))

    def test_unknown_type(self):
        self.expect_protocol_error("frame type 9", frame(9, 0, 0, 0))

    def test_syn_on_listener_id(self):
        # We dialed, so our streams are odd; 2 is sdnetd's to use.
        self.expect_protocol_error("SYN on an even stream ID", frame(WINDOW, SYN, 2, 0))

    def test_duplicate_syn(self):
        """A second SYN on an open stream is not fatal: like js-libp2p-yamux
        (proto/yamux.c follows its strictness), sdnetd takes it as a plain
        window update: no second ACK, no second stream, connection kept."""
        self.send(frame(WINDOW, SYN, 1, 0))
        self.rx.wait(lambda f: f[0] == WINDOW and f[2] == 1 and f[1] & ACK, SLACK, "ACK")
        streams = call(self.d, "net.stats")["streams"]
        self.send(frame(WINDOW, SYN, 1, 0), frame(PING, SYN, 0, 0x5D5D))
        self.rx.wait(lambda f: f[0] == PING and f[1] & ACK and f[3] == 0x5D5D, SLACK, "ping ack")
        acks = [f for f in self.rx.frames if f[0] == WINDOW and f[2] == 1 and f[1] & ACK]
        self.assertEqual(len(acks), 1, self.rx.frames)
        self.assertEqual(call(self.d, "net.stats")["streams"], streams)
        self.assertIsNone(self.rx.ended)
        self.assertIsNotNone(interop.peer_entry(self.d, self.raw.peer_id))
        self.good_still_fine()

    def test_goaway(self):
        """A GoAway (normal) from the peer: sdnetd drains, answers with its
        own GoAway(normal) and closes once its streams ended, an orderly end.
        (js-libp2p 2.10's own hang-up loses its GoAway behind the socket
        close, so only a raw peer exercises this path.)"""
        # sdnetd asks identify on a stream of its own; we refuse it, so the
        # drain has nothing to wait for.
        syn = self.rx.wait(lambda f: f[1] & SYN and f[2] % 2 == 0 and f[2] != 0, SLACK,
                           "sdnetd's identify stream")
        self.send(frame(WINDOW, RST, syn[2], 0), frame(GOAWAY, 0, 0, 0))
        self.rx.wait(lambda f: f[0] == GOAWAY, SLACK, "GoAway back")
        goaway = [f for f in self.rx.frames if f[0] == GOAWAY][0]
        self.assertEqual(goaway[3], 0, f"GoAway code {goaway}")
        self.rx.wait_end(SLACK)
        data = self.ev.wait("net.peer_disconnected", peer_id=self.raw.peer_id)
        print(f"GoAway(normal): sdnetd answered GoAway(0) and closed; reason {data['reason']!r}")
        self.assertNotIn("reset", data["reason"])
        self.assertNotIn("violation", data["reason"])
        self.good_still_fine()
        self.assert_no_leaks(self.d, conns=1)

    def test_syn_flood(self):
        n = 600
        cap = call(self.d, "net.stats")["limits"]["max_streams_per_conn"]
        before = call(self.d, "net.stats")
        self.send(*[frame(WINDOW, SYN, 2 * i + 1, 0) for i in range(n)])
        # A ping after the flood: its answer means every SYN was handled.
        self.send(frame(PING, SYN, 0, 0x5D5D))
        self.rx.wait(lambda f: f[0] == PING and f[1] & ACK and f[3] == 0x5D5D, SLACK, "ping ack")
        ours = [f for f in self.rx.frames if f[2] % 2 == 1]
        acked = {f[2] for f in ours if f[0] == WINDOW and f[1] & ACK}
        reset = {f[2] for f in ours if f[1] & RST}
        st = call(self.d, "net.stats")
        print(f"{n} SYNs: {len(acked)} acknowledged, {len(reset)} reset; streams "
              f"{st['streams']}, refused_limit +{st['refused_limit'] - before['refused_limit']}")
        # The good connection holds none; identify may hold a stream or two
        # on the raw one.
        self.assertGreaterEqual(len(reset), n - cap)
        self.assertLessEqual(st["streams"], cap + 2)
        self.assertGreater(st["refused_limit"], before["refused_limit"])
        self.assertIsNone(self.rx.ended)
        self.good_still_fine()
        self.raw.close()
        self.ev.wait("net.peer_disconnected", peer_id=self.raw.peer_id)
        self.assert_no_leaks(self.d, conns=1)

    def test_ping_flood_without_reading(self):
        rss0 = interop.rss_kib(self.d.pid)
        self.raw.call("pause")
        pings = 2_000_000  # 24 MB of answers, well past the 8 MiB output cap
        for i in range(10):
            self.raw.call("repeat", hex=frame(PING, SYN, 0, i).hex(), times=pings // 10)
        peak = interop.rss_kib(self.d.pid)
        # While the raw peer sits there, sample memory as the good peer works.
        for _ in range(3):
            self.good_still_fine()
            peak = max(peak, interop.rss_kib(self.d.pid))
        entry = interop.peer_entry(self.d, self.raw.peer_id)
        print(f"ping flood, not reading: sdnetd VmRSS {rss0} -> peak {peak} KiB; "
              f"it read {entry and entry.get('bytes_in')} of {pings * 12} bytes")
        self.assertIsNotNone(entry, "dropped before its keepalive timeout")
        self.assertLess(entry["bytes_in"], pings * 12, "sdnetd read everything: no backpressure")
        self.assert_rss_growth(peak - rss0, 32 * 1024, "ping flood")
        self.raw.close()
        self.ev.wait("net.peer_disconnected", peer_id=self.raw.peer_id)
        self.assert_no_leaks(self.d, conns=1)



if __name__ == "__main__":
    interop.main()
