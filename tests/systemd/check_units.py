#!/usr/bin/env python3
"""Check sdnetd's systemd units with systemd-analyze.

For every unit: `systemd-analyze verify` must pass with no complaint that
names the unit, and `systemd-analyze security --offline=true` must rate its
exposure at or below a threshold (the figure goes to the test log). The
units are also checked against each other and against the path rule in
common/paths.h: a socket unit must listen exactly where its service's
daemon would bind by itself ($RUNTIME_DIRECTORY/sdnetd.sock), and user units
must use the runtime directory the CLI derives by default.

The units are copied to a temporary directory first, and an ExecStart= that
points at a not-yet-installed sdnetd is pointed at the built one, because
verify insists that the program exists.

Exit 77 (meson's SKIP) only when systemd-analyze is not installed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def read_unit(path):
    """Directives of a unit file as {(section, key): [values]}."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out.setdefault((section, key.strip()), []).append(value.strip())
    return out


def stage(units, dest, bindir, built):
    """Copy units into dest, pointing ExecStart at the built daemon if the
    installed one is absent. Returns the staged paths."""
    os.makedirs(dest, exist_ok=True)
    installed = os.path.join(bindir, "sdnetd")
    staged = []
    for u in units:
        text = open(u).read()
        if not os.access(installed, os.X_OK):
            text = text.replace(installed, built)
        p = os.path.join(dest, os.path.basename(u))
        with open(p, "w") as f:
            f.write(text)
        staged.append(p)
    return staged


def run(cmd, env, show=lambda line: True):
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    print("$ " + " ".join(cmd) + "  (exit %d)" % r.returncode)
    for line in r.stdout.splitlines():
        if show(line):
            print(line)
    return r


def verify(paths, user, env):
    if not paths:
        return
    cmd = ["systemd-analyze", "verify"] + (["--user"] if user else []) + paths
    r = run(cmd, env)
    names = [os.path.basename(p).replace("@.", "@") for p in paths]
    noisy = [l for l in r.stdout.splitlines() if any(n.split(".")[0] in l for n in names)]
    if r.returncode != 0:
        fail("systemd-analyze verify failed for %s" % ", ".join(map(os.path.basename, paths)))
    elif noisy:
        fail("systemd-analyze verify complained: %s" % "; ".join(noisy))


def exposure(path, user, env, threshold):
    cmd = ["systemd-analyze", "security", "--offline=true"] + (["--user"] if user else [])
    # The log keeps what adds exposure; passed checks (✓) are left out.
    r = run(cmd + [path], env, lambda line: not line.startswith("\u2713"))
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
    if not m:
        fail("no exposure figure for %s" % os.path.basename(path))
        return
    level = float(m.group(1))
    print("EXPOSURE %s%s: %.1f %s (threshold %.1f)" %
          ("user/" if user else "", os.path.basename(path), level, m.group(2), threshold))
    if level > threshold:
        fail("%s exposure %.1f is above %.1f" % (os.path.basename(path), level, threshold))


def check_socket_paths(system_units):
    """sdnetd.socket listens where sdnetd.service's daemon would bind."""
    by_name = {os.path.basename(u): read_unit(u) for u in system_units}
    for name, unit in by_name.items():
        if not name.endswith(".socket"):
            continue
        svc = by_name.get(name[:-len(".socket")] + ".service")
        if svc is None:
            fail("%s has no matching service unit" % name)
            continue
        listen = unit.get(("Socket", "ListenStream"), [])
        rtdir = svc.get(("Service", "RuntimeDirectory"), [])
        want = ["%%t/%s/sdnetd.sock" % d for d in rtdir]
        if listen != want:
            fail("%s listens on %s but its service's daemon binds %s" % (name, listen, want))
        if unit.get(("Socket", "SocketMode")) != ["0600"]:
            fail("%s: SocketMode must be 0600 by default" % name)


def check_user_paths(user_units):
    """User units use $XDG_RUNTIME_DIR/spacedrive/<instance>, the CLI's rule."""
    for u in user_units:
        unit = read_unit(u)
        inst = "%i" if "@" in os.path.basename(u) else "default"
        rt = unit.get(("Service", "RuntimeDirectory"), [])
        if rt != ["spacedrive/" + inst]:
            fail("%s: RuntimeDirectory %s, the CLI looks in spacedrive/%s" % (u, rt, inst))
        if ("Service", "StateDirectory") in unit:
            fail("%s: StateDirectory= would move the data away from the CLI's rule" % u)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bindir", required=True, help="installed bindir in ExecStart")
    ap.add_argument("--built", required=True, help="the built sdnetd")
    ap.add_argument("--threshold", type=float, default=2.0)
    ap.add_argument("--user-threshold", type=float, default=3.0)
    ap.add_argument("--system", nargs="+", default=[])
    ap.add_argument("--user", nargs="+", default=[])
    a = ap.parse_args()

    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze is not installed (Debian package systemd)")
        return 77

    check_socket_paths(a.system)
    check_user_paths(a.user)

    with tempfile.TemporaryDirectory(prefix="sdnetd-units-") as tmp:
        env = dict(os.environ)
        # A user manager wants a runtime directory even offline.
        if not os.environ.get("XDG_RUNTIME_DIR"):
            env["XDG_RUNTIME_DIR"] = os.path.join(tmp, "xdg-runtime")
            os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)
        system = stage(a.system, os.path.join(tmp, "system"), a.bindir, a.built)
        user = stage(a.user, os.path.join(tmp, "user"), a.bindir, a.built)
        # Each service with its socket, so verify resolves the pair.
        verify([p for p in system if "@" not in os.path.basename(p)], False, env)
        verify([p for p in system if "@" in os.path.basename(p)], False, env)
        for p in user:
            verify([p], True, env)
        for p in system:
            if p.endswith(".service"):
                exposure(p, False, env, a.threshold)
        for p in user:
            exposure(p, True, env, a.user_threshold)

    checked = len(a.system) + len(a.user)
    print("%d units checked, %d problems" % (checked, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
