"""node.* over the control socket, spoken directly from Python: node.info,
node.status, node.set_device_name (with its event and its errors),
node.shutdown, and rpc.discover listing them."""

import os
import re
import subprocess

import harness

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class RpcNode(harness.Case):
    def setUp(self):
        super().setUp()
        self.d = self.daemon("alice")

    def test_info(self):
        info = self.d.call("node.info")
        self.assertEqual(set(info), {"peer_id", "device_id", "device_name", "version",
                                     "listen_addrs", "uptime"})
        self.assertRegex(info["peer_id"], r"^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$")
        self.assertRegex(info["device_id"], UUID)
        self.assertEqual(info["device_name"], "alice")
        version = subprocess.run([harness.SDNETD, "--version"], capture_output=True,
                                 text=True, timeout=harness.TIMEOUT).stdout.split()[1]
        self.assertEqual(info["version"], version)
        # The default listen address, port resolved, with our peer ID.
        self.assertEqual(len(info["listen_addrs"]), 1)
        self.assertRegex(info["listen_addrs"][0],
                         r"^/ip4/127\.0\.0\.1/tcp/[1-9][0-9]*/p2p/" + info["peer_id"] + "$")
        self.assertIsInstance(info["uptime"], int)
        self.assertGreaterEqual(info["uptime"], 0)

    def test_status(self):
        with self.d.connect() as c:
            st = c.request("node.status")["result"]
        self.assertEqual(st["state"], "running")
        self.assertEqual(st["pid"], self.d.pid)
        self.assertEqual(st["instance"], "alice")
        self.assertEqual(st["control_socket"], self.d.socket_path)
        self.assertEqual(st["data_dir"], self.home.data_dir("alice"))
        self.assertGreaterEqual(st["rpc"]["clients"], 1)
        self.assertGreaterEqual(st["rpc"]["requests"], 1)
        self.assertIsInstance(st["uptime"], int)

    def test_set_device_name(self):
        with self.d.connect() as ev:
            ev.request("events.subscribe", {"kinds": ["node.device_name_changed"]})
            r = self.d.call("node.set_device_name", {"name": "Büro-PC 🖥"})
            self.assertEqual(r, {"device_name": "Büro-PC 🖥"})
            data = ev.wait_event("node.device_name_changed")
        self.assertEqual(data["device_name"], "Büro-PC 🖥")
        self.assertEqual(self.d.call("node.info")["device_name"], "Büro-PC 🖥")
        # Kept across a restart.
        self.assertEqual(self.d.stop(), 0)
        d2 = self.daemon("alice")
        self.assertEqual(d2.call("node.info")["device_name"], "Büro-PC 🖥")

    def test_set_device_name_errors(self):
        cases = [
            ({"name": ""}, "device name is empty"),
            ({"name": "x" * 65}, "65 bytes"),
            ({"name": "tab\there"}, "control character"),
            ({}, "name"),
            ({"name": 7}, "name"),
            ({"name": "ok", "extra": 1}, "extra"),
        ]
        for params, msg in cases:
            resp = self.d.rpc("node.set_device_name", params)
            self.assertEqual(resp["error"]["code"], -32602, params)
            self.assertIn(msg, resp["error"]["message"])
        self.assertEqual(self.d.call("node.info")["device_name"], "alice")

    def test_shutdown(self):
        with self.d.connect() as c:
            self.assertEqual(c.request("node.shutdown")["result"], {"stopping": True})
            # Then the daemon closes the connection.
            with self.assertRaises(EOFError):
                c.read()
        self.assertEqual(self.d.wait_exit(), 0)
        self.assertFalse(os.path.exists(self.d.socket_path))

    def test_discover_lists_node_methods(self):
        doc = self.d.call("rpc.discover")
        names = {m["name"] for m in doc["methods"]}
        self.assertTrue({"node.info", "node.status", "node.shutdown",
                         "node.set_device_name"} <= names)


if __name__ == "__main__":
    harness.main()
