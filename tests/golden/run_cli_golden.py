#!/usr/bin/env python3
"""Golden tests for the `spacedrive` CLI: human and --json output and exit
codes, compared with committed files in tests/golden/cli/.

Each case runs the CLI in a private environment (HOME, XDG_* under a fresh
temporary directory, no systemd variables) and records its exit code,
stdout and stderr. Fields that differ from run to run are replaced before
comparing: the temporary directory, peer IDs, UUIDs, pids, uptimes, ports,
the version, RPC counters.

Cases that need a daemon start a real sdnetd through `spacedrive start` on
the instance "golden", listening on 127.0.0.1 only, without mDNS, and stop it
at the end (killing it if the CLI could not). The network cases start a
second instance, "golden-b", the same way and connect, ping and disconnect
between the two. They run only when the built
sdnetd has the options they use; otherwise they are reported as skipped.

SDNETD_UPDATE_GOLDEN=1 writes the expected files instead of comparing; review
the diff before committing it.
"""
import argparse
import ctypes
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile

INSTANCE = "golden"
LISTEN = "/ip4/127.0.0.1/tcp/0"
I = ["--instance", INSTANCE]

# (name, arguments). Run in order; no daemon runs for these.
OFFLINE_CASES = [
    ("help", ["--help"]),
    ("help-command", ["network", "info", "--help"]),
    ("help-start", ["start", "--help"]),
    ("version", ["--version"]),
    ("usage-no-command", []),
    ("usage-unknown-command", ["bogus"]),
    ("usage-unknown-subcommand", ["network", "bogus"]),
    ("usage-needs-subcommand", ["network"]),
    ("usage-unknown-option", ["--bogus", "status"]),
    ("usage-unknown-short-option", ["-x", "status"]),
    ("usage-missing-value", ["--instance"]),
    ("usage-abbreviated-option", ["--inst", "golden", "status"]),
    ("usage-value-to-flag", ["--json=yes", "status"]),
    ("usage-bad-instance", ["--instance", "a/b", "status"]),
    ("usage-bad-timeout", ["--timeout", "0", "stop"]),
    ("usage-extra-argument", ["network", "info", "extra"]),
    ("usage-extra-argument-json", ["--json", "network", "info", "extra"]),
    ("usage-start-conflict", I + ["start", "--instance", "other"]),
    ("not-running-network-info", I + ["network", "info"]),
    ("not-running-network-info-json", ["--json"] + I + ["network", "info"]),
    ("not-running-status", I + ["status"]),
    ("not-running-status-json", ["--json"] + I + ["status"]),
    ("not-running-stop", I + ["stop"]),
    ("not-running-default-instance", ["network", "info"]),
    ("help-ping", ["network", "ping", "--help"]),
    ("usage-ping-no-target", I + ["network", "ping"]),
    ("usage-ping-bad-count", I + ["network", "ping", "x", "-c", "0"]),
    ("usage-ping-unknown-option", I + ["network", "ping", "x", "--bogus"]),
    ("usage-connect-extra", I + ["network", "connect", "/ip4/127.0.0.1/tcp/1", "extra"]),
    ("usage-peers-argument", I + ["network", "peers", "extra"]),
]

START = I + ["start", "--enable-networking", "--listen", LISTEN, "--no-mdns"]
# With a daemon, in order: the sequence itself is part of what is tested.
DAEMON_CASES = [
    ("start-daemon-refuses", I + ["start", "--no-such-option"]),
    ("start", START),
    ("start-already-running", START),
    ("start-already-running-json", ["--json"] + START),
    ("status", I + ["status"]),
    ("status-json", ["--json"] + I + ["status"]),
    ("network-info", I + ["network", "info"]),
    ("network-info-json", ["--json"] + I + ["network", "info"]),
]
# Second instance for the network cases, started quietly (its own start is
# what the cases above test). @NAME@ in arguments is filled in from it:
# B_ADDR its listen address with /p2p, B_BARE without, B_ID its peer ID.
INSTANCE_B = "golden-b"
IB = ["--instance", INSTANCE_B]
START_B = IB + ["start", "--listen", LISTEN, "--no-mdns"]
# A valid peer ID that no instance has (js-libp2p's test key).
STRANGER = "12D3KooWHjxnw69AHLK2MRcbDfvkYZbHnwXFNhiniWZTK2eJM9bz"
NETWORK_CASES = [
    ("network-peers-none", I + ["network", "peers"]),
    ("network-connect", I + ["network", "connect", "@B_ADDR@"]),
    ("network-connect-json", ["--json"] + I + ["network", "connect", "@B_BARE@"]),
    ("network-peers", I + ["network", "peers"]),
    ("network-peers-verbose", I + ["network", "peers", "--verbose"]),
    ("network-peers-json", I + ["network", "peers", "--json"]),
    ("network-peers-other-side", IB + ["network", "peers"]),
    ("network-ping", I + ["network", "ping", "@B_ID@", "-c", "3", "-i", "10"]),
    ("network-ping-json", ["--json"] + I + ["network", "ping", "@B_ADDR@", "-c", "2", "-i", "10"]),
    ("network-connect-wrong-id", I + ["network", "connect", "@B_BARE@/p2p/" + STRANGER]),
    ("network-connect-wrong-id-json",
     ["--json"] + I + ["network", "connect", "@B_BARE@/p2p/" + STRANGER]),
    ("network-disconnect", I + ["network", "disconnect", "@B_ID@"]),
    ("network-disconnect-again-json", ["--json"] + I + ["network", "disconnect", "@B_ID@"]),
    ("network-ping-not-connected", I + ["network", "ping", "@B_ID@"]),
    ("network-ping-not-connected-json", ["--json"] + I + ["network", "ping", "@B_ID@"]),
    ("network-connect-bad-addr", I + ["network", "connect", "/ip4/127.0.0.1/tpc/1"]),
]
# After golden-b has stopped: its port refuses.
NETWORK_CASES_B_GONE = [
    ("network-connect-refused", I + ["network", "connect", "@B_BARE@"]),
    ("network-connect-refused-json", ["--json"] + I + ["network", "connect", "@B_BARE@"]),
]
DAEMON_CASES_END = [
    ("stop", I + ["stop"]),
    ("status-after-stop", I + ["status"]),
    # The seed's spelling: --instance after `start`.
    ("start-json", ["--json", "start"] + I + START[3:]),
    ("stop-json", ["--json"] + I + ["stop"]),
]
# What sdnetd --help must mention for the daemon cases to run.
DAEMON_NEEDS = ["--instance", "--listen", "--no-mdns", "--foreground"]


# Numbers that differ from run to run (timings, traffic, ages).
VARYING = {"rtt_ms", "rtt_ms_min", "rtt_ms_avg", "rtt_ms_max", "rtts_us", "bytes_in",
           "bytes_out", "connected_ms", "streams"}


class Normaliser:
    """Variable values become placeholders numbered by first appearance in
    the whole run, so the files still show which values are equal: the same
    <PEER_ID_1> after a restart means the identity was kept; <PID_2> means a
    new process."""

    def __init__(self, tmp, version):
        self.tmp = tmp
        self.version = version
        self.seen = {}

    def label(self, kind, value):
        ids = self.seen.setdefault(kind, {})
        return "<%s_%d>" % (kind, ids.setdefault(str(value), len(ids) + 1))

    def text(self, s):
        s = s.replace(self.tmp, "<TMP>")
        s = re.sub(r"\b(?:12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{38,}",
                   lambda m: self.label("PEER_ID", m.group(0)), s)
        s = re.sub(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                   lambda m: self.label("UUID", m.group(0)), s)
        s = re.sub(r"/(tcp|udp)/\d+", r"/\1/<PORT>", s)
        s = re.sub(r"\b(pid )(\d+)", lambda m: m.group(1) + self.label("PID", m.group(2)), s)
        s = re.sub(r"(?m)^(\s*PID:\s+)(\d+)$",
                   lambda m: m.group(1) + self.label("PID", m.group(2)), s)
        s = re.sub(r"(?m)^(\s*Uptime:\s+)\S.*$", r"\1<DURATION>", s)
        s = re.sub(r"(?m)^(\s*Version:\s+)" + re.escape(self.version) + "$",
                   r"\1<VERSION>", s)
        s = re.sub(r"(?m)^spacedrive " + re.escape(self.version) + "$",
                   "spacedrive <VERSION>", s)
        s = re.sub(r"(?m)^(\s*Clients:\s+)\d+$", r"\1<N>", s)
        # Round-trip times, and the padding of table columns they widen.
        s = re.sub(r"time=\d+\.\d+ ms", "time=<MS> ms", s)
        s = re.sub(r"= \d+\.\d+/\d+\.\d+/\d+\.\d+ ms", "= <MS>/<MS>/<MS> ms", s)
        s = re.sub(r"\bsdnetd/" + re.escape(self.version) + r"\b", "sdnetd/<VERSION>", s)
        s = re.sub(r"(?m)^(<PEER_ID_\d+>  .*?)(?:<1|\d+\.\d+) ms(  )", r"\1<RTT>\2", s)
        s = re.sub(r"(?m)^(?:PEER ID|<PEER_ID_\d+>)  .*$",
                   lambda m: re.sub(r" {2,}", "  ", m.group(0)), s)
        return s

    def value(self, v, key=None, under_rpc=False):
        if isinstance(v, dict):
            return {k: self.value(x, k, under_rpc or k == "rpc") for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x, key, under_rpc) for x in v]
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, int) and key == "pid":
            return self.label("PID", v)
        if isinstance(v, int) and (key == "uptime" or under_rpc):
            return "<N>"
        if isinstance(v, (int, float)) and key in VARYING:
            return "<N>"
        if isinstance(v, str):
            if key == "version" and v == self.version:
                return "<VERSION>"
            return self.text(v)
        return v

    def stdout(self, s):
        """JSON output is parsed and normalised field by field (and so must
        be valid JSON); anything else line by line."""
        if s.lstrip().startswith(("{", "[")):
            try:
                v = json.loads(s)
            except ValueError as e:
                return "INVALID JSON (%s):\n%s" % (e, self.text(s))
            return json.dumps(self.value(v), indent=2, sort_keys=True) + "\n"
        return self.text(s)


def make_env(tmp):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "LISTEN_", "WATCHDOG_", "SDNETD_"))
           and k not in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CONFIGURATION_DIRECTORY",
                         "CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "JOURNAL_STREAM")}
    for name, sub in (("HOME", "home"), ("XDG_RUNTIME_DIR", "run"),
                      ("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
        env[name] = os.path.join(tmp, sub)
        os.makedirs(env[name], mode=0o700, exist_ok=True)
    env["LC_ALL"] = "C"
    return env


def run_case(cli, args, env, norm, filled=False):
    """filled: arguments hold values from a running instance (ports, peer
    IDs), normalised in the command line shown as well."""
    r = subprocess.run([cli] + args, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    shown = " ".join(shlex.quote(a) for a in args)
    if filled:
        shown = norm.text(shown)
    return ("$ spacedrive %s\nexit: %d\n--- stdout\n%s--- stderr\n%s" %
            (shown, r.returncode, norm.stdout(r.stdout), norm.text(r.stderr)))


def daemon_supported(sdnetd):
    try:
        r = subprocess.run([sdnetd, "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=10)
    except OSError:
        return False, "cannot run %s" % sdnetd
    missing = [o for o in DAEMON_NEEDS if o not in r.stdout]
    if missing:
        return False, "sdnetd does not support %s yet" % ", ".join(missing)
    return True, ""


def become_subreaper():
    """Orphans (the daemon, once the CLI that started it exits) become our
    children, so we can reap them and kill what is left at the end."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def children():
    """Pids whose parent is us (read from /proc, no ps needed)."""
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            yield int(d)


def reap(kill):
    """Collect exited children; with kill, SIGKILL the ones still running
    (a daemon the CLI failed to stop) first."""
    if kill:
        for pid in children():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Runner:
    def __init__(self, a):
        self.a = a
        self.update = os.environ.get("SDNETD_UPDATE_GOLDEN") == "1"
        self.passed = self.failed = self.skipped = 0

    def check(self, name, got):
        path = os.path.join(self.a.expected, name + ".txt")
        if self.update:
            with open(path, "w") as f:
                f.write(got)
            print("updated %s" % path)
            self.passed += 1
            return
        try:
            want = open(path).read()
        except FileNotFoundError:
            want = None
        if got == want:
            print("ok   %s" % name)
            self.passed += 1
            return
        self.failed += 1
        print("FAIL %s" % name)
        if want is None:
            print("  no expected file %s; run with SDNETD_UPDATE_GOLDEN=1 and review it" % path)
        else:
            import difflib
            sys.stdout.writelines(difflib.unified_diff(
                want.splitlines(True), got.splitlines(True), path, "actual"))
        print("  actual output:\n" + got)

    def run(self, cases, env, norm, subst=None):
        for name, args in cases:
            for k, v in (subst or {}).items():
                args = [a.replace("@%s@" % k, v) for a in args]
            self.check(name, run_case(self.a.spacedrive, args, env, norm, bool(subst)))
            reap(False)


def start_b(cli, env):
    """Start golden-b and return the placeholders for its address."""
    subprocess.run([cli] + START_B, env=env, timeout=60, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run([cli, "--json"] + IB + ["network", "info"], env=env, timeout=60,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    info = json.loads(out)
    addr = info["listen_addrs"][0]
    return {"B_ADDR": addr, "B_BARE": addr.split("/p2p/")[0], "B_ID": info["peer_id"]}


def stop_b(cli, env):
    subprocess.run([cli] + IB + ["stop"], env=env, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spacedrive", required=True)
    ap.add_argument("--sdnetd", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--version", required=True)
    a = ap.parse_args()
    become_subreaper()
    runner = Runner(a)
    with tempfile.TemporaryDirectory(prefix="sdg-") as tmp:
        env = make_env(tmp)
        norm = Normaliser(tmp, a.version)
        runner.run(OFFLINE_CASES, env, norm)
        ok, why = daemon_supported(a.sdnetd)
        if not ok:
            n = (len(DAEMON_CASES) + len(NETWORK_CASES) + len(NETWORK_CASES_B_GONE) +
                 len(DAEMON_CASES_END))
            print("skip daemon cases (%d): %s" % (n, why))
            runner.skipped += n
        else:
            try:
                runner.run(DAEMON_CASES, env, norm)
                subst = start_b(a.spacedrive, env)
                runner.run(NETWORK_CASES, env, norm, subst)
                stop_b(a.spacedrive, env)
                runner.run(NETWORK_CASES_B_GONE, env, norm, subst)
                runner.run(DAEMON_CASES_END, env, norm)
            finally:
                stop_b(a.spacedrive, env)
                subprocess.run([a.spacedrive] + I + ["stop"], env=env, timeout=60,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                reap(True)
    print("%d passed, %d failed, %d skipped" % (runner.passed, runner.failed, runner.skipped))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
