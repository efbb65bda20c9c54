"""SIGHUP reloads the config file: the device name and log level change
live (RELOADING=1 then READY=1, an event for the rename), other changes
are reported as needing a restart, a broken file changes nothing, and
--device-name renames at start-up."""

import signal

import harness


class Reload(harness.Case):
    def test_sighup_changes_device_name(self):
        cfg = self.home.config_path("alice")
        self.home.write(cfg, "device-name = first\n")
        d = self.daemon("alice")
        self.assertEqual(d.call("node.info")["device_name"], "first")
        with d.connect() as events:
            self.assertTrue(events.request("events.subscribe", {"kinds": ["node.*"]})["result"]
                            ["subscribed"])
            self.home.write(cfg, "device-name = second\nlog-level = debug\n"
                                 "listen = /ip4/127.0.0.1/tcp/4999\n"
                                 "max-connections = 20\nkeepalive-interval = 5s\n")
            d.send_signal(signal.SIGHUP)
            d.notify.wait_for("RELOADING=1", d.proc)
            d.notify.wait_for("READY=1", d.proc)
            data = events.wait_event("node.device_name_changed")
        self.assertEqual(data["device_name"], "second")
        info = d.call("node.info")
        self.assertEqual(info["device_name"], "second")
        self.assertEqual(data["device_id"], info["device_id"])
        self.assertEqual(d.call("node.status")["log_level"], "debug")
        self.assertEqual(d.stop(), 0)
        err = d.stderr()
        self.assertIn("reload: log level info -> debug", err)
        self.assertIn("'listen' changed; it takes effect after a restart", err)
        for key in ("max-connections", "max-connections-per-ip", "keepalive-interval"):
            self.assertIn(f"'{key}' changed; it takes effect after a restart", err)
        self.assertNotIn("'retry-interval' changed", err)
        # Kept across a restart.
        d2 = self.daemon("alice")
        self.assertEqual(d2.call("node.info")["device_name"], "second")
        self.assertEqual(d2.stop(), 0)

    def test_broken_file_changes_nothing(self):
        cfg = self.home.write(self.home.config_path("alice"), "device-name = kept\n")
        d = self.daemon("alice")
        self.home.write(cfg, "device-name = lost\nbogus = 1\n")
        d.send_signal(signal.SIGHUP)
        d.notify.wait_for("READY=1", d.proc)
        self.assertEqual(d.call("node.info")["device_name"], "kept")
        self.assertEqual(d.stop(), 0)
        self.assertRegex(d.stderr(), f"reload: {cfg}:2: unknown key 'bogus'.*; keeping the "
                                     "running configuration")

    def test_reload_does_not_undo_rpc_rename(self):
        self.home.write(self.home.config_path("alice"), "device-name = from-file\n")
        d = self.daemon("alice")
        d.call("node.set_device_name", {"name": "from-rpc"})
        d.send_signal(signal.SIGHUP)
        d.notify.wait_for("READY=1", d.proc)
        self.assertEqual(d.call("node.info")["device_name"], "from-rpc")
        self.assertEqual(d.stop(), 0)

    def test_command_line_wins_on_reload(self):
        cfg = self.home.write(self.home.config_path("alice"), "log-level = info\n")
        d = self.daemon("alice", args=["--log-level", "warning"])
        self.home.write(cfg, "log-level = debug\n")
        d.send_signal(signal.SIGHUP)
        d.notify.wait_for("READY=1", d.proc)
        self.assertEqual(d.call("node.status")["log_level"], "warning")
        self.assertEqual(d.stop(), 0)

    def test_device_name_option(self):
        d = self.daemon("alice")
        self.assertEqual(d.call("node.info")["device_name"], "alice")
        self.assertEqual(d.stop(), 0)
        d = self.daemon("alice", args=["--device-name", "Alice's laptop"])
        self.assertEqual(d.call("node.info")["device_name"], "Alice's laptop")
        self.assertEqual(d.stop(), 0)
        d = self.daemon("alice")
        self.assertEqual(d.call("node.info")["device_name"], "Alice's laptop")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    harness.main()
