#!/usr/bin/env python3
"""`exec true` into one running container, several hull binaries (or one binary under different
environments) interleaved round by round: small differences in the exec path show here where a
full bench run's noise would hide them (docs/bench-ablation.md run 6).

usage: bench/exec_ab.py [-n ROUNDS] [--rootfs DIR] SPEC...
  SPEC is PATH or NAME=PATH or NAME=PATH:VAR=VALUE (VAR set for that binary's execs only),
  e.g. bench/exec_ab.py old=/tmp/hull-old new=/tmp/hull-new fork=/tmp/hull-new:HULL_NO_VFORK=1
The container is created by the first binary; every binary must understand the others' state
(same hull state format). Runs itself in a private mount namespace with cgroup2 unmounted
(as bench/run.sh). The state root and bundle live in a temp dir, removed at the end."""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import enter_bench_namespace, write_bundle

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WARMUP = 5


def parse_spec(s):
    """PATH, NAME=PATH or NAME=PATH:VAR=VALUE -> (name, path, env)."""
    name, sep, rest = s.partition("=")
    if not sep or "/" in name:
        name, rest = None, s
    path, _, var = rest.partition(":")
    env = dict(os.environ)
    if var:
        k, _, v = var.partition("=")
        env[k] = v
    return name or path, path, env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=300, help="rounds (each binary once per round)")
    ap.add_argument("--rootfs", default=os.path.join(REPO, "build/rootfs"))
    ap.add_argument("specs", nargs="+")
    a = ap.parse_args()
    enter_bench_namespace()
    specs = [parse_spec(s) for s in a.specs]
    work = tempfile.mkdtemp(prefix="hull-exec-ab.", dir="/run")
    root = os.path.join(work, "root")
    first = specs[0][1]
    try:
        bundle = write_bundle(work, a.rootfs, ["sleep", "3600"])
        subprocess.run([first, "--root", root, "run", "-d", "--bundle", bundle, "ab"], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        wall = {s[0]: [] for s in specs}
        cpu = {s[0]: [] for s in specs}
        for i in range(a.n + WARMUP):
            # Alternate the order each round, so no binary always runs right after another.
            for name, path, env in (specs if i % 2 else specs[::-1]):
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter_ns()
                subprocess.run([path, "--root", root, "exec", "ab", "true"], check=True, env=env)
                dt = (time.perf_counter_ns() - t) / 1e6
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                if i >= WARMUP:
                    wall[name].append(dt)
                    cpu[name].append((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1e3)
        print(f"| binary (n={a.n}) | wall median | wall p90 | CPU user+sys median |")
        print("|---|---|---|---|")
        for name, _, _ in specs:
            w = sorted(wall[name])
            print(f"| {name} | {statistics.median(w):.2f} ms | {w[len(w) * 9 // 10]:.2f} ms | "
                  f"{statistics.median(cpu[name]):.2f} ms |")
    finally:
        subprocess.run([first, "--root", root, "delete", "-f", "ab"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
