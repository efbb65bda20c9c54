"""Helpers for the sdnetd integration suite: private XDG directories per
test, daemons started with their own $NOTIFY_SOCKET (readiness is the
READY=1 datagram, never a sleep), JSON-RPC over the control socket, and
snapshots of a data directory. Standard library only."""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SDNETD = os.environ.get("SDNETD", os.path.join(os.getcwd(), "daemon", "sdnetd"))
# Upper bound on any single wait; generous for slow CI machines, never
# waited out by a passing test.
TIMEOUT = float(os.environ.get("SDNETD_TEST_TIMEOUT", "30"))
# What a sanitizer prints (ASan, LSan, UBSan).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
# Lines of each daemon's stderr printed when a test fails.
LOG_TAIL_LINES = 200

# Variables that would make sdnetd look somewhere else than our temp dirs.
_SCRUB = (
    "STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CONFIGURATION_DIRECTORY",
    "CREDENTIALS_DIRECTORY", "JOURNAL_STREAM", "NOTIFY_SOCKET", "LISTEN_FDS",
    "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID",
)


class Home:
    """A private set of XDG directories (and HOME) for one test."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="sdit-", dir="/tmp")
        self.env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        self.env.update(
            HOME=self.path("home"),
            XDG_DATA_HOME=self.path("data"),
            XDG_CONFIG_HOME=self.path("config"),
            XDG_RUNTIME_DIR=self.path("run"),
        )
        for d in ("home", "data", "config", "run"):
            os.makedirs(self.path(d), mode=0o700)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def socket_path(self, instance):
        return self.path("run", "spacedrive", instance, "sdnetd.sock")

    def data_dir(self, instance):
        return self.path("data", "spacedrive", instance, "network")

    def config_path(self, instance):
        return self.path("config", "spacedrive", instance, "sdnetd.conf")

    def write(self, path, text, mode=0o600):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


class Notify:
    """The service manager's end of $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait_for(self, line, proc=None, timeout=TIMEOUT):
        """Wait for a datagram containing `line` (e.g. READY=1) that was
        not seen before; returns the whole message. Fails early if proc
        exits first."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.messages):
                if line in m.split("\n"):
                    del self.messages[: i + 1]
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {line} on NOTIFY_SOCKET within {timeout} s")
            # Poll the process at most every 0.2 s so a daemon that died
            # is reported at once instead of at the deadline.
            ready, _, _ = select.select([self.sock], [], [], min(left, 0.2))
            if ready:
                self.messages.append(self.sock.recv(4096).decode())
            elif proc is not None and proc.poll() is not None:
                raise AssertionError(f"sdnetd exited with {proc.returncode} before {line}")

    def close(self):
        self.sock.close()


def mdns_safe(args):
    """args plus --no-mdns unless they choose mDNS interfaces themselves:
    a test daemon must never send mDNS on the machine's real interfaces
    (tests/netns runs mDNS on veths inside namespaces it creates)."""
    args = list(args)
    if not any(a == "--no-mdns" or a.startswith("--mdns-interface") for a in args):
        args.append("--no-mdns")
    return args


class Daemon:
    """One sdnetd process with its own notify socket and log files."""

    count = 0

    def __init__(self, home, instance="alice", args=(), env=None):
        Daemon.count += 1
        self.home = home
        self.instance = instance
        self.args = list(args)
        self.env = dict(home.env)
        self.env.update(env or {})
        self.n = Daemon.count
        self.proc = None
        self.notify = None

    def start(self, wait=True, pass_fds=(), argv=None):
        self.notify = Notify(self.home.path(f"notify-{self.n}"))
        self.env["NOTIFY_SOCKET"] = self.notify.path
        self.out_path = self.home.path(f"stdout-{self.n}")
        self.err_path = self.home.path(f"stderr-{self.n}")
        cmd = argv or [SDNETD, "--instance", self.instance, *mdns_safe(self.args)]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=self.env,
                                         stdin=subprocess.DEVNULL, pass_fds=pass_fds)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        return self.notify.wait_for("READY=1", self.proc)

    @property
    def pid(self):
        return self.proc.pid

    @property
    def socket_path(self):
        return self.home.socket_path(self.instance)

    def stdout(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def connect(self, path=None):
        return Conn(path or self.socket_path)

    def rpc(self, method, params=None, path=None):
        with self.connect(path) as c:
            return c.request(method, params)

    def call(self, method, params=None):
        resp = self.rpc(method, params)
        if "result" not in resp:
            raise AssertionError(f"{method}: {resp}")
        return resp["result"]

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def stop(self, sig=signal.SIGTERM):
        self.send_signal(sig)
        return self.wait_exit()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        if self.notify:
            self.notify.close()


class Conn:
    """A JSON-RPC connection: newline-delimited JSON over the Unix socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1
        self.pending = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "method": method, "id": rid}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            resp = self.read()
            if resp.get("id") == rid:
                return resp
            self.pending.append(resp)  # an event that came first

    def wait_event(self, kind):
        """The next pushed event of this kind (bounded by the socket
        timeout)."""
        while True:
            for i, m in enumerate(self.pending):
                if m.get("method") == "event" and m["params"]["kind"] == kind:
                    del self.pending[i]
                    return m["params"]["data"]
            self.pending.append(self.read())


def snapshot(root):
    """{relative path: (mode, bytes)} of every file and directory."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            data = None
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    data = f.read()
            out[os.path.relpath(p, root)] = (st.st_mode, data)
    return out


class Case(unittest.TestCase):
    """Each test gets its own Home; daemons it started are killed after."""

    def setUp(self):
        self.home = Home()
        self.daemons = []
        # Run at tearDown while the home still exists (addCleanup runs
        # after it): stopping daemons the test started through the CLI.
        self.before_cleanup = []

    def tearDown(self):
        for fn in reversed(self.before_cleanup):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                print(f"cleanup: {e}", file=sys.stderr)
        for d in self.daemons:
            d.kill()
        findings = self._sanitizer_findings()
        if self._failed():
            # What each daemon logged, so a failure in CI can be read
            # without running it again.
            for d in self.daemons:
                text = d.stderr()
                tail = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
                print(f"\n--- {d.instance} (daemon {d.n}) stderr, last {LOG_TAIL_LINES} lines "
                      f"---\n{tail}", file=sys.stderr)
        self.home.cleanup()
        if findings:
            self.fail("sanitizer finding in a daemon:\n" + "\n".join(findings))

    def _sanitizer_findings(self):
        """Sanitizer builds: AddressSanitizer, LeakSanitizer (at a clean
        exit) or UBSan output in any daemon's log fails the test."""
        out = []
        for d in self.daemons:
            if not d.proc:
                continue
            lines = d.stderr().splitlines()
            for i, line in enumerate(lines):
                if any(k in line for k in SANITIZER_MARKS):
                    out.append(f"{d.instance} (daemon {d.n}): " + "\n".join(lines[i:i + 20]))
                    break
        return out

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(t is self for t, _ in result.errors + result.failures)

    def daemon(self, instance="alice", args=(), env=None, start=True, wait=True):
        d = Daemon(self.home, instance, args, env)
        self.daemons.append(d)
        if start:
            d.start(wait=wait)
        return d


def main():
    if not os.access(SDNETD, os.X_OK):
        raise SystemExit(f"sdnetd not found at {SDNETD}; set SDNETD")
    unittest.main(verbosity=2)
