"""sdnetd's mDNS packets through js-libp2p's own parser, offline: runs
mdns-check.mjs on the packets test_mdns pins (tests/data/mdns/our-*.bin),
so js's dns-packet and @libp2p/mdns code say they discover us from our
response, answer our query, ignore our pairing advertisement and stay
silent on our pairing query. No sockets. Skipped (exit 77) only when the js
dependencies were never installed."""

import os
import subprocess
import sys

import interop

DATA = os.path.join(interop.HERE, "..", "data", "mdns")


def main():
    interop.skip_without_node()
    r = subprocess.run([interop.NODE, os.path.join(interop.HERE, "mdns-check.mjs"), DATA],
                       cwd=interop.HERE, capture_output=True, text=True,
                       timeout=interop.TIMEOUT)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if r.returncode != 0 or "FAIL" in r.stdout or "ok  " not in r.stdout:
        sys.exit(1)


if __name__ == "__main__":
    main()
