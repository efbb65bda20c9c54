"""Echo through sdnetd and js-libp2p, the bytes compared by the side that
sent them (peer.mjs and sdnetd's test.echo fill chunk i of stream s from
(s, i) the same way and compare SHA-256 / bytes):
  - 100 concurrent streams each echoing 1 MiB, js -> sdnetd's echo handler
    and sdnetd -> js's;
  - 256 MiB over one stream (many window updates, window growth), both ways.
Each in both directions of dial. After each, no stream is left open."""

import interop
from interop import MIB, call

MANY_STREAMS = 100
MANY_BYTES = 1 * MIB
BULK_BYTES = 256 * MIB
BULK_TIMEOUT = 120


def rate(nbytes, ms):
    """Payload MiB/s: bytes sent one way over the time to get them back."""
    return nbytes / MIB / max(ms, 1) * 1000


class EchoCase(interop.Case):
    def js_to_sd(self, direction, streams, nbytes, timeout):
        d = self.sdnetd()
        js = self.js()
        sd_id, _ = self.connect(d, js, direction)
        r = js.call("echo", timeout, peer=sd_id, streams=streams, bytes=nbytes)
        self.assertEqual((r["streams"], r["bytes"]), (streams, nbytes))
        print(f"[{direction} dials] js -> sdnetd echo {streams} x {nbytes} B: {r['ms']} ms, "
              f"{rate(streams * nbytes, r['ms']):.1f} MiB/s")
        self.assertEqual(js.call("peers")["peers"], [sd_id])
        self.assert_no_leaks(d, conns=1)

    def sd_to_js(self, direction, streams, nbytes, timeout):
        d = self.sdnetd()
        js = self.js()
        self.connect(d, js, direction)
        r = call(d, "test.echo", {"peer_id": js.peer_id, "streams": streams, "bytes": nbytes},
                 timeout=timeout)
        self.assertIs(r["ok"], True, r)
        self.assertEqual((r["streams"], r["bytes"]), (streams, nbytes))
        print(f"[{direction} dials] sdnetd -> js echo {streams} x {nbytes} B: {r['ms']} ms, "
              f"{rate(streams * nbytes, r['ms']):.1f} MiB/s")
        self.assertNotIn("echo-error", [m.get("event") for m in js.pending])
        self.assert_no_leaks(d, conns=1)



class ManyStreams(EchoCase):
    def test_many_streams_js_to_sdnetd_sd_dials(self):
        self.js_to_sd("sd", MANY_STREAMS, MANY_BYTES, 60)

    def test_many_streams_js_to_sdnetd_js_dials(self):
        self.js_to_sd("js", MANY_STREAMS, MANY_BYTES, 60)

    def test_many_streams_sdnetd_to_js_sd_dials(self):
        self.sd_to_js("sd", MANY_STREAMS, MANY_BYTES, 60)

    def test_many_streams_sdnetd_to_js_js_dials(self):
        self.sd_to_js("js", MANY_STREAMS, MANY_BYTES, 60)



class Bulk(EchoCase):
    def test_bulk_js_to_sdnetd_sd_dials(self):
        self.js_to_sd("sd", 1, BULK_BYTES, BULK_TIMEOUT)

    def test_bulk_js_to_sdnetd_js_dials(self):
        self.js_to_sd("js", 1, BULK_BYTES, BULK_TIMEOUT)

    def test_bulk_sdnetd_to_js_sd_dials(self):
        self.sd_to_js("sd", 1, BULK_BYTES, BULK_TIMEOUT)

    def test_bulk_sdnetd_to_js_js_dials(self):
        self.sd_to_js("js", 1, BULK_BYTES, BULK_TIMEOUT)


del EchoCase  # only its subclasses hold tests


if __name__ == "__main__":
    interop.main()
