"""File transfer and Spacedrop across a real link (issue 7): daemons in two
network namespaces joined by a veth pair, mDNS bound to the veths.

- 1 GiB between two paired daemons, SHA-256 identical (prints the time);
- the receiver killed (SIGKILL) near the middle and restarted: the transfer
  resumes from the receiver's durable offset and nothing it had is sent
  again, proven from both daemons' byte counters; the same killing the
  sender;
- the link cut mid-transfer (ip link set down) and restored: it resumes
  in place and completes;
- a 1,000-file nested tree arrives intact with modes and mtimes (prints
  files/s);
- hostile names (../../etc/passwd, absolute, control characters, a
  1,000-byte name, device names) stay inside the receive directory; a
  10,000-character name is beyond what the protocol carries and is refused
  before anything is offered;
- a full disk (a small tmpfs as the receive directory) pauses with a clear
  error, keeps the partial file, and resumes once there is room;
- Spacedrop to a nearby unpaired device found over mDNS (by its peer ID;
  by its advertised name: test_spacedrop_nearby.py): the receiver is always asked
  (sender name and message shown), reject then accept; no pairing results.

The kill and link-cut cases cap the sender at SDNETD_TEST_XFER_RATE (test
builds only) so "near the middle" is reachable on any machine; the plain
1 GiB runs uncapped. Waits are bounded and event-driven (transfer.progress
and transfer.state events). Data files live in temp dirs, deleted after.
Skipped (exit 77) without root or `ip netns`."""

import atexit
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import netns
import test_transfers as tt  # tests/integration: file helpers and the tree maker

SPACEDRIVE = tt.SPACEDRIVE
MiB = tt.MiB
GiB = 1024 * MiB
PORT = 4111
LISTEN = ["--listen", f"/ip4/0.0.0.0/tcp/{PORT}"]
FAST = ["--retry-interval", "200ms", "--keepalive-interval", "1s", "--connection-timeout", "2s"]
TEST = ["--enable-test-protocols"]
FINAL = tt.FINAL
# The kill / link-cut cases: fast enough to keep the file under its budget,
# slow enough that the middle lasts several progress events.
RATE = {"SDNETD_TEST_XFER_RATE": str(256 * MiB)}

_data = {}


def big_1gib():
    """One 1 GiB file of random bytes for the whole run (made once, removed
    at exit), and its SHA-256."""
    if "big" not in _data:
        d = tempfile.mkdtemp(prefix="sdxfer-", dir="/tmp")
        atexit.register(shutil.rmtree, d, True)
        path = os.path.join(d, "big.bin")
        h = hashlib.sha256()
        with open(path, "wb") as f:
            for _ in range(GiB // MiB):
                block = os.urandom(MiB)
                h.update(block)
                f.write(block)
        os.chmod(path, 0o640)
        os.utime(path, ns=(1_700_000_000_000_000_001,) * 2)
        _data["big"] = (path, h.hexdigest())
    return _data["big"]


class TransfersNetns(netns.Case):
    tag = "x"

    # ---- set-up -------------------------------------------------------------

    def link(self, a_if="xa0", b_if="xb0"):
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        self.net.veth(ns_a, a_if, ns_b, b_if)
        self.net.addr(ns_a, a_if, "10.207.0.1/24")
        self.net.addr(ns_b, b_if, "10.207.0.2/24")
        self.net.up(ns_a, a_if)
        self.net.up(ns_b, b_if)
        self.ns_a, self.ns_b, self.if_a, self.if_b = ns_a, ns_b, a_if, b_if
        return ns_a, ns_b

    def alice(self, args=(), env=None):
        return self.sdnetd(self.ns_a, "alice",
                           LISTEN + FAST + ["--mdns-interface", self.if_a] + list(args), env)

    def bob(self, args=(), env=None):
        return self.sdnetd(self.ns_b, "bob",
                           LISTEN + FAST + ["--mdns-interface", self.if_b] + list(args), env)

    def paired(self, a_args=(), a_env=None, b_args=(), b_env=None):
        """alice (10.207.0.1) and bob (10.207.0.2), paired over the veth,
        both connected."""
        self.link()
        a, b = self.alice(a_args, a_env), self.bob(b_args, b_env)
        code = a.call("pairing.generate", {"expires_s": 60})["code"]
        b.call("pairing.join", {"code": code, "peer": self.addr_of(a, "10.207.0.1")})
        self.until(lambda: self.connected(a, "bob") and self.connected(b, "alice"),
                   "both devices connected")
        return a, b

    def addr_of(self, d, ip):
        return f"/ip4/{ip}/tcp/{PORT}/p2p/{d.call('node.info')['peer_id']}"

    # ---- reused from the loopback cases (tests/integration/test_transfers.py) ----

    until = tt.Transfers.until
    connected = tt.Transfers.connected
    transfer = tt.Transfers.transfer
    wait_final = tt.Transfers.wait_final
    recv_dir = tt.Transfers.recv_dir
    leftovers = tt.Transfers.leftovers
    src = tt.Transfers.src
    make_tree = tt.Transfers.make_tree
    cli = tt.Transfers.cli

    def final_event(self, ev, tid, timeout=netns.TIMEOUT * 4):
        return ev.wait("transfer.state", lambda d: d["id"] == tid and d["state"] in FINAL,
                       timeout=timeout, what=f"transfer {tid[:8]} to end")

    def progress_at(self, ev, tid, at):
        """Bounded wait for the receiver to have written `at` bytes."""
        return ev.wait("transfer.progress", lambda d: d["id"] == tid and d["bytes"] >= at,
                       what=f"{at // MiB} MiB received")

    def restart(self, d, env=None):
        """The same instance (same data) again, as a new process."""
        ns = self.ns_a if d.instance == "alice" else self.ns_b
        return self.sdnetd(ns, d.instance, d.args, env)

    # ---- 1 GiB --------------------------------------------------------------

    def test_1gib_identical(self):
        path, want = big_1gib()
        a, b = self.paired()
        ev = self.events(a, ["transfer.*"])
        t0 = time.monotonic()
        tid = a.call("transfers.send", {"device": "bob", "paths": [path]})["id"]
        ta = self.final_event(ev, tid)
        elapsed = time.monotonic() - t0
        self.assertEqual(ta["state"], "completed", ta["error"])
        tb = self.wait_final(b, tid)
        self.assertEqual(tb["state"], "completed", tb["error"])
        got = os.path.join(self.recv_dir(b), "big.bin")
        self.assertEqual(tt.sha256_file(got), want)
        st = os.stat(got)
        self.assertEqual((st.st_size, st.st_mode & 0o7777, st.st_mtime_ns),
                         (GiB, 0o640, 1_700_000_000_000_000_001))
        # One attempt, every byte once.
        self.assertEqual((ta["attempts"], ta["bytes_moved"], tb["bytes_moved"]), (1, GiB, GiB))
        self.assertEqual(self.leftovers(b), [])
        print(f"\n1 GiB between namespaces in {elapsed:.2f} s ({GiB / elapsed / 1e6:.0f} MB/s), "
              f"SHA-256 identical")
        os.unlink(got)

    # ---- resume after a kill -----------------------------------------------------

    def kill_in_the_middle(self, victim_is_sender):
        path, want = big_1gib()
        a, b = self.paired(TEST, RATE)
        eb = self.events(b, ["transfer.*"])
        tid = a.call("transfers.send", {"device": "bob", "paths": [path]})["id"]
        self.progress_at(eb, tid, GiB // 2)
        # What the receiver holds durably right before the kill.
        durable = self.transfer(b, tid)["bytes_durable"]
        self.assertGreater(durable, 0)
        victim = a if victim_is_sender else b
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait(timeout=netns.TIMEOUT)
        t0 = time.monotonic()
        again = self.restart(victim, RATE)
        a, b = (again, b) if victim_is_sender else (a, again)
        ta = self.wait_final(a, tid)
        tb = self.wait_final(b, tid)
        resumed_in = time.monotonic() - t0
        self.assertEqual((ta["state"], tb["state"]), ("completed", "completed"),
                         (ta["error"], tb["error"]))
        self.assertEqual(tt.sha256_file(os.path.join(self.recv_dir(b), "big.bin")), want)
        self.assertEqual(self.leftovers(a), [])
        self.assertEqual(self.leftovers(b), [])
        return durable, ta, tb, resumed_in

    def test_receiver_killed_resumes(self):
        durable, ta, tb, took = self.kill_in_the_middle(victim_is_sender=False)
        resumed = tb["bytes_resumed"]
        # The restarted receiver resumed from its state record (at least
        # what it had made durable before the kill) and took only the rest.
        self.assertGreaterEqual(resumed, durable)
        self.assertLess(resumed, GiB)
        self.assertEqual(tb["bytes_moved"], GiB - resumed)
        # The sender's second attempt skipped exactly that much.
        self.assertEqual(ta["attempts"], 2)
        self.assertEqual(ta["bytes_resumed"], resumed)
        self.assertEqual(ta["bytes_attempt"], GiB - resumed)
        first = ta["bytes_moved"] - ta["bytes_attempt"]
        self.assertGreaterEqual(first, resumed)
        print(f"\nreceiver killed with {durable / MiB:.0f} MiB durable; resumed from "
              f"{resumed / MiB:.1f} MiB; sender moved {first / MiB:.1f} + "
              f"{ta['bytes_attempt'] / MiB:.1f} MiB; done {took:.1f} s after the restart")

    def test_sender_killed_resumes(self):
        durable, ta, tb, took = self.kill_in_the_middle(victim_is_sender=True)
        resumed = ta["bytes_resumed"]
        # The restarted sender resumed from its record and sent only the rest.
        self.assertGreaterEqual(resumed, durable)
        self.assertLess(resumed, GiB)
        self.assertEqual(ta["bytes_moved"], GiB - resumed)
        self.assertEqual(tb["bytes_resumed"], resumed)
        # The receiver (alive throughout) took only the rest in the second
        # attempt, after at least `resumed` bytes in the first.
        self.assertEqual(tb["bytes_attempt"], GiB - resumed)
        self.assertGreaterEqual(tb["bytes_moved"] - tb["bytes_attempt"], resumed)
        print(f"\nsender killed with {durable / MiB:.0f} MiB durable at the receiver; the "
              f"restarted sender resumed from {resumed / MiB:.1f} MiB and sent "
              f"{ta['bytes_moved'] / MiB:.1f} MiB; done {took:.1f} s after the restart")

    # ---- the link cut -------------------------------------------------------------

    def test_link_cut_and_restored(self):
        path, want = big_1gib()
        a, b = self.paired(TEST, RATE)
        ea = self.events(a, ["transfer.*"])
        eb = self.events(b, ["transfer.*"])
        tid = a.call("transfers.send", {"device": "bob", "paths": [path]})["id"]
        self.progress_at(eb, tid, GiB // 3)
        netns._ip("link", "set", self.if_a, "down", ns=self.ns_a)
        t0 = time.monotonic()
        # Both sides notice (keepalive every 1 s, gone after 3.5) and keep
        # what they have, though TCP has not given up on the connection.
        ea.wait("transfer.state", lambda d: d["id"] == tid and d["state"] == "interrupted",
                timeout=20, what="the sender to see the link gone")
        cut = time.monotonic() - t0
        tb = eb.wait("transfer.state",
                     lambda d: d["id"] == tid and d["state"] == "interrupted",
                     timeout=20, what="the receiver to see the link gone")
        # Its durable offset, once the checkpoint the interruption ran is in.
        durable = self.until(lambda: (lambda t: t["bytes_durable"] if t["bytes_durable"] >=
                                      tb["bytes_durable"] and t["bytes"] ==
                                      t["bytes_durable"] else None)(self.transfer(b, tid)),
                             "the receiver's last checkpoint")
        netns._ip("link", "set", self.if_a, "up", ns=self.ns_a)
        netns._ip("route", "add", "224.0.0.0/4", "dev", self.if_a, ns=self.ns_a, check=False)
        ta = self.final_event(ea, tid)
        tb = self.wait_final(b, tid)
        self.assertEqual((ta["state"], tb["state"]), ("completed", "completed"),
                         (ta["error"], tb["error"]))
        self.assertGreaterEqual(ta["attempts"], 2)
        # The receiver carried its durable offset over; the sender did not
        # send it again.
        self.assertGreaterEqual(tb["bytes_resumed"], durable)
        self.assertEqual(ta["bytes_resumed"], tb["bytes_resumed"])
        self.assertEqual(ta["bytes_attempt"], GiB - ta["bytes_resumed"])
        self.assertEqual(tt.sha256_file(os.path.join(self.recv_dir(b), "big.bin")), want)
        print(f"\nlink cut at >= {GiB // 3 // MiB} MiB: sender interrupted after {cut:.1f} s; "
              f"resumed from {tb['bytes_resumed'] / MiB:.1f} MiB "
              f"({durable / MiB:.0f} MiB durable at the cut) in {ta['attempts']} attempts")

    # ---- trees and names ---------------------------------------------------------

    def test_tree_of_1000_files(self):
        a, b = self.paired()
        photos = self.src("photos")
        os.makedirs(photos)
        n = self.make_tree(photos)
        self.assertEqual(n, 1000)
        before = tt.tree_snapshot(self.home.path("src"))
        ev = self.events(a, ["transfer.*"])
        t0 = time.monotonic()
        tid = a.call("transfers.send", {"device": "bob", "paths": [photos]})["id"]
        ta = self.final_event(ev, tid)
        elapsed = time.monotonic() - t0
        self.assertEqual(ta["state"], "completed", ta["error"])
        self.assertEqual(tt.tree_snapshot(self.recv_dir(b)), before)
        self.assertEqual(self.leftovers(b), [])
        print(f"\n{n} files in nested directories in {elapsed:.2f} s "
              f"({n / elapsed:.0f} files/s), modes and mtimes intact")

    def test_hostile_names(self):
        offered = [["..", "..", "etc", "passwd"], ["/etc/shadow"],
                   ["a\u0001b\u001b[31mred\u202e.txt"], ["x" * 1000 + ".txt"], ["CON"],
                   [".", "..", "..", "evil"]]
        a, b = self.paired(TEST, {"SDNETD_TEST_XFER_NAMES": json.dumps(offered)})
        # 10,000 characters is beyond what the protocol carries in one path
        # component: refused before anything is offered, saying why.
        a.kill()
        a = self.alice(TEST, {"SDNETD_TEST_XFER_NAMES": json.dumps([["x" * 10000]])})
        one = self.src("long")
        with open(one, "w") as f:
            f.write("long\n")
        r = a.rpc("transfers.send", {"device": "bob", "paths": [one]})
        self.assertIn("a name in its path is too long", r["error"]["message"])
        a.kill()
        a = self.alice(TEST, {"SDNETD_TEST_XFER_NAMES": json.dumps(offered)})
        self.until(lambda: self.connected(a, "bob"), "alice connected again")
        paths = []
        for i in range(len(offered)):
            p = self.src(f"f{i}")
            with open(p, "w") as f:
                f.write(f"file {i}\n")
            paths.append(p)
        parent = os.path.dirname(self.recv_dir(b))
        around = sorted(os.listdir(parent))
        passwd = os.stat("/etc/passwd").st_mtime_ns
        tid = a.call("transfers.send", {"device": "bob", "paths": paths})["id"]
        ta, tb = self.wait_final(a, tid), self.wait_final(b, tid)
        self.assertEqual((ta["state"], tb["state"]), ("completed", "completed"),
                         (ta["error"], tb["error"]))
        got = {}
        for d, _, files in os.walk(self.recv_dir(b)):
            for name in files:
                p = os.path.join(d, name)
                self.assertTrue(os.path.realpath(p).startswith(self.recv_dir(b) + "/"), p)
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

    # ---- a full disk --------------------------------------------------------------

    def test_full_disk_pauses_and_resumes(self):
        disk = self.home.path("small-disk")
        os.makedirs(disk)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk]).returncode:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", "-l", disk])
        a, b = self.paired(b_args=["--receive-dir", disk])
        f = self.src("twelve.bin")
        tt.big_file(f, 12)
        eb = self.events(b, ["transfer.*"])
        ea = self.events(a, ["transfer.*"])
        tid = a.call("transfers.send", {"device": "bob", "paths": [f]})["id"]
        tb = eb.wait("transfer.state", lambda d: d["id"] == tid and d["state"] == "paused",
                     what="the receiver to pause")
        self.assertIn(f"the disk holding {disk} is full", tb["error"])
        self.assertRegex(tb["error"], r"\(\d+ bytes free, \d+ more needed\)")
        ta = ea.wait("transfer.state", lambda d: d["id"] == tid and d["state"] == "paused",
                     what="the sender to pause")
        self.assertIn("paused by the receiver: the disk holding", ta["error"])
        kept = os.path.getsize(os.path.join(disk, ".sdnetd-partial", tid, "0.part"))
        self.assertGreater(kept, 0)
        # Room again: the sender asks again (every 3 s) and it resumes.
        subprocess.run(["mount", "-o", "remount,size=32m", disk], check=True)
        ta = self.final_event(ea, tid)
        tb = self.wait_final(b, tid)
        self.assertEqual((ta["state"], tb["state"]), ("completed", "completed"),
                         (ta["error"], tb["error"]))
        self.assertGreater(tb["bytes_resumed"], 0)
        self.assertEqual(tt.sha256_file(os.path.join(disk, "twelve.bin")), tt.sha256_file(f))
        print(f"\ndisk full after {kept / MiB:.1f} MiB; resumed from "
              f"{tb['bytes_resumed'] / MiB:.1f} MiB once there was room")

    # ---- Spacedrop to an unpaired device found over mDNS ----------------------------------

    def spacedrop(self, d, *args):
        return subprocess.Popen([SPACEDRIVE, "--instance", d.instance, "network", "spacedrop",
                                 *args], env=d.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def test_spacedrop_unpaired_over_mdns(self):
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        self.ns_a, self.ns_b, self.if_a, self.if_b = ns_a, ns_b, "xa0", "xb0"
        carol = self.sdnetd(ns_a, "carol", LISTEN + ["--mdns-interface", "xa0"])
        bob = self.bob()
        id_b = bob.call("node.info")["peer_id"]
        id_c = carol.call("node.info")["peer_id"]
        found = self.events(carol, ["discovery.*"])
        eb = self.events(bob, ["spacedrop.*", "transfer.*"])
        self.net.veth(ns_a, "xa0", ns_b, "xb0")
        self.net.addr(ns_a, "xa0", "10.207.0.1/24")
        self.net.addr(ns_b, "xb0", "10.207.0.2/24")
        self.net.up(ns_a, "xa0")
        self.net.up(ns_b, "xb0")
        found.wait("discovery.peer_found", lambda d: d["peer_id"] == id_b,
                   what="carol finding bob over mDNS")
        self.assertEqual(bob.call("devices.list")["devices"], [])
        f = self.src("pic.jpg")
        with open(f, "wb") as fh:
            fh.write(os.urandom(300_000))
        for answer in ("reject", "accept"):
            with self.subTest(answer=answer):
                # Bob's peer ID is all carol has: the address comes from mDNS.
                p = self.spacedrop(carol, id_b, f, "--message", f"please {answer}")
                req = eb.wait("spacedrop.request", what="bob being asked")
                # Never auto-accepted: an unpaired sender waits for the user.
                self.assertEqual((req["peer_name"], req["peer_id"], req["device_id"],
                                  req["message"], req["names"], req["state"]),
                                 ("carol", id_c, None, f"please {answer}", ["pic.jpg"],
                                  "pending"))
                listed = bob.call("spacedrop.list")
                self.assertIn(req["id"], json.dumps(listed))
                r = self.cli(bob, "network", "spacedrop", answer, req["id"][:8])
                self.assertEqual(r.returncode, 0, r.stderr)
                out, err = p.communicate(timeout=netns.TIMEOUT)
                if answer == "reject":
                    self.assertEqual(p.returncode, 1, out)
                    # Carol knows bob only by his peer ID.
                    self.assertIn(f"rejected: {id_b} declined the transfer", err)
                    self.assertEqual(os.listdir(self.recv_dir(bob)), [])
                else:
                    self.assertEqual(p.returncode, 0, err)
                    self.assertEqual(tt.sha256_file(os.path.join(self.recv_dir(bob),
                                                                 "pic.jpg")),
                                     tt.sha256_file(f))
        # Still not paired: Spacedrop does not pair.
        self.assertEqual(bob.call("devices.list")["devices"], [])


if __name__ == "__main__":
    netns.main()
