"""max-connections-per-ip (docs/operations.md): the host admits at most N
inbound connections (handshaking or open) from one IP address; more from
that address are closed at once, counted in net.stats (refused_per_ip,
also in refused_limit) and logged as a warning naming the address and the
setting. Other addresses are not affected, and a closed connection frees
its place. The default follows max-connections (never below it), and a
value below max-connections is refused at start with an error naming both.

Raw TCP sockets stand in for peers: an accepted socket sits in the
handshake (counted) until the handshake timeout, far longer than the test.
Every wait is bounded by harness.TIMEOUT; nothing sleeps to pass."""

import socket

import devices_helpers as dh
import harness


class ConnLimits(harness.Case):
    def start(self, *args):
        port = dh.free_port()
        d = self.daemon("alice", ["--listen", f"/ip4/127.0.0.1/tcp/{port}", *args])
        d.port = port
        return d

    def raw(self, d, source="127.0.0.1"):
        s = socket.socket()
        self.addCleanup(s.close)
        s.settimeout(harness.TIMEOUT)
        s.bind((source, 0))
        s.connect(("127.0.0.1", d.port))
        return s

    def stats(self, d):
        return d.call("net.stats")

    def wait_stat(self, d, key, want):
        return dh.wait_until(f"net.stats {key} == {want}",
                             lambda: self.stats(d)[key] == want and self.stats(d))

    def assert_closed_by_daemon(self, s):
        """The daemon closed s (EOF or reset) without our sending a byte."""
        try:
            data = s.recv(1)
        except ConnectionResetError:
            data = b""
        self.assertEqual(data, b"", "the refused connection was not closed")

    def test_cap_refuses_extra_from_one_ip(self):
        d = self.start("--max-connections", "2", "--max-connections-per-ip", "2")
        self.assertEqual(self.stats(d)["limits"]["max_conns_per_ip"], 2)
        s1, s2 = self.raw(d), self.raw(d)
        self.wait_stat(d, "inbound_accepted", 2)
        st = self.stats(d)
        self.assertEqual((st["refused_per_ip"], st["refused_limit"]), (0, 0))
        # The third from 127.0.0.1 is over the cap: closed at once.
        s3 = self.raw(d)
        self.assert_closed_by_daemon(s3)
        st = self.wait_stat(d, "refused_per_ip", 1)
        self.assertEqual(st["refused_limit"], 1)
        self.assertEqual(st["inbound_accepted"], 2)
        self.assertEqual(st["handshaking"], 2)
        # The log says what happened and what to change.
        line = dh.wait_until("the refusal logged", lambda: [
            ln for ln in d.stderr().splitlines()
            if "refusing inbound connections from 127.0.0.1" in ln])
        self.assertIn("max-connections-per-ip (2) reached", line[0])
        # Another address is not affected.
        s4 = self.raw(d, source="127.0.0.2")
        self.wait_stat(d, "inbound_accepted", 3)
        # A closed connection frees its place.
        s1.close()
        self.wait_stat(d, "handshaking", 2)
        s5 = self.raw(d)
        self.wait_stat(d, "inbound_accepted", 4)
        self.assertEqual(self.stats(d)["refused_per_ip"], 1)
        for s in (s2, s4, s5):
            s.settimeout(0)
            with self.assertRaises(BlockingIOError, msg="an admitted socket was closed"):
                s.recv(1)
        print(f"\nrefused 1 of 3 from 127.0.0.1 with max-connections-per-ip 2: {line[0]}")

    def test_default_follows_max_connections(self):
        d = self.start()
        self.assertEqual(self.stats(d)["limits"]["max_conns_per_ip"], 50)
        d.stop()
        d = self.start("--max-connections", "4")
        self.assertEqual(self.stats(d)["limits"]["max_conns_per_ip"], 16)

    def test_config_file_key(self):
        path = self.home.config_path("alice")
        self.home.write(path, "max-connections = 3\nmax-connections-per-ip = 5\n")
        d = self.start()
        self.assertEqual(self.stats(d)["limits"]["max_conns_per_ip"], 5)

    def refused_start(self, args, want):
        d = self.daemon("alice", ["--listen", "/ip4/127.0.0.1/tcp/0", *args], wait=False)
        rc = d.wait_exit()
        self.assertNotEqual(rc, 0)
        self.assertIn(want, d.stderr())

    def test_bad_values_refused_at_start(self):
        self.refused_start(["--max-connections-per-ip", "8"],
                           "max-connections-per-ip (8) is below max-connections (50, the "
                           "default)")
        self.refused_start(["--max-connections", "1", "--max-connections-per-ip", "1"],
                           "--max-connections-per-ip: '1' is not a number of connections "
                           "from 2 to 1024")


if __name__ == "__main__":
    harness.main()
