"""File transfer between two sdnetd daemons over loopback, next to iperf3.

Two paired daemons (--no-mdns, 127.0.0.1), as the integration suite makes
them. Three figures, each from the sender's transfers.send call to its
state "completed" (which the receiver only reports once every file was
hashed, compared, renamed into place and fsynced):

  1. one 1 GiB file (--mib), the median of --runs: MB/s, and the ratio to `iperf3 -c 127.0.0.1`
     (one plaintext stream, same run); also MB per CPU-second of the busier
     daemon, which holds still on a machine busy with other work, and MB
     per CPU-second of the busiest single thread (event loop or the SHA-256
     helper): the rate each side could reach with a core per thread, as two
     machines would give it, where here both daemons share the cores;
  2. --files files of 4 KiB in one directory tree: files per second;
  3. the receiver's copy is checked byte for byte (SHA-256 of the file,
     every small file's contents);
  4. SHA-256 alone on one core (hashlib, i.e. OpenSSL): both sides hash
     every byte of a file in sequence, so no single file can move faster
     than this whatever the cores; printed next to iperf3 as the ceiling of
     the ratio.

MB is 10^6 bytes. Figures only: nothing is asserted about speed; a wrong
byte fails the run. Usage: bench_transfers.py [--mib N] [--files N]
[--runs N] [--iperf-seconds N] [--no-iperf]"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import harness  # noqa: E402

MiB = 1 << 20
LISTEN = ["--listen", "/ip4/127.0.0.1/tcp/0"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """CPU seconds of each thread of a process, by thread id."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[tid] = cpu_seconds(f"{pid}/task/{tid}")
        except OSError:
            pass  # the thread ended meanwhile
    return out


def busiest_thread(before, after):
    return max((v - before.get(t, 0.0) for t, v in after.items()), default=0.0)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_rate(mib=256):
    """MB/s of SHA-256 on one core over an in-memory buffer (best of 3)."""
    data = os.urandom(MiB) * mib
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        hashlib.sha256(data).digest()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return mib * MiB / 1e6 / best


def addr(d):
    info = d.call("node.info")
    a = info["listen_addrs"][0]
    return a if "/p2p/" in a else a + "/p2p/" + info["peer_id"]


def pair(a, b):
    code = a.call("pairing.generate", {"expires_s": 60})["code"]
    b.call("pairing.join", {"code": code, "peer": addr(a)})
    deadline = time.monotonic() + harness.TIMEOUT
    while time.monotonic() < deadline:
        if all(x["state"] == "connected" for d in (a, b) for x in d.call("devices.list")["devices"]):
            return
        time.sleep(0.05)
    raise SystemExit("the daemons did not connect")


def send(a, b, paths):
    """Seconds from the call to completed, CPU seconds of each daemon, and
    CPU seconds of the busiest thread of each."""
    c = a.connect()
    c.request("events.subscribe", {"kinds": ["transfer.state"]})
    cpu0 = (cpu_seconds(a.pid), cpu_seconds(b.pid))
    thr0 = (thread_cpu(a.pid), thread_cpu(b.pid))
    t0 = time.monotonic()
    tid = c.request("transfers.send", {"device": "bob", "paths": paths})["result"]["id"]
    while True:
        ev = c.wait_event("transfer.state")
        if ev["id"] == tid and ev["state"] in ("completed", "failed", "cancelled", "rejected"):
            break
    dt = time.monotonic() - t0
    cpu = (cpu_seconds(a.pid) - cpu0[0], cpu_seconds(b.pid) - cpu0[1])
    thr = (busiest_thread(thr0[0], thread_cpu(a.pid)), busiest_thread(thr0[1], thread_cpu(b.pid)))
    c.close()
    if ev["state"] != "completed":
        raise SystemExit(f"transfer {ev['state']}: {ev.get('error')}")
    return dt, cpu, thr


def iperf3(seconds):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            r = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds),
                                "-J"], capture_output=True, text=True)
            if r.returncode == 0:
                return json.loads(r.stdout)["end"]["sum_received"]["bits_per_second"] / 8e6
            time.sleep(0.1)  # the server was not listening yet
    finally:
        srv.kill()
        srv.wait()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--iperf-seconds", type=int, default=5)
    ap.add_argument("--no-iperf", action="store_true")
    opts = ap.parse_args()
    home = harness.Home()
    a = harness.Daemon(home, "alice", LISTEN).start()
    b = harness.Daemon(home, "bob", LISTEN).start()
    try:
        pair(a, b)
        recv = os.path.join(home.data_dir("bob"), "received")
        # 1. One big file.
        big = home.path("src", "big.bin")
        os.makedirs(os.path.dirname(big))
        with open(big, "wb") as f:
            for _ in range(opts.mib):
                f.write(os.urandom(MiB))
        want = sha256_file(big)
        os.sync()  # the source's own write-back must not run during the timing
        runs = []
        for _ in range(opts.runs):
            dt, cpu, thr = send(a, b, [big])
            if sha256_file(os.path.join(recv, "big.bin")) != want:
                raise SystemExit("the received file differs")
            os.unlink(os.path.join(recv, "big.bin"))
            os.sync()
            runs.append((dt, cpu, thr))
        runs.sort()
        dt, cpu, thr = runs[len(runs) // 2]
        mb = opts.mib * MiB / 1e6
        rate = mb / dt
        print(f"=== sdnetd file transfer, one {opts.mib} MiB file, alice -> bob over loopback "
              f"(Noise + yamux, SHA-256 both sides, fsync) ===")
        print(f"transfer  {rate:8.1f} MB/s  ({opts.mib * MiB} bytes in {dt:.3f} s, "
              f"transfers.send to verified and durable; median of {len(runs)}, best "
              f"{mb / runs[0][0]:.1f} MB/s)")
        print(f"          CPU: sender {cpu[0]:.2f} s ({cpu[0] / dt:.0%}), receiver {cpu[1]:.2f} s "
              f"({cpu[1] / dt:.0%}); CPU-bound ceiling {mb / max(cpu):.1f} MB/s")
        print(f"          busiest thread: sender {thr[0]:.2f} s, receiver {thr[1]:.2f} s; "
              f"ceiling with a core per thread {mb / max(thr):.1f} MB/s")
        # 2. Many small files.
        tree = home.path("src", "small")
        per_dir = 500
        blobs = {}
        for i in range(opts.files):
            d = os.path.join(tree, f"d{i // per_dir:03d}")
            if i % per_dir == 0:
                os.makedirs(d)
            data = os.urandom(4096)
            p = os.path.join(d, f"f{i:05d}")
            with open(p, "wb") as f:
                f.write(data)
            blobs[os.path.relpath(p, home.path("src"))] = data
        os.sync()
        dt2, cpu2, _ = send(a, b, [tree])
        for rel, data in blobs.items():
            with open(os.path.join(recv, rel), "rb") as f:
                if f.read() != data:
                    raise SystemExit(f"{rel} differs")
        print(f"=== {opts.files} files of 4 KiB in {opts.files // per_dir} directories ===")
        print(f"files     {opts.files / dt2:8.0f} files/s  ({dt2:.3f} s; CPU sender "
              f"{cpu2[0]:.2f} s, receiver {cpu2[1]:.2f} s)")
        # 3. iperf3 next to it.
        if not opts.no_iperf and shutil.which("iperf3"):
            ip = iperf3(opts.iperf_seconds)
            if ip:
                print(f"=== iperf3, one stream over loopback, {opts.iperf_seconds} s ===")
                print(f"iperf3    {ip:8.1f} MB/s")
                print(f"ratio     {rate / ip:8.2f}  (sdnetd file transfer / iperf3; goal >= 0.5)")
                sha = sha256_rate()
                print(f"sha256    {sha:8.1f} MB/s  (one core; the most one file can move, hashed "
                      f"in sequence on each side: {sha / ip:.2f} of iperf3)")
    finally:
        a.kill()
        b.kill()
        home.cleanup()


if __name__ == "__main__":
    main()
