"""Instances side by side: alice and bob each get their own identity,
data directory and control socket; a second daemon for a running instance
is refused and names the holder's pid; a socket left by a killed daemon is
replaced."""

import grp
import os
import signal
import stat

import harness


class Instances(harness.Case):
    def test_alice_and_bob_side_by_side(self):
        alice = self.daemon("alice")
        bob = self.daemon("bob")
        a = alice.call("node.info")
        b = bob.call("node.info")
        self.assertNotEqual(a["peer_id"], b["peer_id"])
        self.assertNotEqual(a["device_id"], b["device_id"])
        # A named instance is called after itself by default.
        self.assertEqual(a["device_name"], "alice")
        self.assertEqual(b["device_name"], "bob")
        self.assertNotEqual(alice.socket_path, bob.socket_path)
        for inst in ("alice", "bob"):
            st = os.lstat(self.home.socket_path(inst))
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            self.assertTrue(os.path.isfile(os.path.join(self.home.data_dir(inst), "identity")))
        # Each answers for itself.
        sa = alice.call("node.status")
        sb = bob.call("node.status")
        self.assertEqual((sa["instance"], sa["pid"]), ("alice", alice.pid))
        self.assertEqual((sb["instance"], sb["pid"]), ("bob", bob.pid))
        # Stopping one leaves the other alone.
        self.assertEqual(alice.stop(), 0)
        self.assertEqual(bob.call("node.info")["peer_id"], b["peer_id"])
        self.assertEqual(bob.stop(), 0)

    def test_second_daemon_refused(self):
        first = self.daemon("alice")
        peer = first.call("node.info")["peer_id"]
        second = self.daemon("alice", wait=False)
        self.assertEqual(second.wait_exit(), 1)
        err = second.stderr()
        self.assertIn(
            f"sdnetd: instance 'alice' is already running (pid {first.pid}); "
            "stop it with: spacedrive --instance alice stop", err)
        # The first one did not notice.
        self.assertEqual(first.call("node.info")["peer_id"], peer)
        self.assertTrue(os.path.exists(first.socket_path))
        self.assertEqual(first.stop(), 0)

    def test_other_instance_same_socket_refused(self):
        first = self.daemon("alice")
        other = self.daemon("carol", args=["--socket", first.socket_path], wait=False)
        self.assertEqual(other.wait_exit(), 1)
        self.assertIn("another process is serving", other.stderr())
        self.assertEqual(first.call("node.status")["state"], "running")

    def test_stale_socket_replaced(self):
        first = self.daemon("alice")
        peer = first.call("node.info")["peer_id"]
        first.send_signal(signal.SIGKILL)
        first.wait_exit()
        # A killed daemon leaves its socket file (and the lock file) behind.
        self.assertTrue(os.path.exists(first.socket_path))
        again = self.daemon("alice")
        self.assertEqual(again.call("node.info")["peer_id"], peer)
        self.assertEqual(again.stop(), 0)

    def test_default_instance_named_after_host(self):
        d = self.daemon("default")
        self.assertEqual(d.call("node.info")["device_name"], os.uname().nodename[:64])
        self.assertEqual(d.stop(), 0)

    def test_socket_group(self):
        group = grp.getgrgid(os.getgid()).gr_name
        d = self.daemon("alice", args=["--socket-group", group])
        st = os.lstat(d.socket_path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, os.getgid())
        self.assertEqual(d.call("node.status")["state"], "running")
        self.assertEqual(d.stop(), 0)
        bad = self.daemon("alice", args=["--socket-group", "no-such-group-here"], wait=False)
        self.assertEqual(bad.wait_exit(), 1)
        self.assertIn("socket group 'no-such-group-here' does not exist", bad.stderr())
        self.assertFalse(os.path.exists(d.socket_path))

    def test_explicit_data_dir(self):
        data = self.home.path("elsewhere")
        d = self.daemon("demo", args=["--data-dir", data])
        d.call("node.info")
        self.assertTrue(os.path.isfile(os.path.join(data, "identity")))
        self.assertFalse(os.path.exists(self.home.data_dir("demo")))
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    harness.main()
