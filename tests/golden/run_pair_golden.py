#!/usr/bin/env python3
"""Golden tests for the pairing commands of the `spacedrive` CLI (`network
pair generate|join|status|cancel`, `network devices`): human and --json
output and exit codes, compared with committed files
tests/golden/cli/pair-*.txt.

It reuses run_cli_golden.py's environment, runner and normaliser, and
normalises what pairing adds: the 12 code words (<CODE_n>), session ids
(<SESSION_n>), ages ("paired <AGO>"), unix times and elapsed times. Two
daemons, instances "pair-a" and "pair-b", run on 127.0.0.1 without mDNS;
pair-b joins pair-a with --peer.

SDNETD_UPDATE_GOLDEN=1 writes the expected files instead of comparing."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_cli_golden as g  # noqa: E402

LISTEN = "/ip4/127.0.0.1/tcp/0"
A = ["--instance", "pair-a"]
B = ["--instance", "pair-b"]
# Valid words (checksum included) that no daemon generates.
OTHER_CODE = ("abandon abandon abandon abandon abandon abandon abandon abandon abandon "
              "abandon abandon about")
TYPO = "abandon abandon abandn abandon abandon abandon abandon abandon abandon abandon " \
       "abandon about"

OFFLINE_CASES = [
    ("pair-help-join", ["network", "pair", "join", "--help"]),
    ("pair-help-generate", ["network", "pair", "generate", "--help"]),
    ("pair-usage-join-no-words", A + ["network", "pair", "join"]),
    ("pair-usage-generate-bad-expires", A + ["network", "pair", "generate", "--expires", "0"]),
    ("pair-usage-join-extra", A + ["network", "pair", "join", "a", "b"]),
    ("pair-join-typo-offline", A + ["network", "pair", "join", TYPO]),
    ("pair-join-eleven-words", A + ["network", "pair", "join", OTHER_CODE.rsplit(" ", 1)[0]]),
]
CASES = [
    ("pair-devices-none", A + ["network", "devices"]),
    ("pair-devices-none-json", A + ["--json", "network", "devices"]),
    ("pair-status-none", A + ["network", "pair", "status"]),
    ("pair-cancel-none", A + ["network", "pair", "cancel"]),
    ("pair-generate", A + ["network", "pair", "generate"]),
    ("pair-status", A + ["network", "pair", "status"]),
    ("pair-join-wrong-code", B + ["network", "pair", "join", OTHER_CODE, "--peer", "@A_ADDR@"]),
    ("pair-join-wrong-code-json",
     ["--json"] + B + ["network", "pair", "join", OTHER_CODE, "--peer", "@A_ADDR@"]),
    ("pair-join-unreachable", B + ["network", "pair", "join", OTHER_CODE, "--peer",
                                   "/ip4/127.0.0.1/tcp/1"]),
    ("pair-join-no-discovery", B + ["network", "pair", "join", OTHER_CODE]),
    ("pair-cancel", A + ["network", "pair", "cancel"]),
    ("pair-generate-expires-json", ["--json"] + A + ["network", "pair", "generate",
                                                     "--expires", "60"]),
    ("pair-join", B + ["network", "pair", "join", "@CODE@", "--peer", "@A_ADDR@"]),
    ("pair-join-reused", B + ["network", "pair", "join", "@CODE@", "--peer", "@A_ADDR@"]),
    ("pair-devices", A + ["network", "devices"]),
    ("pair-devices-other-side", B + ["network", "devices"]),
    ("pair-devices-json", A + ["--json", "network", "devices"]),
    ("pair-status-json", ["--json"] + A + ["network", "pair", "status"]),
]
VARYING = {"paired_at", "last_seen", "elapsed_ms", "created_ago", "expires_in"}


class Normaliser(g.Normaliser):
    def text(self, s):
        s = re.sub(r"\b(?:[a-z]{3,8} ){11}[a-z]{3,8}\b",
                   lambda m: (self.label("CODE", m.group(0))
                              if m.group(0) != OTHER_CODE else m.group(0)), s)
        s = re.sub(r"\b[0-9a-f]{16}\b", lambda m: self.label("SESSION", m.group(0)), s)
        s = re.sub(r"paired (?:just now|\d+ \w+ ago)", "paired <AGO>", s)
        s = re.sub(r"expires in \d+ s\b", "expires in <N> s", s)
        return super().text(s)

    def value(self, v, key=None, under_rpc=False):
        if isinstance(v, int) and not isinstance(v, bool) and key in VARYING:
            return "<N>"
        if isinstance(v, dict):
            return {k: self.value(x, k, under_rpc) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x, key, under_rpc) for x in v]
        return super().value(v, key, under_rpc)


def cli_json(cli, env, args):
    out = subprocess.run([cli, "--json"] + args, env=env, timeout=60, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spacedrive", required=True)
    ap.add_argument("--sdnetd", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--version", required=True)
    a = ap.parse_args()
    g.become_subreaper()
    runner = g.Runner(a)
    cli = a.spacedrive
    with tempfile.TemporaryDirectory(prefix="sdp-") as tmp:
        env = g.make_env(tmp)
        norm = Normaliser(tmp, a.version)
        runner.run(OFFLINE_CASES, env, norm)
        try:
            for inst in (A, B):
                subprocess.run([cli] + inst + ["start", "--listen", LISTEN, "--no-mdns"],
                               env=env, timeout=60, check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            info = cli_json(cli, env, A + ["network", "info"])
            subst = {"A_ADDR": info["listen_addrs"][0]}
            # Up to pair-join, which needs a code: the ones generated in
            # the cases are only in their (normalised) output, so cancel
            # them and make one here.
            split = [n for n, _ in CASES].index("pair-join")
            runner.run(CASES[:split], env, norm, subst)
            for s in cli_json(cli, env, A + ["network", "pair", "status"]):
                if s["state"] == "waiting_for_connection":
                    subprocess.run([cli] + A + ["network", "pair", "cancel", s["session_id"]],
                                   env=env, timeout=60, stdout=subprocess.DEVNULL)
            subst["CODE"] = cli_json(cli, env, A + ["network", "pair", "generate"])["code"]
            runner.run(CASES[split:], env, norm, subst)
        finally:
            for inst in (A, B):
                subprocess.run([cli] + inst + ["stop"], env=env, timeout=60,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            g.reap(True)
    print("%d passed, %d failed, %d skipped" % (runner.passed, runner.failed, runner.skipped))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
