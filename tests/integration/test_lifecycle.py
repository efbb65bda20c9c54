"""Start, stop and restart: the identity survives restarts, SIGTERM and
SIGINT stop cleanly (exit 0, socket removed, STOPPING=1), the foreground
banner, bad command lines and config files, and socket activation."""

import os
import signal
import socket
import subprocess

import harness


class Lifecycle(harness.Case):
    def test_restart_keeps_identity(self):
        d = self.daemon("alice")
        before = d.call("node.info")
        self.assertEqual(d.stop(), 0)
        d2 = self.daemon("alice")
        after = d2.call("node.info")
        for k in ("peer_id", "device_id", "device_name"):
            self.assertEqual(before[k], after[k], k)
        self.assertEqual(d2.stop(), 0)

    def test_sigterm(self):
        d = self.daemon("alice")
        self.assertTrue(os.path.exists(d.socket_path))
        d.send_signal(signal.SIGTERM)
        d.notify.wait_for("STOPPING=1", None)
        self.assertEqual(d.wait_exit(), 0)
        self.assertFalse(os.path.exists(d.socket_path))
        # The lock file stays but no longer names a pid.
        with open(os.path.join(self.home.data_dir("alice"), "sdnetd.lock")) as f:
            self.assertEqual(f.read(), "")

    def test_foreground_banner_and_ctrl_c(self):
        d = self.daemon("alice", args=["--foreground"])
        info = d.call("node.info")
        self.assertEqual(d.stop(signal.SIGINT), 0)
        self.assertEqual(
            d.stdout(),
            f"sdnetd {info['version']} instance 'alice'\n"
            f"peer id: {info['peer_id']}\n"
            f"device: alice ({info['device_id']})\n"
            f"control socket: {d.socket_path}\n")
        # The stop, then the libp2p totals (nothing was ever connected).
        self.assertTrue(d.stderr().endswith(
            "sdnetd: shutting down\n"
            "sdnetd: connections: 0 opened, 0 closed; streams: 0 opened, 0 closed\n"),
            d.stderr())

    def test_no_banner_without_foreground(self):
        d = self.daemon("alice")
        self.assertEqual(d.stop(), 0)
        self.assertEqual(d.stdout(), "")

    def test_version_and_help(self):
        out = subprocess.run([harness.SDNETD, "--version"], capture_output=True, text=True,
                             timeout=harness.TIMEOUT, env=self.home.env)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"^sdnetd \d+\.\d+\.\d+\n$")
        out = subprocess.run([harness.SDNETD, "--help"], capture_output=True, text=True,
                             timeout=harness.TIMEOUT, env=self.home.env)
        self.assertEqual(out.returncode, 0)
        for opt in ("--instance", "--listen", "--password-file", "--no-mdns"):
            self.assertIn(opt, out.stdout)

    def test_bad_command_lines(self):
        cases = [
            (["--lisen", "/ip4/1.2.3.4/tcp/1"], "unknown option '--lisen'"),
            (["--listen", "/ip4/1.2.3.4/tpc/1"], "--listen: "),
            (["--instance", "../x"], "--instance: instance name '../x'"),
            (["--log-level", "loud"], "--log-level: unknown log level 'loud'"),
            (["stray"], "unexpected argument 'stray'"),
        ]
        for args, msg in cases:
            out = subprocess.run([harness.SDNETD, *args], capture_output=True, text=True,
                                 timeout=harness.TIMEOUT, env=self.home.env)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn(msg, out.stderr)
            self.assertTrue(out.stderr.startswith("sdnetd: "), out.stderr)

    def test_bad_config_file(self):
        path = self.home.write(self.home.config_path("alice"),
                               "# sdnetd\nlog-level = info\nlisn = /ip4/1.2.3.4/tcp/1\n")
        d = self.daemon("alice", wait=False)
        self.assertEqual(d.wait_exit(), 2)
        self.assertIn(f"{path}:3: unknown key 'lisn'", d.stderr())
        self.assertFalse(os.path.exists(self.home.data_dir("alice")))

    def test_socket_activation(self):
        path = self.home.path("activated.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        lsock.listen(16)
        fd = lsock.fileno()
        # What systemd does: the socket at fd 3, LISTEN_FDS, LISTEN_PID of
        # the exec'd process (the shell's pid survives exec).
        script = f'export LISTEN_FDS=1 LISTEN_PID=$$; exec "$0" "$@" 3<&{fd}'
        d = self.daemon("alice", start=False)
        d.start(argv=["/bin/sh", "-c", script, harness.SDNETD, "--instance", "alice",
                      "--no-mdns"],
                pass_fds=(fd,))
        lsock.close()
        info = d.rpc("node.info", path=path)["result"]
        self.assertTrue(info["peer_id"].startswith("12D3KooW"))
        self.assertEqual(d.rpc("node.status", path=path)["result"]["control_socket"], path)
        # Nothing bound at the derived path.
        self.assertFalse(os.path.exists(self.home.socket_path("alice")))
        self.assertEqual(d.stop(), 0)
        # systemd owns the socket file: it stays.
        self.assertTrue(os.path.exists(path))


if __name__ == "__main__":
    harness.main()
