"""SIGHUP re-reads the file-transfer settings (receive-dir, auto-accept,
request-timeout) like the other reloadable ones: a send after the reload
lands in the new receive directory, auto-accept turned off makes a
Trusted device's send wait for the user and the new request-timeout
expires it, and turning auto-accept back on applies at once. A receive-dir
that cannot be created keeps the running settings, saying why. A rename
over RPC changes the sender name of the next request at once."""

import os
import signal
import time

import harness
import test_transfers as tt


class TransferReload(harness.Case):
    start = tt.Transfers.start
    until = tt.Transfers.until
    connected = tt.Transfers.connected
    addr = tt.Transfers.addr
    pair = tt.Transfers.pair
    transfer = tt.Transfers.transfer
    wait_final = tt.Transfers.wait_final
    src = tt.Transfers.src

    def reload(self, d, text):
        self.home.write(self.home.config_path(d.instance), text)
        d.send_signal(signal.SIGHUP)
        d.notify.wait_for("RELOADING=1", d.proc)
        d.notify.wait_for("READY=1", d.proc)

    def send(self, a, name):
        f = self.src(name)
        with open(f, "w") as fh:
            fh.write(f"{name}\n")
        return a.call("transfers.send", {"device": "bob", "paths": [f]})["id"]

    def test_sighup_applies_transfer_settings(self):
        one, two = self.home.path("one"), self.home.path("two")
        self.home.write(self.home.config_path("bob"), f"receive-dir = {one}\n")
        a, b = self.start("alice"), self.start("bob")
        self.pair(a, b)
        tid = self.send(a, "first.txt")
        self.assertEqual(self.wait_final(a, tid)["state"], "completed")
        self.assertEqual(os.listdir(one), ["first.txt"])

        # Another directory (created by the reload), no auto-accept, 1 s to answer.
        self.reload(b, f"receive-dir = {two}\nauto-accept = false\nrequest-timeout = 1s\n")
        self.assertTrue(os.path.isdir(two))
        with b.connect() as ev:
            ev.request("events.subscribe", {"kinds": ["spacedrop.*"]})
            t0 = time.monotonic()
            tid = self.send(a, "second.txt")
            req = ev.wait_event("spacedrop.request")
        self.assertEqual((req["id"], req["peer_name"], req["spacedrop"]), (tid, "alice", False))
        ta = self.wait_final(a, tid)
        waited = time.monotonic() - t0
        self.assertEqual(ta["state"], "expired")
        self.assertLess(waited, 15)  # not the 60 s default
        self.assertEqual(os.listdir(two), [])

        # Auto-accept back on: the next send lands in the new directory.
        self.reload(b, f"receive-dir = {two}\nauto-accept = true\n")
        tid = self.send(a, "third.txt")
        self.assertEqual(self.wait_final(a, tid)["state"], "completed")
        self.assertEqual(os.listdir(two), ["third.txt"])
        self.assertEqual(os.listdir(one), ["first.txt"])
        self.assertEqual(self.transfer(b, tid)["dest"], two)

        # A directory that cannot be made: the running settings stay.
        blocker = self.home.path("file")
        with open(blocker, "w") as fh:
            fh.write("x")
        self.reload(b, f"receive-dir = {blocker}/sub\n")
        tid = self.send(a, "fourth.txt")
        self.assertEqual(self.wait_final(a, tid)["state"], "completed")
        self.assertEqual(sorted(os.listdir(two)), ["fourth.txt", "third.txt"])
        self.assertEqual(b.stop(), 0)
        err = b.stderr()
        self.assertIn(f"reload: receive-dir {one} -> {two}", err)
        self.assertIn("reload: auto-accept true -> false", err)
        self.assertIn("reload: request-timeout 60000 ms -> 1000 ms", err)
        self.assertIn(f"cannot create the receive directory {blocker}/sub", err)
        self.assertIn("keeping the file-transfer settings", err)


    def test_rename_changes_the_sender_name(self):
        # Unpaired: a paired receiver shows the name in its own registry.
        a, b = self.start("alice"), self.start("bob")
        a.call("node.set_device_name", {"name": "alice laptop"})
        f = self.src("renamed.txt")
        with open(f, "w") as fh:
            fh.write("renamed\n")
        with b.connect() as ev:
            ev.request("events.subscribe", {"kinds": ["spacedrop.*"]})
            tid = a.call("spacedrop.send", {"target": self.addr(b), "paths": [f]})["id"]
            req = ev.wait_event("spacedrop.request")
        self.assertEqual((req["id"], req["peer_name"]), (tid, "alice laptop"))
        b.call("spacedrop.reject", {"id": tid})
        self.assertEqual(self.wait_final(a, tid)["state"], "rejected")

if __name__ == "__main__":
    harness.main()
