#!/usr/bin/env python3
"""bench/bulk_members.py - time `listctl members LIST add --file F` with N new addresses.

Each run uses a fresh data dir and list; prints every run and the median wall time.
Usage: bench/bulk_members.py [--n 100000] [--runs 5] [--bin build/bin]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
    a = ap.parse_args()
    listctl = os.path.join(a.bin, "listctl")
    times = []
    for run in range(a.runs):
        root = tempfile.mkdtemp(prefix="listd-bench-")
        try:
            conf = os.path.join(root, "listd.conf")
            with open(conf, "w") as f:
                f.write("data_dir = %s/data\n" % root)
            subprocess.run([listctl, "--config", conf, "newlist", "big@lists.mired.org", "--owner", "ana@mired.org",
                            "--quiet"], check=True, capture_output=True)
            path = os.path.join(root, "members.txt")
            with open(path, "w") as f:
                for i in range(a.n):
                    f.write("Subscriber %d <user%d@example%d.org>\n" % (i, i, i % 100))
            t0 = time.monotonic()
            p = subprocess.run([listctl, "--config", conf, "members", "big@lists.mired.org", "add", "--file", path],
                               capture_output=True, check=True)
            dt = time.monotonic() - t0
            assert ("added %d" % a.n).encode() in p.stdout, p.stdout
            times.append(dt)
            print("run %d: %.3f s (%s)" % (run + 1, dt, p.stdout.decode().strip()))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print("median: %.3f s for %d addresses" % (statistics.median(times), a.n))


if __name__ == "__main__":
    main()
