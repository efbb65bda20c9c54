"""The storage password: from --password-file or the systemd credential,
trailing newline ignored; a wrong one refuses to start, exits non-zero,
names the file and the remedy, and leaves every data file byte-identical.
(Each start derives a PBKDF2 key with 600,000 iterations: these tests take
a few seconds.)"""

import os

import harness


class Password(harness.Case):
    def start_with(self, password_text, **kw):
        pw = self.home.write(self.home.path("pw"), password_text)
        return self.daemon("alice", args=["--password-file", pw], **kw), pw

    def test_wrong_password_refused_and_nothing_changed(self):
        d, _ = self.start_with("correct horse\n")
        peer = d.call("node.info")["peer_id"]
        self.assertEqual(d.stop(), 0)
        data = self.home.data_dir("alice")
        before = harness.snapshot(data)
        self.assertIn("identity", before)

        bad, pw = self.start_with("battery staple\n", wait=False)
        self.assertNotEqual(bad.wait_exit(), 0)
        err = bad.stderr()
        self.assertIn("--password-file", err)
        self.assertFalse(os.path.exists(self.home.socket_path("alice")))
        self.assertEqual(harness.snapshot(data), before)

        # The right password, without its newline this time: same key.
        good, _ = self.start_with("correct horse")
        self.assertEqual(good.call("node.info")["peer_id"], peer)
        self.assertEqual(good.stop(), 0)

    def test_credential(self):
        creds = self.home.path("creds")
        self.home.write(os.path.join(creds, "sdnetd.password"), "from systemd\n")
        d = self.daemon("alice", env={"CREDENTIALS_DIRECTORY": creds})
        peer = d.call("node.info")["peer_id"]
        self.assertEqual(d.stop(), 0)
        # The same password through --password-file opens the same store.
        d2, _ = self.start_with("from systemd\n")
        self.assertEqual(d2.call("node.info")["peer_id"], peer)
        self.assertEqual(d2.stop(), 0)

    def test_empty_and_missing_password_files(self):
        d, pw = self.start_with("\n", wait=False)
        self.assertEqual(d.wait_exit(), 1)
        self.assertIn(f"password file {pw} is empty", d.stderr())
        missing = self.home.path("nope")
        d = self.daemon("alice", args=["--password-file", missing], wait=False)
        self.assertEqual(d.wait_exit(), 1)
        self.assertIn(f"cannot open password file {missing}", d.stderr())

    def test_corrupt_identity_refused(self):
        d, _ = self.start_with("pw\n")
        self.assertEqual(d.stop(), 0)
        path = os.path.join(self.home.data_dir("alice"), "identity")
        with open(path, "r+b") as f:
            f.seek(-5, os.SEEK_END)
            b = f.read(1)
            f.seek(-5, os.SEEK_END)
            f.write(bytes([b[0] ^ 0x55]))
        before = harness.snapshot(self.home.data_dir("alice"))
        d, _ = self.start_with("pw\n", wait=False)
        self.assertEqual(d.wait_exit(), 1)
        self.assertIn(path, d.stderr())
        self.assertEqual(harness.snapshot(self.home.data_dir("alice")), before)


if __name__ == "__main__":
    harness.main()
