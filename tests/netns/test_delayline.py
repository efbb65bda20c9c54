"""tests/netns/delayline.c itself, between two namespaces with a UDP echo
server in one and a client in the other: every packet waits the delay in
each direction and arrives in order; --loss 100 drops everything (counted)
and `loss 0` on stdin brings the link back; a full queue refuses packets
(counted as overflow) instead of growing; SIGTERM prints the final
counters, exits 0 and takes both devices away.

Skipped (exit 77) without root or `ip netns`."""

import json
import subprocess
import sys

import netns

ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.207.0.2", 7000))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(data, addr)
"""

# argv: count, gap_s, wait_s. Sends count numbered datagrams gap_s apart
# (0: a burst) and prints, as JSON, each echo's number and RTT in ms, in
# arrival order, once all came back or nothing came for wait_s.
CLIENT = r"""
import json, socket, sys, time
n, gap, wait = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("10.207.0.2", 7000))
sent, got = {}, []
for i in range(n):
    sent[i] = time.monotonic()
    s.send(str(i).encode())
    if gap:
        time.sleep(gap)
s.settimeout(wait)
while len(got) < n:
    try:
        data = s.recv(2048)
    except TimeoutError:
        break
    i = int(data)
    got.append([i, (time.monotonic() - sent[i]) * 1000])
print(json.dumps(got))
"""


class DelayLineTest(netns.Case):
    tag = "d"

    def link(self, delay_ms, loss=0.0, queue=None):
        ns_a, ns_b = self.net.ns("a"), self.net.ns("b")
        line = netns.DelayLine(ns_a, "dla0", ns_b, "dlb0", delay_ms, loss, seed=1,
                               queue=queue)
        self.net.lines.append(line)
        for ns, ifname, cidr in ((ns_a, "dla0", "10.207.0.1/24"),
                                 (ns_b, "dlb0", "10.207.0.2/24")):
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            f"net.ipv6.conf.{ifname}.disable_ipv6=1"], check=True,
                           timeout=netns.TIMEOUT)
            self.net.addr(ns, ifname, cidr)
            netns._ip("link", "set", ifname, "up", ns=ns)
        echo = subprocess.Popen(["ip", "netns", "exec", ns_b, sys.executable, "-c", ECHO],
                                stdout=subprocess.PIPE, text=True)
        self.closers.append(lambda: (echo.kill(), echo.wait(), echo.stdout.close()))
        self.assertEqual(echo.stdout.readline().strip(), "ready")
        return ns_a, line

    def client(self, ns, n, gap=0.0, wait=2.0):
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, str(n),
                            str(gap), str(wait)], capture_output=True, text=True,
                           timeout=netns.TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_delay_each_way_in_order(self):
        ns_a, line = self.link(50)
        got = self.client(ns_a, 20)
        self.assertEqual([i for i, _ in got], list(range(20)), "all back, in order")
        rtts = [ms for _, ms in got]
        # 50 ms each way: never less; more only by scheduling, far less than
        # another round of the delay.
        self.assertGreaterEqual(min(rtts), 100)
        self.assertLess(max(rtts), 100 + 100)
        st = line.stats()
        self.assertEqual((st["ab-forwarded"], st["ba-forwarded"]), (20, 20), st)
        self.assertEqual(st["ab-lost"] + st["ba-lost"] + st["ab-overflow"], 0, st)
        print(f"\nRTT over 50 ms each way: {min(rtts):.1f}..{max(rtts):.1f} ms")

    def test_loss_all_then_none(self):
        ns_a, line = self.link(5, loss=100)
        # Nothing comes back: the wait is meant to run out.
        self.assertEqual(self.client(ns_a, 10, wait=0.5), [])
        st = line.stats()
        self.assertEqual(st["ab-lost"], 10, st)
        self.assertEqual(st["ab-forwarded"], 0, st)
        line.set_loss(0)
        self.assertEqual(len(self.client(ns_a, 10)), 10)

    def test_full_queue_refuses(self):
        ns_a, line = self.link(300, queue=4)
        got = self.client(ns_a, 20, wait=1.5)
        st = line.stats()
        # Four fit in the queue towards b; the burst's rest is refused.
        self.assertEqual(st["ab-forwarded"] + st["ab-overflow"], 20, st)
        self.assertEqual(st["ab-forwarded"], 4, st)
        self.assertEqual(len(got), 4)

    def test_sigterm_exits_cleanly(self):
        ns_a, line = self.link(1)
        self.assertEqual(len(self.client(ns_a, 3)), 3)
        final = line.stop()
        self.assertEqual(line.proc.returncode, 0)
        self.assertEqual(final["ab-forwarded"], 3, final)
        r = netns._ip("link", "show", "dla0", ns=ns_a, check=False)
        self.assertNotEqual(r.returncode, 0, "the TUN device outlived the delay line")


if __name__ == "__main__":
    netns.main()
