#!/usr/bin/env python3
"""`run` of busybox true after a pause, runtimes interleaved: the cost of a container start on a
host that was quiet a moment before (docs/bench-ablation.md). Back-to-back runs, as in bench.py,
find the kernel's RCU machinery for cgroup v1 attaches already active; a lone start does not.

usage: bench/idle_gap.py [-n RUNS] [--gap SECONDS] [--rootfs DIR] RUNTIME_PATH...
Runs itself in a private mount namespace with cgroup2 unmounted (as bench/run.sh, for crun 1.8).
Each runtime gets its own --root under a temp dir, removed at the end."""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import enter_bench_namespace, write_bundle

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=150, help="runs per runtime")
    ap.add_argument("--gap", type=float, default=0.2, help="pause before each run, seconds")
    ap.add_argument("--rootfs", default=os.path.join(REPO, "build/rootfs"))
    ap.add_argument("runtimes", nargs="+")
    a = ap.parse_args()
    enter_bench_namespace()
    work = tempfile.mkdtemp(prefix="hull-idle.", dir="/run")
    try:
        bundle = write_bundle(work, a.rootfs)
        times = {rt: [] for rt in a.runtimes}
        for i in range(a.n):
            for k, rt in enumerate(a.runtimes):
                time.sleep(a.gap)
                root = os.path.join(work, f"root{k}")
                t = time.perf_counter()
                r = subprocess.run([rt, "--root", root, "run", "--bundle", bundle, f"idle{i}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                times[rt].append((time.perf_counter() - t) * 1000)
                if r.returncode != 0:
                    sys.exit(f"{rt} run failed: {r.stderr.decode(errors='replace').strip()}")
        print(f"| runtime (n={a.n}, gap {a.gap} s) | mean | p25 | median | p75 |")
        print("|---|---|---|---|---|")
        for rt in a.runtimes:
            q = statistics.quantiles(times[rt], n=4)
            print(f"| {rt} | {statistics.mean(times[rt]):.1f} ms | {q[0]:.1f} ms | "
                  f"{statistics.median(times[rt]):.1f} ms | {q[2]:.1f} ms |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
