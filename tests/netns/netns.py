"""Helpers for sdnetd's netns suite: network namespaces joined by veth
pairs, or by the TUN delay line (tests/netns/delayline.c: a fixed delay and
random loss each way, for kernels without sch_netem), created by each test
and deleted after it (even when it fails, and at exit if a test was
interrupted), with sdnetd daemons and js-libp2p nodes running inside them.
mDNS only ever runs on those links: nothing is sent on the machine's real
interfaces.

Needs root and `ip netns`; without them every test exits 77 (skipped) with
a message saying why. Waits are bounded and event-driven (RPC events, JSON
lines read with select()); nothing sleeps to let something happen.
Standard library only."""

import atexit
import os
import select
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))

import harness  # noqa: E402
import interop  # noqa: E402

TIMEOUT = harness.TIMEOUT
SDNETD = harness.SDNETD
# tests/netns/delayline.c, built by meson next to this suite.
DELAYLINE = os.environ.get(
    "SDNETD_DELAYLINE", os.path.join(os.path.dirname(os.path.dirname(SDNETD)), "tests",
                                     "netns", "delayline"))
# Namespaces made by this process, deleted at exit whatever happened.
_made = []


def _ip(*args, ns=None, check=True):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + ["ip", *args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r


def skip_unless_possible():
    """Exit 77 (meson: skipped) unless we are root and can make a
    namespace."""
    if os.geteuid() != 0:
        print("SKIP: the netns suite needs root (it creates network namespaces and veth "
              "pairs); run `sudo meson test --suite netns`", file=sys.stderr)
        sys.exit(77)
    if not shutil.which("ip"):
        print("SKIP: the netns suite needs iproute2's `ip`", file=sys.stderr)
        sys.exit(77)
    probe = f"sdprobe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(f"SKIP: `ip netns add` does not work here: {r.stderr.strip()}", file=sys.stderr)
        sys.exit(77)
    subprocess.run(["ip", "netns", "del", probe], stderr=subprocess.DEVNULL)


def _cleanup_all():
    for ns in list(_made):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        _made.remove(ns)


atexit.register(_cleanup_all)


class DelayLine:
    """A running tests/netns/delayline: TUN device dev_a in ns_a and dev_b
    in ns_b, every packet forwarded between them delay_ms late and dropped
    with probability loss_pct % (each direction on its own). The devices
    exist once the constructor returns; they are deleted by stop()."""

    def __init__(self, ns_a, dev_a, ns_b, dev_b, delay_ms, loss_pct=0.0, seed=None,
                 queue=None):
        if not os.access(DELAYLINE, os.X_OK):
            raise AssertionError(f"delayline not found at {DELAYLINE}; set SDNETD_DELAYLINE")
        cmd = [DELAYLINE, "--ns-a", ns_a, "--dev-a", dev_a, "--ns-b", ns_b, "--dev-b", dev_b,
               "--delay-ms", str(delay_ms), "--loss", str(loss_pct)]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        if queue is not None:
            cmd += ["--queue", str(queue)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.PIPE)
        self.buf = b""
        self.final = None
        line = self._line()
        if not line.startswith("ready "):
            raise AssertionError(f"delayline: {line!r}")
        self.ready = dict(kv.split("=", 1) for kv in line.split()[1:])

    def _line(self, timeout=TIMEOUT):
        """The next stdout line, within timeout (select(), no sleep); the
        helper's stderr when it exits instead."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"delayline: no line within {timeout} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait(timeout=TIMEOUT)
                    err = self.proc.stderr.read().decode(errors="replace").strip()
                    raise AssertionError(f"delayline exited {self.proc.returncode}: {err}")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    @staticmethod
    def _parse(line):
        if not line.startswith("stats "):
            raise AssertionError(f"delayline: expected stats, got {line!r}")
        return {k: int(v) for k, v in (kv.split("=", 1) for kv in line.split()[1:])}

    def _command(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        return self._line()

    def set_loss(self, pct):
        """Drop pct % of the packets from now on, each direction."""
        line = self._command(f"loss {pct}")
        if not line.startswith("ok "):
            raise AssertionError(f"delayline: loss {pct}: {line}")

    def set_delay(self, ms):
        """Delay packets read from now on by ms, each direction."""
        line = self._command(f"delay {ms}")
        if not line.startswith("ok "):
            raise AssertionError(f"delayline: delay {ms}: {line}")

    def stats(self):
        """Counters so far: {ab-forwarded, ab-lost, ab-overflow, ab-failed,
        ba-...} (ab: from dev_a to dev_b); the final ones once stopped."""
        if self.final is not None:
            return self.final
        return self._parse(self._command("stats"))

    def stop(self):
        """SIGTERM: the helper prints its final counters and exits 0,
        deleting both devices. Idempotent; returns the final counters."""
        if self.final is None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.final = self._parse(self._line())
            rc = self.proc.wait(timeout=TIMEOUT)
            if rc != 0:
                raise AssertionError(f"delayline exited {rc}")
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()
        return self.final


class Net:
    """Namespaces (deleted with their veths and delay lines by close()) for
    one test."""

    def __init__(self, tag):
        self.prefix = f"sd{tag}{os.getpid()}"
        self.names = []
        self.lines = []

    def ns(self, name):
        full = f"{self.prefix}{name}"
        _ip("netns", "add", full)
        _made.append(full)
        self.names.append(full)
        _ip("link", "set", "lo", "up", ns=full)
        return full

    def veth(self, ns_a, if_a, ns_b, if_b):
        """A veth pair made directly inside the two namespaces (its names
        never exist outside them), links left down."""
        _ip("link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns",
            ns_b)

    def addr(self, ns, ifname, cidr, add=True):
        _ip("addr", "add" if add else "del", cidr, "dev", ifname, ns=ns)

    def up(self, ns, ifname):
        """Link up, then the multicast route mDNS stacks without an
        explicit interface (js's multicast-dns) need."""
        _ip("link", "set", ifname, "up", ns=ns)
        _ip("route", "add", "224.0.0.0/4", "dev", ifname, ns=ns)

    def delay_link(self, ns_a, if_a, cidr_a, ns_b, if_b, cidr_b, delay_ms, loss_pct=0.0,
                   seed=None, multicast=True):
        """Join ns_a and ns_b through a DelayLine (what `tc qdisc add dev X
        root netem delay Nms loss P%` on both ends would do where the
        kernel has sch_netem): TUN devices if_a and if_b with addresses
        cidr_a and cidr_b (same subnet: the connected route of each side
        covers the other), up, with the multicast route as up() adds.
        delay_ms and loss_pct apply to each direction. Returns the
        DelayLine (stats(), stop()); close() stops it."""
        line = DelayLine(ns_a, if_a, ns_b, if_b, delay_ms, loss_pct, seed)
        self.lines.append(line)
        for ns, ifname, cidr in ((ns_a, if_a, cidr_a), (ns_b, if_b, cidr_b)):
            # A TUN device is layer 3 point-to-point: no ARP, and IPv6
            # autoconfiguration would only add noise to the counters.
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            f"net.ipv6.conf.{ifname}.disable_ipv6=1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=TIMEOUT)
            self.addr(ns, ifname, cidr)
            if multicast:
                self.up(ns, ifname)
            else:
                _ip("link", "set", ifname, "up", ns=ns)
        return line

    def close(self):
        for line in self.lines:
            try:
                line.stop()
            except (AssertionError, OSError, subprocess.SubprocessError):
                pass
        self.lines = []
        for ns in self.names:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
            if ns in _made:
                _made.remove(ns)
        self.names = []


class Events:
    """A control connection subscribed to a daemon's events, with
    predicate waits."""

    def __init__(self, daemon, kinds=None):
        self.c = daemon.connect()
        params = {"kinds": kinds} if kinds is not None else {}
        r = self.c.request("events.subscribe", params)
        if "result" not in r:
            raise AssertionError(f"events.subscribe: {r}")

    def wait(self, kind, pred=lambda d: True, timeout=TIMEOUT, what=None):
        """The first unconsumed event of this kind whose data satisfies
        pred (others stay queued, for later waits and checks)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.c.pending):
                if (m.get("method") == "event" and m["params"]["kind"] == kind
                        and pred(m["params"]["data"])):
                    del self.c.pending[i]
                    return m["params"]["data"]
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [m["params"]["data"] for m in self.c.pending
                        if m.get("method") == "event" and m["params"]["kind"] == kind]
                raise AssertionError(f"no {what or kind} within {timeout} s; "
                                     f"{kind} events seen: {seen}")
            self.c.sock.settimeout(left)
            try:
                self.c.pending.append(self.c.read())
            except TimeoutError:
                pass
            finally:
                self.c.sock.settimeout(TIMEOUT)

    def events(self, kind_prefix=""):
        """Every event received so far (kind, data), unconsumed."""
        return [(m["params"]["kind"], m["params"]["data"]) for m in self.c.pending
                if m.get("method") == "event" and m["params"]["kind"].startswith(kind_prefix)]

    def close(self):
        self.c.close()


class NsJsPeer(interop.JsPeer):
    """interop.JsPeer, but the node process runs inside a namespace."""

    def __init__(self, root, ns, script, args=(), name="js"):
        self.name = name
        self.err_path = os.path.join(root, f"{name}.stderr")
        self.out_path = os.path.join(root, f"{name}.stdout")
        self.log = open(self.out_path, "w", encoding="utf-8")
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(["ip", "netns", "exec", ns, interop.NODE, script,
                                          *args], cwd=interop.HERE, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err)
        self.buf = b""
        self.pending = []
        self.next_id = 1
        ready = self.wait(lambda m: m.get("event") == "ready")
        self.peer_id = ready["peerId"]
        self.addrs = ready.get("addrs", [])
        self.addr = self.addrs[0] if self.addrs else None


class Case(harness.Case):
    """A harness.Case with namespaces, daemons inside them, and cleanup
    of all of it after each test."""

    tag = "t"

    def setUp(self):
        super().setUp()
        self.net = Net(self.tag)
        self.closers = []

    def tearDown(self):
        for c in reversed(self.closers):
            try:
                c()
            except Exception:  # noqa: BLE001 - cleanup goes on
                pass
        # meson shows a test's output only when it fails (or with -v).
        for d in self.daemons:
            try:
                print(f"--- sdnetd {d.instance} stderr (tail) ---\n{d.stderr()[-4000:]}",
                      file=sys.stderr)
            except (OSError, AttributeError):
                pass
        super().tearDown()
        self.net.close()

    def sdnetd(self, ns, instance, args=(), env=None):
        """A daemon inside ns. args must choose mDNS interfaces (or
        --no-mdns): the harness adds --no-mdns otherwise."""
        d = harness.Daemon(self.home, instance, args, env)
        self.daemons.append(d)
        d.start(argv=["ip", "netns", "exec", ns, SDNETD, "--instance", instance,
                      *harness.mdns_safe(args)])
        return d

    def events(self, d, kinds=None):
        ev = Events(d, kinds)
        self.closers.append(ev.close)
        return ev

    def js(self, ns, script, args=(), name="js"):
        p = NsJsPeer(self.home.root, ns, script, args, name)
        self.closers.append(p.close)
        return p


def main():
    skip_unless_possible()
    # meson's timeout sends SIGTERM: turn it into an exception so tearDown
    # and atexit still take the namespaces down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    harness.main()
