"""File transfer and Spacedrop between real daemons on loopback (paired with
`pair join --peer`, --no-mdns), driven through the `spacedrive` CLI and
JSON-RPC:

- a 1,000-file directory tree and a big file arrive byte-identical with
  their modes and mtimes; sending again lands next to them as "name (1)";
- 256 MiB with the receiver killed (SIGKILL) near the middle and restarted:
  the transfer resumes from the receiver's durable offset, proven from both
  daemons' byte counters, and the result is identical; the same with the
  sender killed;
- hostile names (../../etc/passwd, absolute, control characters, a
  1,000-byte name, device names) stay inside the receive directory;
- Spacedrop: reject, expiry (request-timeout 2s), accept --to DIR, an
  unpaired sender found by multiaddr, a Verified device that must be asked;
- a sender lying about a hash, or sending bytes past the end: no final
  file, a clear error on both sides;
- cancel from either side removes partial files on both;
- a link cut mid-transfer and restored resumes in place; two transfers
  at once to one device share the link evenly;
- a full disk (a small tmpfs, root only) pauses with a clear error, keeps
  the partial file, and resumes once there is room;
- partial files of a transfer whose sender never came back (7 days) are
  removed at start, recent ones kept.

Waits are bounded (harness.TIMEOUT); the slow parts (kill in the middle)
use the sender's test-only rate cap, SDNETD_TEST_XFER_RATE."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
import unittest

import harness

SPACEDRIVE = os.environ.get(
    "SPACEDRIVE", os.path.join(os.path.dirname(os.path.dirname(harness.SDNETD)), "cli",
                               "spacedrive"))
LISTEN = ["--listen", "/ip4/127.0.0.1/tcp/0"]
TEST = ["--enable-test-protocols"]
MiB = 1 << 20
FINAL = ("completed", "failed", "rejected", "expired", "cancelled")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def big_file(path, mib):
    """mib MiB of incompressible bytes, fast: each MiB is a fresh random block."""
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MiB))


def tree_snapshot(root):
    """{relative path: (kind, mode, mtime_ns, sha256 or None)}."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            digest = sha256_file(p) if os.path.isfile(p) else None
            out[os.path.relpath(p, root)] = ("dir" if os.path.isdir(p) else "file",
                                             st.st_mode & 0o7777, st.st_mtime_ns, digest)
    return out


class Transfers(harness.Case):
    def start(self, name, args=(), env=None):
        return self.daemon(name, LISTEN + list(args), env)

    def cli(self, d, *args, timeout=None):
        return subprocess.run([SPACEDRIVE, "--instance", d.instance, *args], env=d.env,
                              capture_output=True, text=True,
                              timeout=timeout or harness.TIMEOUT * 4)

    def addr(self, d):
        info = d.call("node.info")
        a = info["listen_addrs"][0]
        return a if "/p2p/" in a else a + "/p2p/" + info["peer_id"]

    def until(self, fn, what, timeout=harness.TIMEOUT, describe=None):
        """Poll fn() (a bounded wait for a state another process reaches);
        describe() says where things are when it times out."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}" +
                                     (f": {describe()}" if describe else ""))
            time.sleep(0.05)

    def connected(self, d, name):
        return any(x["name"] == name and x["state"] == "connected"
                   for x in d.call("devices.list")["devices"])

    def pair(self, a, b):
        code = a.call("pairing.generate", {"expires_s": 60})["code"]
        b.call("pairing.join", {"code": code, "peer": self.addr(a)})
        self.until(lambda: self.connected(a, b.instance) and self.connected(b, a.instance),
                   "both devices connected")

    def transfer(self, d, tid):
        for t in d.call("transfers.list")["transfers"]:
            if t["id"] == tid:
                return t
        return None

    def wait_final(self, d, tid, timeout=harness.TIMEOUT * 4):
        return self.until(lambda: (lambda t: t if t and t["state"] in FINAL else None)(
            self.transfer(d, tid)), f"transfer {tid[:8]} to end on {d.instance}", timeout)

    def recv_dir(self, d):
        return os.path.join(self.home.data_dir(d.instance), "received")

    def leftovers(self, d, recv=None):
        """Partial files and records the daemon kept."""
        left = []
        tdir = os.path.join(self.home.data_dir(d.instance), "transfers")
        if os.path.isdir(tdir):
            left += os.listdir(tdir)
        stage = os.path.join(recv or self.recv_dir(d), ".sdnetd-partial")
        if os.path.exists(stage):
            left.append(stage)
        return left

    def src(self, *parts):
        p = self.home.path("src", *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    # ---- files, trees, collisions -------------------------------------------------

    def make_tree(self, root, dirs=10, per_dir=100):
        """dirs x per_dir files (0 to 8 KiB, one empty) with various modes
        and nanosecond mtimes, in directories with their own modes."""
        modes = (0o600, 0o640, 0o644, 0o755, 0o444)
        dmodes = (0o750, 0o700, 0o755)
        n = 0
        for i in range(dirs):
            d = os.path.join(root, f"dir{i:02d}", "sub" if i % 3 == 0 else "")
            os.makedirs(d, exist_ok=True)
            for j in range(per_dir):
                p = os.path.join(d, f"file {j:03d}.dat")
                with open(p, "wb") as f:
                    f.write(os.urandom((i * 7919 + j * 104729) % 8193 if (i, j) != (0, 0) else 0))
                os.chmod(p, modes[(i + j) % len(modes)])
                os.utime(p, ns=(1_600_000_000_123_456_789 + n * 1_000_003,) * 2)
                n += 1
        for dp, dnames, _ in os.walk(root, topdown=False):
            for k, name in enumerate(sorted(dnames)):
                p = os.path.join(dp, name)
                os.chmod(p, dmodes[k % len(dmodes)])
                os.utime(p, ns=(1_500_000_000_987_654_321 + k,) * 2)
        os.chmod(root, 0o755)
        os.utime(root, ns=(1_400_000_000_000_000_007,) * 2)
        return n

    def test_tree_and_big_file(self):
        a, b = self.start("alice"), self.start("bob")
        self.pair(a, b)
        photos = self.src("photos")
        os.makedirs(photos)
        n = self.make_tree(photos)
        big = self.src("big.bin")
        big_file(big, 3)
        os.chmod(big, 0o640)
        os.utime(big, ns=(1_700_000_000_000_000_001,) * 2)
        before = tree_snapshot(self.home.path("src"))
        t0 = time.monotonic()
        r = self.cli(a, "network", "send", "bob", photos, big)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        # A pipe gets plain lines, then the result.
        self.assertIn("Transfer ", r.stdout)
        self.assertRegex(r.stdout, r"Sent \d+ files \([\d.]+ MB\) to bob in \d+ s\.\n$")
        after = tree_snapshot(self.recv_dir(b))
        self.assertEqual(after, before)
        print(f"\n{n} files + 3 MiB in {elapsed:.2f} s through the CLI")
        self.assertEqual(self.leftovers(a), [])
        self.assertEqual(self.leftovers(b), [])
        # Again: nothing is replaced; the new copies take the next names.
        r = self.cli(a, "network", "send", "bob", photos, big)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = sorted(os.listdir(self.recv_dir(b)))
        self.assertEqual(names, ["big (1).bin", "big.bin", "photos", "photos (1)"])
        self.assertEqual(tree_snapshot(os.path.join(self.recv_dir(b), "photos (1)")),
                         tree_snapshot(photos))
        # Both sides list it, with the receiver's destination.
        [t] = [x for x in b.call("transfers.list")["transfers"][-1:]]
        self.assertEqual((t["direction"], t["state"], t["dest"]),
                         ("receive", "completed", self.recv_dir(b)))
        r = self.cli(b, "network", "transfers")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"receive  completed     100%.* from alice  photos, big.bin")
        r = self.cli(b, "--json", "network", "transfers")
        self.assertEqual(len(json.loads(r.stdout)), 2)

    # ---- resume ------------------------------------------------------------------------

    def kill_in_the_middle(self, victim_is_sender):
        size = 256
        env = {"SDNETD_TEST_XFER_RATE": str(48 * MiB)}
        a = self.start("alice", TEST, env)
        b = self.start("bob")
        self.pair(a, b)
        path = self.src("big.bin")
        big_file(path, size)
        want = sha256_file(path)
        tid = a.call("transfers.send", {"device": "bob", "paths": [path]})["id"]
        # Near the middle: the receiver has made more than a third durable.
        durable = self.until(
            lambda: (lambda t: t["bytes_durable"] if t and t["bytes_durable"] >= 96 * MiB
                     else None)(self.transfer(b, tid)), "a third of the file durable")
        victim = a if victim_is_sender else b
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait(timeout=harness.TIMEOUT)
        # The same instance (same data) again, as a new process.
        again = self.start(victim.instance, victim.args[len(LISTEN):], env)
        a, b = (again, b) if victim_is_sender else (a, again)
        ta = self.wait_final(a, tid)
        tb = self.wait_final(b, tid)
        self.assertEqual((ta["state"], tb["state"]), ("completed", "completed"),
                         (ta["error"], tb["error"]))
        self.assertEqual(sha256_file(os.path.join(self.recv_dir(b), "big.bin")), want)
        self.assertEqual(self.leftovers(a), [])
        self.assertEqual(self.leftovers(b), [])
        return size * MiB, durable, ta, tb

    def test_resume_after_receiver_killed(self):
        total, durable, ta, tb = self.kill_in_the_middle(victim_is_sender=False)
        # The restarted receiver resumed from its state record: at least what
        # it reported durable before the kill, and it received only the rest.
        resumed = tb["bytes_resumed"]
        self.assertGreaterEqual(resumed, durable)
        self.assertLess(resumed, total)
        self.assertEqual(tb["bytes_moved"], total - resumed)
        # The sender agrees: its second attempt skipped exactly that much.
        self.assertEqual(ta["attempts"], 2)
        self.assertEqual(ta["bytes_resumed"], resumed)
        self.assertEqual(ta["bytes_attempt"], total - resumed)
        first = ta["bytes_moved"] - ta["bytes_attempt"]
        self.assertGreaterEqual(first, resumed)
        print(f"\nreceiver killed at {durable / MiB:.0f} MiB durable; resumed from "
              f"{resumed / MiB:.1f} MiB; sender moved {first / MiB:.1f} + "
              f"{ta['bytes_attempt'] / MiB:.1f} MiB in two attempts; receiver (after "
              f"restart) {tb['bytes_moved'] / MiB:.1f} MiB")

    def test_resume_after_sender_killed(self):
        total, durable, ta, tb = self.kill_in_the_middle(victim_is_sender=True)
        # The restarted sender resumed from its record and sent only the rest.
        resumed = ta["bytes_resumed"]
        self.assertGreaterEqual(resumed, durable)
        self.assertEqual(ta["bytes_moved"], total - resumed)
        self.assertEqual(tb["bytes_resumed"], resumed)
        print(f"\nsender killed at {durable / MiB:.0f} MiB durable; the restarted sender "
              f"resumed from {resumed / MiB:.1f} MiB and sent {ta['bytes_moved'] / MiB:.1f} "
              f"MiB")

    def test_link_cut_and_restored(self):
        env = {"SDNETD_TEST_XFER_RATE": str(32 * MiB)}
        a, b = self.start("alice", TEST, env), self.start("bob")
        self.pair(a, b)
        path = self.src("video.bin")
        big_file(path, 96)
        tid = a.call("transfers.send", {"device": "bob", "paths": [path]})["id"]
        self.until(lambda: (lambda t: t and t["bytes_durable"] >= 32 * MiB)(self.transfer(b, tid)),
                   "32 MiB durable")
        # Cut every connection between them; persist reconnects by itself.
        a.call("net.disconnect", {"peer_id": b.call("node.info")["peer_id"]})
        ta, tb = self.wait_final(a, tid), self.wait_final(b, tid)
        self.assertEqual((ta["state"], tb["state"]), ("completed", "completed"),
                         (ta["error"], tb["error"]))
        self.assertGreaterEqual(ta["attempts"], 2)
        # Both objects survived: the receiver carried its durable offset over.
        self.assertGreaterEqual(tb["bytes_resumed"], 32 * MiB)
        self.assertEqual(ta["bytes_resumed"], tb["bytes_resumed"])
        self.assertEqual(sha256_file(os.path.join(self.recv_dir(b), "video.bin")),
                         sha256_file(path))

    def test_concurrent_transfers_share_the_link(self):
        a, b = self.start("alice"), self.start("bob")
        self.pair(a, b)
        paths = [self.src(f"{n}.bin") for n in ("one", "two")]
        for p in paths:
            big_file(p, 512)
        ids = [a.call("transfers.send", {"device": "bob", "paths": [p]})["id"] for p in paths]

        def received():
            ts = {t["id"]: t for t in b.call("transfers.list")["transfers"]}
            return [ts[i]["bytes"] if i in ts else 0 for i in ids], \
                   [ts[i]["state"] if i in ts else "" for i in ids]

        # Once both move, each gets about half of what arrives.
        first = self.until(lambda: (lambda r: r if min(r[0]) >= 32 * MiB else None)(received()),
                           "both transfers moving")[0]
        later, states = self.until(
            lambda: (lambda r: r if sum(r[0]) - sum(first) >= 192 * MiB else None)(received()),
            "192 MiB more")
        self.assertEqual(states, ["transferring", "transferring"])
        share = [(y - x) / (sum(later) - sum(first)) for x, y in zip(first, later)]
        print(f"\nshares while both ran: {share[0]:.2f} / {share[1]:.2f}")
        self.assertGreaterEqual(min(share), 0.4, share)
        for tid in ids:
            self.assertEqual(self.wait_final(a, tid)["state"], "completed")

    # ---- hostile names --------------------------------------------------------------------

    def test_hostile_names(self):
        offered = [["..", "..", "etc", "passwd"], ["/etc/shadow"],
                   ["a\u0001b\u001b[31mred\u202e.txt"], ["x" * 1000 + ".txt"], ["CON"],
                   [".", "..", "..", "evil"]]
        env = {"SDNETD_TEST_XFER_NAMES": json.dumps(offered)}
        a, b = self.start("alice", TEST, env), self.start("bob")
        self.pair(a, b)
        paths = []
        for i in range(len(offered)):
            p = self.src(f"f{i}")
            with open(p, "w") as f:
                f.write(f"file {i}\n")
            paths.append(p)
        parent = os.path.dirname(self.recv_dir(b))
        around = sorted(os.listdir(parent))
        passwd = os.stat("/etc/passwd").st_mtime_ns
        r = self.cli(a, "network", "send", "bob", *paths)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = {}
        for d, _, files in os.walk(self.recv_dir(b)):
            for name in files:
                p = os.path.join(d, name)
                with open(p) as fh:
                    got[os.path.relpath(p, self.recv_dir(b))] = fh.read()
        self.assertEqual(got, {
            "etc/passwd": "file 0\n",
            "_etc_shadow": "file 1\n",
            "a_b_[31mred_.txt": "file 2\n",
            "x" * 251 + ".txt": "file 3\n",
            "_CON": "file 4\n",
            "evil": "file 5\n",
        })
        self.assertEqual(sorted(os.listdir(parent)), around)
        self.assertEqual(os.stat("/etc/passwd").st_mtime_ns, passwd)

    # ---- Spacedrop -------------------------------------------------------------------------

    def events(self, d, kinds=("transfer.*", "spacedrop.*")):
        c = d.connect()
        c.request("events.subscribe", {"kinds": list(kinds)})
        return c

    def spacedrop_cli(self, d, *args):
        return subprocess.Popen([SPACEDRIVE, "--instance", d.instance, "network", "spacedrop",
                                 *args], env=d.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def test_spacedrop_reject_accept_expire(self):
        a = self.start("alice")
        b = self.start("bob", ["--request-timeout", "2s"])
        self.pair(a, b)
        f = self.src("note.txt")
        with open(f, "w") as fh:
            fh.write("hello\n")
        eb = self.events(b)
        # Rejected, from the CLI on both sides.
        p = self.spacedrop_cli(a, "bob", f, "--message", "for you\u0007")
        req = eb.wait_event("spacedrop.request")
        self.assertEqual((req["peer_name"], req["message"], req["names"], req["files_total"]),
                         ("alice", "for you ", ["note.txt"], 1))
        r = self.cli(b, "network", "spacedrop", "list")
        self.assertRegex(r.stdout, rf"^{req['id'][:8]}  from alice \(paired device\)  1 file, "
                         r"6 B  expires in [12] s\n          note.txt\n          \"for you \"\n$")
        r = self.cli(b, "network", "spacedrop", "reject", req["id"][:6])
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=harness.TIMEOUT)
        self.assertEqual(p.returncode, 1, out)
        self.assertIn("rejected: bob declined the transfer", err)
        self.assertEqual(os.listdir(self.recv_dir(b)), [])
        # Nobody answers: it expires on both sides after bob's 2 s.
        t0 = time.monotonic()
        tid = a.call("spacedrop.send", {"target": "bob", "paths": [f]})["id"]
        self.assertEqual(eb.wait_event("spacedrop.request")["id"], tid)
        ta = self.wait_final(a, tid)
        waited = time.monotonic() - t0
        self.assertEqual(ta["state"], "expired")
        self.assertEqual(self.transfer(b, tid)["state"], "expired")
        self.assertGreaterEqual(waited, 1.9)
        self.assertLess(waited, 10)
        # Accepted into another directory.
        elsewhere = self.home.path("elsewhere")
        os.makedirs(elsewhere)
        p = self.spacedrop_cli(a, "bob", f)
        req = eb.wait_event("spacedrop.request")
        r = self.cli(b, "network", "spacedrop", "accept", req["id"], "--to", elsewhere)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"Accepted {req['id'][:8]}; receiving into {elsewhere}\n")
        out, err = p.communicate(timeout=harness.TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        with open(os.path.join(elsewhere, "note.txt")) as fh:
            self.assertEqual(fh.read(), "hello\n")
        eb.close()
        self.assertEqual(self.leftovers(b, elsewhere), [])

    def test_spacedrop_from_unpaired_peer(self):
        b = self.start("bob")
        c = self.start("carol")
        f = self.src("pic.jpg")
        with open(f, "wb") as fh:
            fh.write(os.urandom(300_000))
        eb = self.events(b)
        p = self.spacedrop_cli(c, self.addr(b), f, "-m", "from the cafe")
        req = eb.wait_event("spacedrop.request")
        self.assertEqual((req["peer_name"], req["device_id"], req["message"]),
                         ("carol", None, "from the cafe"))
        self.assertEqual(req["peer_id"], c.call("node.info")["peer_id"])
        b.call("spacedrop.accept", {"id": req["id"]})
        out, err = p.communicate(timeout=harness.TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(sha256_file(os.path.join(self.recv_dir(b), "pic.jpg")), sha256_file(f))
        # An unpaired peer cannot send without asking.
        self.assertEqual(c.rpc("transfers.send", {"device": "bob", "paths": [f]})["error"]["data"]
                         ["reason"], "not_found")

    def test_verified_device_asks(self):
        a, b = self.start("alice"), self.start("bob")
        self.pair(a, b)
        b.call("devices.trust", {"device": "alice", "level": "verified"})
        f = self.src("doc.pdf")
        with open(f, "wb") as fh:
            fh.write(b"%PDF" + os.urandom(5000))
        eb = self.events(b)
        tid = a.call("transfers.send", {"device": "bob", "paths": [f]})["id"]
        req = eb.wait_event("spacedrop.request")
        self.assertEqual((req["id"], req["spacedrop"], req["peer_name"]), (tid, False, "alice"))
        self.assertEqual(self.transfer(a, tid)["state"], "waiting")
        b.call("spacedrop.accept", {"id": tid})
        self.assertEqual(self.wait_final(a, tid)["state"], "completed")

    # ---- lies, cancel --------------------------------------------------------------------------

    def test_lying_sender(self):
        for lie, receiver_says in (("hash", "does not match the sender's SHA-256"),
                                   ("size", "")):
            with self.subTest(lie=lie):
                home_a = f"alice-{lie}"
                a = self.start(home_a, TEST, {"SDNETD_TEST_XFER_LIE": lie})
                b = self.start(f"bob-{lie}")
                self.pair(a, b)
                f = self.src(lie, "data.bin")
                big_file(f, 1)
                tid = a.call("transfers.send", {"device": b.instance, "paths": [f]})["id"]
                tb = self.wait_final(b, tid)
                ta = self.wait_final(a, tid)
                self.assertEqual(tb["state"], "failed")
                self.assertIn(receiver_says, tb["error"])
                self.assertIn(ta["state"], ("failed", "cancelled"))
                self.assertTrue(ta["error"])
                self.assertEqual(os.listdir(self.recv_dir(b)), [])
                self.assertEqual(self.leftovers(b), [])

    def test_cancel_from_either_side(self):
        env = {"SDNETD_TEST_XFER_RATE": str(8 * MiB)}
        a, b = self.start("alice", TEST, env), self.start("bob")
        self.pair(a, b)
        f = self.src("slow.bin")
        big_file(f, 64)
        for side in ("receiver", "sender"):
            with self.subTest(side=side):
                tid = a.call("transfers.send", {"device": "bob", "paths": [f]})["id"]
                self.until(lambda: (lambda t: t and t["bytes"] > MiB)(self.transfer(b, tid)),
                           "some bytes received")
                who = b if side == "receiver" else a
                r = self.cli(who, "network", "transfers", "cancel", tid[:8])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, f"Transfer {tid[:8]} cancelled.\n")
                ta, tb = self.wait_final(a, tid), self.wait_final(b, tid)
                self.assertEqual((ta["state"], tb["state"]), ("cancelled", "cancelled"))
                self.until(lambda: self.leftovers(b) == [], "partial files removed")
                self.assertEqual(self.leftovers(a), [])
                self.assertEqual(os.listdir(self.recv_dir(b)), [])
                r = self.cli(who, "network", "transfers", "cancel", tid)
                self.assertEqual(r.returncode, 1)
                self.assertIn("already cancelled", r.stderr)

    def test_stale_partials_removed_at_start(self):
        b = self.start("bob")
        b.stop()
        recv = self.recv_dir(b)
        tdir = os.path.join(self.home.data_dir("bob"), "transfers")
        ids = {"old": "aa" * 16, "fresh": "bb" * 16}
        for age, tid in ids.items():
            stage = os.path.join(recv, ".sdnetd-partial", tid)
            os.makedirs(stage)
            with open(os.path.join(stage, "0.part"), "wb") as f:
                f.write(b"x" * 100)
            with open(os.path.join(stage, "state.json"), "w") as f:
                f.write("{}")
            index = os.path.join(tdir, f"in-{tid}.json")
            with open(index, "w") as f:
                json.dump({"version": 1, "dest": recv}, f)
            if age == "old":
                then = time.time() - 8 * 86400
                os.utime(index, (then, then))
        b = self.start("bob")
        self.assertFalse(os.path.exists(os.path.join(recv, ".sdnetd-partial", ids["old"])))
        self.assertFalse(os.path.exists(os.path.join(tdir, f"in-{ids['old']}.json")))
        self.assertTrue(os.path.exists(os.path.join(recv, ".sdnetd-partial", ids["fresh"],
                                                    "0.part")))
        self.assertIn(f"removed the partial files of transfer {ids['old'][:8]}", b.stderr())

    # ---- full disk -----------------------------------------------------------------------------

    def test_full_disk_pauses_and_resumes(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        disk = self.home.path("small-disk")
        os.makedirs(disk)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk]).returncode:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", "-l", disk])
        a = self.start("alice")
        b = self.start("bob", ["--receive-dir", disk])
        self.pair(a, b)
        f = self.src("twelve.bin")
        big_file(f, 12)
        tid = a.call("transfers.send", {"device": "bob", "paths": [f]})["id"]
        tb = self.until(lambda: (lambda t: t if t and t["state"] == "paused" else None)(
            self.transfer(b, tid)), "the receiver to pause", describe=lambda: (
                self.transfer(b, tid), self.transfer(a, tid)))
        self.assertIn(f"the disk holding {disk} is full", tb["error"])
        self.until(lambda: self.transfer(a, tid)["state"] == "paused", "the sender to pause")
        self.assertIn("paused by the receiver: the disk holding", self.transfer(a, tid)["error"])
        parts = os.listdir(os.path.join(disk, ".sdnetd-partial", tid))
        self.assertIn("0.part", parts)
        kept = os.path.getsize(os.path.join(disk, ".sdnetd-partial", tid, "0.part"))
        self.assertGreater(kept, 0)
        # Room again: the sender asks again and the transfer resumes.
        subprocess.run(["mount", "-o", "remount,size=32m", disk], check=True)
        ta = self.wait_final(a, tid)
        tb = self.transfer(b, tid)
        self.assertEqual((ta["state"], tb["state"]), ("completed", "completed"),
                         (ta["error"], tb["error"]))
        self.assertGreater(tb["bytes_resumed"], 0)
        self.assertEqual(sha256_file(os.path.join(disk, "twelve.bin")), sha256_file(f))
        print(f"\ndisk full after {kept / MiB:.1f} MiB; resumed from "
              f"{tb['bytes_resumed'] / MiB:.1f} MiB once there was room")


if __name__ == "__main__":
    harness.main()
