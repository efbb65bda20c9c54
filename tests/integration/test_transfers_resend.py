"""A sender that never saw the receiver's Verify offers the same transfer
again, maybe much later: the receiver remembers the ids of the last 1,024
transfers it completed (<data dir>/completed-transfers.txt) and answers
"already complete"; the sender finishes without sending a byte and no
"name (1)" copy appears.

The lost Verify is made by hand: the sender's record (out-<id>.json) is
copied while the transfer runs and put back after it completed, so the
restarted sender believes the transfer is unfinished. Two cases: the
receiver still lists the finished transfer (within its 10 minutes), and
the receiver was restarted meanwhile (it forgot everything in memory,
as after the 10 minutes)."""

import os
import shutil

import harness
import test_transfers as tt

MiB = tt.MiB


class Resend(harness.Case):
    start = tt.Transfers.start
    until = tt.Transfers.until
    connected = tt.Transfers.connected
    addr = tt.Transfers.addr
    pair = tt.Transfers.pair
    transfer = tt.Transfers.transfer
    wait_final = tt.Transfers.wait_final
    recv_dir = tt.Transfers.recv_dir
    leftovers = tt.Transfers.leftovers
    src = tt.Transfers.src

    def tearDown(self):
        # Shown only when a test fails (or with -v).
        for d in self.daemons:
            try:
                print(f"--- sdnetd {d.instance} stderr ---\n{d.stderr()[-3000:]}")
            except (OSError, AttributeError):
                pass
        super().tearDown()

    def record(self, d, tid):
        return os.path.join(self.home.data_dir(d.instance), "transfers", f"out-{tid}.json")

    def completed_with_lost_verify(self, restart_receiver):
        env = {"SDNETD_TEST_XFER_RATE": str(4 * MiB)}
        a, b = self.start("alice", tt.TEST, env), self.start("bob")
        self.pair(a, b)
        f = self.src("data.bin")
        tt.big_file(f, 2)
        want = tt.sha256_file(f)
        folder = self.src("folder", "sub", "note.txt")
        with open(folder, "w") as fh:
            fh.write("note\n")
        folder = self.home.path("src", "folder")
        tid = a.call("transfers.send", {"device": "bob", "paths": [f, folder]})["id"]
        saved = self.home.path("saved-record.json")
        shutil.copy(self.record(a, tid), saved)
        self.assertEqual(self.wait_final(a, tid)["state"], "completed")
        self.assertEqual(self.wait_final(b, tid)["state"], "completed")
        self.assertFalse(os.path.exists(self.record(a, tid)))
        a.stop()
        if restart_receiver:
            b.stop()
            b = self.start("bob")
        shutil.copy(saved, self.record(a, tid))
        a = self.start("alice")
        if restart_receiver:
            # Both listen on new ports now: bob calls alice's.
            b.call("net.connect", {"addr": self.addr(a)})
        ta = self.wait_final(a, tid)
        tb = self.wait_final(b, tid)
        self.assertEqual((ta["state"], tb["state"]), ("completed", "completed"),
                         (ta["error"], tb["error"]))
        # Nothing was sent again and nothing landed twice.
        self.assertEqual(ta["bytes_attempt"], 0)
        self.assertEqual(tb["bytes_moved"], 0)
        self.assertEqual(tb["error"], "already complete")
        self.assertEqual(sorted(os.listdir(self.recv_dir(b))), ["data.bin", "folder"])
        self.assertEqual(tt.tree_snapshot(os.path.join(self.recv_dir(b), "folder")),
                         tt.tree_snapshot(folder))
        self.assertEqual(tt.sha256_file(os.path.join(self.recv_dir(b), "data.bin")), want)
        self.assertEqual(self.leftovers(a), [])
        self.assertEqual(self.leftovers(b), [])
        self.assertIn(f"transfer {tid[:8]} from alice: offered again after it completed here; "
                      "answered already complete", b.stderr())

    def test_reoffer_while_still_listed(self):
        self.completed_with_lost_verify(restart_receiver=False)

    def test_reoffer_after_receiver_forgot(self):
        self.completed_with_lost_verify(restart_receiver=True)
        # The record holds the id and the sender's peer ID.
        with open(os.path.join(self.home.data_dir("bob"), "completed-transfers.txt")) as fh:
            lines = fh.read().splitlines()
        self.assertEqual(len(lines), 1)
        self.assertRegex(lines[0], r"^[0-9a-f]{32} 12D3KooW\w+$")


if __name__ == "__main__":
    harness.main()
