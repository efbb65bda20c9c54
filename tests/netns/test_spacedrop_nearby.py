"""Spacedrop to a nearby device by the name it advertises over mDNS
(issue 7; docs/protocols/mdns.md "sd-name="): daemons in two network
namespaces joined by a veth pair, real mDNS on it.

- spacedrop.nearby (and `network spacedrop nearby`, human and --json)
  lists the other device by its name, unpaired, with its address;
- `network spacedrop NAME` (a case-insensitive prefix of it) reaches it:
  the receiver is asked, accepts, and the file arrives intact; a name that
  matches nobody, and one that matches two devices, fail clearly (the
  second listing both peer IDs); the exact name still wins;
- a rename over RPC is announced and seen at once (discovery.peer_updated
  carries the name);
- with spacedrop-discoverable = false the device is still listed but
  without a name, and cannot be reached by name; turning it on in the
  config file and sending SIGHUP announces the name.

Waits are bounded polls of the other daemon's list. Skipped (exit 77)
without root or `ip netns`."""

import json
import os
import signal
import subprocess

import netns
import test_transfers as tt  # tests/integration: file helpers

SPACEDRIVE = tt.SPACEDRIVE
PORT = 4113


class SpacedropNearby(netns.Case):
    tag = "n"

    until = tt.Transfers.until
    src = tt.Transfers.src
    recv_dir = tt.Transfers.recv_dir
    cli = tt.Transfers.cli

    def link(self):
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        self.net.veth(ns_a, "nba0", ns_b, "nbb0")
        self.net.addr(ns_a, "nba0", "10.213.0.1/24")
        self.net.addr(ns_b, "nbb0", "10.213.0.2/24")
        self.net.up(ns_a, "nba0")  # also routes 224.0.0.0/4 there
        self.net.up(ns_b, "nbb0")
        return ns_a, ns_b

    def daemon_in(self, ns, ifname, instance, name, port=PORT, args=()):
        return self.sdnetd(ns, instance, ["--listen", f"/ip4/0.0.0.0/tcp/{port}",
                                          "--mdns-interface", ifname, "--device-name", name,
                                          *args])

    def nearby(self, d, peer_id):
        for p in d.call("spacedrop.nearby")["peers"]:
            if p["peer_id"] == peer_id:
                return p
        return None

    def named(self, d, peer_id, name):
        """Bounded wait until d lists peer_id nearby under name (None: no
        name)."""
        return self.until(lambda: (lambda p: p if p and p["name"] == name else None)(
            self.nearby(d, peer_id)), f"{peer_id[-6:]} listed as {name!r}",
            describe=lambda: json.dumps(d.call("spacedrop.nearby")))

    def spacedrop(self, d, *args):
        return subprocess.Popen([SPACEDRIVE, "--instance", d.instance, "network", "spacedrop",
                                 *args], env=d.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def test_spacedrop_by_nearby_name(self):
        ns_a, ns_b = self.link()
        carol = self.daemon_in(ns_a, "nba0", "carol", "Carol's Laptop")
        bob = self.daemon_in(ns_b, "nbb0", "bob", "Bob's Desk \u00e9")
        id_b = bob.call("node.info")["peer_id"]
        id_c = carol.call("node.info")["peer_id"]

        p = self.named(carol, id_b, "Bob's Desk \u00e9")
        self.assertFalse(p["paired"])
        self.assertIsNone(p["device_id"])
        self.assertIn(f"/ip4/10.213.0.2/tcp/{PORT}", p["addresses"])
        self.assertEqual(p["interfaces"], ["nba0"])
        self.assertGreaterEqual(p["last_seen_ms"], 0)
        self.assertTrue(0 < p["expires_in_ms"] <= 120_000, p)
        self.assertTrue(carol.call("spacedrop.nearby")["mdns"])
        self.named(bob, id_c, "Carol's Laptop")

        r = self.cli(carol, "network", "spacedrop", "nearby")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^NAME +PEER ID +PAIRED +SEEN +ADDRESS\n")
        line = next(ln for ln in r.stdout.splitlines() if id_b in ln)
        self.assertTrue(line.startswith("Bob's Desk \u00e9 "), line)
        self.assertIn(" no ", line)
        r = self.cli(carol, "--json", "network", "spacedrop", "nearby")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(id_b, [x["peer_id"] for x in json.loads(r.stdout)])

        # By a case-insensitive prefix of the advertised name.
        f = self.src("note.txt")
        with open(f, "wb") as fh:
            fh.write(os.urandom(100_000))
        ev = self.events(bob, ["spacedrop.*"])
        proc = self.spacedrop(carol, "bob's", f, "--message", "by name")
        req = ev.wait("spacedrop.request", what="bob being asked")
        self.assertEqual((req["peer_id"], req["peer_name"], req["device_id"], req["message"],
                          req["state"]), (id_c, "Carol's Laptop", None, "by name", "pending"))
        bob.call("spacedrop.accept", {"id": req["id"]})
        out, err = proc.communicate(timeout=netns.TIMEOUT * 2)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(tt.sha256_file(os.path.join(self.recv_dir(bob), "note.txt")),
                         tt.sha256_file(f))
        self.assertEqual(bob.call("devices.list")["devices"], [])

        # Nobody of that name.
        r = self.cli(carol, "network", "spacedrop", "nobody", f)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no paired or nearby device named 'nobody'; run `spacedrive network "
                      "spacedrop nearby`", r.stderr)

        # A second "Bob's ..." nearby: the prefix is ambiguous, the exact name is not.
        dave = self.daemon_in(ns_b, "nbb0", "dave", "Bob's Laptop", port=PORT + 1)
        id_d = dave.call("node.info")["peer_id"]
        self.named(carol, id_d, "Bob's Laptop")
        r = self.cli(carol, "network", "spacedrop", "BOB'S", f)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("2 nearby devices are named 'BOB'S'", r.stderr)
        self.assertIn(id_b, r.stderr)
        self.assertIn(id_d, r.stderr)
        ed = self.events(dave, ["spacedrop.*"])
        proc = self.spacedrop(carol, "Bob's Laptop", f, "--detach")
        out, err = proc.communicate(timeout=netns.TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        req = ed.wait("spacedrop.request", what="dave being asked")
        self.assertEqual(req["peer_id"], id_c)

        # A rename is announced at once, and apps hear of it.
        ec = self.events(carol, ["discovery.*"])
        bob.call("node.set_device_name", {"name": "Kitchen"})
        ec.wait("discovery.peer_updated",
                lambda d: d["peer_id"] == id_b and d["name"] == "Kitchen",
                what="discovery.peer_updated with bob's new name")
        self.named(carol, id_b, "Kitchen")

    def test_not_discoverable(self):
        ns_a, ns_b = self.link()
        carol = self.daemon_in(ns_a, "nba0", "carol", "Carol's Laptop")
        cfg = self.home.write(self.home.config_path("bob"), "spacedrop-discoverable = false\n")
        bob = self.daemon_in(ns_b, "nbb0", "bob", "Bob's Desk")
        id_b = bob.call("node.info")["peer_id"]
        # Found (its addresses are announced as ever), but nameless.
        p = self.named(carol, id_b, None)
        self.assertIn(f"/ip4/10.213.0.2/tcp/{PORT}", p["addresses"])
        f = self.src("x.txt")
        with open(f, "w") as fh:
            fh.write("x")
        r = self.cli(carol, "network", "spacedrop", "Bob's Desk", f)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no paired or nearby device named 'Bob's Desk'", r.stderr)
        r = self.cli(carol, "network", "spacedrop", "nearby")
        line = next(ln for ln in r.stdout.splitlines() if id_b in ln)
        self.assertTrue(line.startswith("- "), line)

        # Turned on in the file: SIGHUP announces the name.
        self.home.write(cfg, "spacedrop-discoverable = true\n")
        bob.send_signal(signal.SIGHUP)
        bob.notify.wait_for("READY=1", bob.proc)
        self.named(carol, id_b, "Bob's Desk")
        self.assertEqual(bob.stop(), 0)
        self.assertIn("reload: spacedrop-discoverable false -> true", bob.stderr())


if __name__ == "__main__":
    netns.main()
