"""Sections 1-4 of the bench: lifecycle, concurrency, verbs, memory and size, 100 at once
(methods of Bench, in bench.py)."""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

from common import *  # noqa: F401,F403  (the shared helpers and imports)


class LifecycleSections:
    # ---------- 1. lifecycle ----------
    def bench_lifecycle(self):
        a = self.args
        s = "lifecycle"
        self.section(s, f"1. lifecycle: `run` busybox true (create+start+wait+delete)",
                     [("seq_median", "sequential median", "ms"), ("seq_p90", "sequential p90", "ms"),
                      ("seq_cpu", "sequential CPU user+sys median", "ms"),
                      ("par_median", f"{a.par} in parallel: batch wall median", "ms"),
                      ("par_total", f"{a.par} in parallel: {a.batches} batches total", "ms")],
                     note=f"{a.runs} sequential runs per runtime after {a.warmup} warm-up runs; "
                          f"{a.batches} batches of {a.par} concurrent runs. CPU time: user+sys of the "
                          f"`run` process and the children it reaped (wait4 rusage), less sensitive "
                          f"than wall time to the other load on the machine. Row `floor`: "
                          f"`unshare -fpmiun chroot ROOTFS /bin/true`, the kernel's cost of the same "
                          f"namespaces and exec without any runtime, timed in the same rotation.")
        bundle = self.bundles["true"]

        def one(rt, cid):
            rt.live.add(cid)
            r = self.sp.call(rt.argv("run", "--bundle", bundle, cid))
            if r.ok:
                rt.live.discard(cid)
            return r

        for w in range(a.warmup):
            for rt in self.active(s, w):
                r = one(rt, f"{self.prefix}-{rt.name}-w{w}")
                if not r.ok:
                    self.fail(s, rt, r.reason("run"))
        # The kernel's floor for the same work, interleaved too: new namespaces, chroot, exec true.
        floor_argv = [shutil.which("unshare") or "/usr/bin/unshare", "-fpmiun",
                      shutil.which("chroot") or "/usr/sbin/chroot", self.rootfs, "/bin/true"]
        floor = {"seq": [], "cpu": [], "error": None}
        for i in range(a.runs):
            if floor["error"] is None:
                r = self.sp.call(floor_argv)
                if r.ok:
                    floor["seq"].append(ms(r.dur_ns))
                    floor["cpu"].append(r.cpu_s * 1000)
                else:
                    floor["error"] = r.reason("unshare+chroot")
            for rt in self.active(s, i):
                r = one(rt, f"{self.prefix}-{rt.name}-s{i}")
                if r.ok:
                    self.add_sample(s, rt, "seq", ms(r.dur_ns))
                    self.add_sample(s, rt, "cpu", r.cpu_s * 1000)
                else:
                    self.fail(s, rt, r.reason("run"))
        self.summarise(s, "seq_median", median, "seq")
        self.summarise(s, "seq_p90", p90, "seq")
        self.summarise(s, "seq_cpu", median, "cpu")
        frow = {"status": "n/a", "values": {}, "samples": {"seq": floor["seq"], "cpu": floor["cpu"]}}
        if floor["error"]:
            frow["status"] = "failed: " + floor["error"]
        elif floor["seq"]:
            frow["values"] = {"seq_median": median(floor["seq"]), "seq_p90": p90(floor["seq"]),
                              "seq_cpu": median(floor["cpu"])}
        self.results[s]["rows"]["floor"] = frow

        for b in range(a.batches):
            for rt in self.active(s, b):
                self.sp.reap_orphans()
                rs = []
                for j in range(a.par):
                    cid = f"{self.prefix}-{rt.name}-p{b}x{j}"
                    rt.live.add(cid)
                    rs.append(self.sp.spawn(rt.argv("run", "--bundle", bundle, cid)))
                self.sp.wait_many(rs, timeout=60)
                bad = [r for r in rs if not r.ok]
                for j, r in enumerate(rs):
                    if r.ok:
                        rt.live.discard(f"{self.prefix}-{rt.name}-p{b}x{j}")
                if bad:
                    self.fail(s, rt, f"{len(bad)}/{a.par} parallel runs failed; " + bad[0].reason("run"))
                    continue
                wall = max(r.end for r in rs) - min(r.start for r in rs)
                self.add_sample(s, rt, "par", ms(wall))
        self.summarise(s, "par_median", median, "par")
        self.summarise(s, "par_total", sum, "par")

    # ---------- 1b. concurrency ----------
    def bench_concurrency(self):
        """Cost per container as more lifecycles run at once: P concurrent `run`s of `true`,
        batch wall / P, for each P of --par-levels; then cost at the largest P over cost at 1."""
        a = self.args
        s = "concurrency"
        levels = [int(x) for x in a.par_levels.split(",") if x.strip()]
        metrics = [(f"c{p}", f"{p} at once: wall per container (median of batches)", "ms") for p in levels]
        if len(levels) > 1:
            metrics.append(("growth", f"per-container cost at {levels[-1]} / at {levels[0]}", "x"))
        self.section(s, "1b. concurrency: per-container cost of P lifecycles at once", metrics,
                     note=f"P concurrent `run --bundle` of busybox true for P in {a.par_levels}; "
                          f"{a.par_batches} batches per P and runtime (round-robin); value = batch wall "
                          f"(first start to last exit) / P. Growth = that cost at the largest P over the "
                          f"cost at the smallest: 1.00x is perfectly flat. {os.cpu_count()} CPUs.")
        bundle = self.bundles["true"]
        for p in levels:
            for bi in range(a.par_batches):
                for rt in self.active(s, bi):
                    self.sp.reap_orphans()
                    rs, cids = [], []
                    for j in range(p):
                        cid = f"{self.prefix}-{rt.name}-c{p}b{bi}x{j}"
                        rt.live.add(cid)
                        cids.append(cid)
                        rs.append(self.sp.spawn(rt.argv("run", "--bundle", bundle, cid)))
                    self.sp.wait_many(rs, timeout=120)
                    bad = [r for r in rs if not r.ok]
                    for cid, r in zip(cids, rs):
                        if r.ok:
                            rt.live.discard(cid)
                    if bad:
                        self.fail(s, rt, f"{len(bad)}/{p} concurrent runs failed; " + bad[0].reason("run"))
                        continue
                    wall = max(r.end for r in rs) - min(r.start for r in rs)
                    self.add_sample(s, rt, f"c{p}", ms(wall) / p)
            self.summarise(s, f"c{p}", median)
        if len(levels) > 1:
            for rt in self.runtimes:
                row = self.results[s]["rows"][rt.name]
                lo, hi = row["values"].get(f"c{levels[0]}"), row["values"].get(f"c{levels[-1]}")
                if lo and hi and row["status"] == "ok":
                    row["values"]["growth"] = hi / lo

    # ---------- 2. verbs ----------
    def bench_verbs(self):
        a = self.args
        s = "verbs"
        self.section(s, "2. each verb on its own (median)",
                     [("create", "create", "ms"), ("start", "start", "ms"),
                      ("exec", "exec true (running ctr)", "ms"), ("delete", "delete", "ms")],
                     note=f"{a.verbs} iterations per runtime: create (container waits at the start "
                          f"barrier), start (`true` runs and exits; untimed wait for its exit), delete; "
                          f"`exec true` into one long-running `sleep` container.")
        sleepers = {}
        for rt in self.active(s):
            cid = f"{self.prefix}-{rt.name}-sleeper"
            pidfile = os.path.join(self.workdir, cid + ".pid")
            rt.live.add(cid)
            r = self.sp.call(rt.create_argv(self.bundles["sleep"], cid, pidfile))
            if r.ok:
                r = self.sp.call(rt.argv("start", cid))
            if not r.ok:
                self.results[s]["rows"][rt.name]["exec_error"] = r.reason("sleeper for exec")
            else:
                sleepers[rt.name] = (cid, self.container_pid(rt, cid, pidfile))
        exec_failed = {}
        for i in range(a.verbs):
            for rt in self.active(s, i):
                cid = f"{self.prefix}-{rt.name}-v{i}"
                pidfile = os.path.join(self.workdir, cid + ".pid")
                rt.live.add(cid)
                r = self.sp.call(rt.create_argv(self.bundles["true"], cid, pidfile))
                if not r.ok:
                    self.fail(s, rt, r.reason("create"))
                    continue
                self.add_sample(s, rt, "create", ms(r.dur_ns))
                pid = self.container_pid(rt, cid, pidfile)
                r = self.sp.call(rt.argv("start", cid))
                if not r.ok:
                    self.fail(s, rt, r.reason("start"))
                    self.destroy(rt, cid, pid)
                    continue
                self.add_sample(s, rt, "start", ms(r.dur_ns))
                if pid and not self.sp.wait_exit(pid, timeout=10):
                    self.fail(s, rt, "container process of `true` did not exit within 10 s after start")
                    self.destroy(rt, cid, pid)
                    continue
                r = self.sp.call(rt.argv("delete", cid))
                if not r.ok:
                    self.fail(s, rt, r.reason("delete"))
                    self.destroy(rt, cid, pid)
                    continue
                rt.live.discard(cid)
                self.add_sample(s, rt, "delete", ms(r.dur_ns))
                if rt.name in sleepers and rt.name not in exec_failed:
                    r = self.sp.call(rt.argv("exec", sleepers[rt.name][0], "true"))
                    if r.ok:
                        self.add_sample(s, rt, "exec", ms(r.dur_ns))
                    else:
                        exec_failed[rt.name] = r.reason("exec")
        for name, reason in exec_failed.items():
            self.results[s]["rows"][name]["exec_error"] = reason
        for rt in self.runtimes:
            if rt.name in sleepers:
                self.destroy(rt, *sleepers[rt.name])
        for m in ("create", "start", "exec", "delete"):
            self.summarise(s, m, median)

    # ---------- 3. memory and size ----------
    def bench_memory(self):
        a = self.args
        s = "memory"
        self.section(s, "3. peak RSS of the runtime during `create`, binary size",
                     [("rss", "peak RSS create (median)", "MiB"), ("size", "binary size", "MiB")],
                     note=f"`/usr/bin/time -v` Maximum resident set size of the `create` process "
                          f"(and the children it reaped), median of {a.rss} creates. Binary: the file "
                          f"on disk (shared libraries not counted).")
        for rt in self.runtimes:
            if os.path.exists(rt.path):
                row = self.results[s]["rows"][rt.name]
                stripped, static = elf_info(rt.path)
                row.setdefault("notes", {})["size"] = ", ".join(x for x in (
                    "stripped" if stripped else ("not stripped" if stripped is not None else ""),
                    "static" if static else ("dynamic" if static is not None else "")) if x)
                row["values"]["size"] = os.stat(rt.path).st_size / 2**20
        for i in range(a.rss):
            for rt in self.active(s, i):
                cid = f"{self.prefix}-{rt.name}-m{i}"
                pidfile = os.path.join(self.workdir, cid + ".pid")
                tf = os.path.join(self.logdir, f"time-{rt.name}-{i}.txt")
                rt.live.add(cid)
                r = self.sp.call(["/usr/bin/time", "-v", "-o", tf] +
                                 rt.create_argv(self.bundles["true"], cid, pidfile))
                if not r.ok:
                    self.fail(s, rt, r.reason("create under /usr/bin/time"))
                    self.destroy(rt, cid)
                    continue
                m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read())
                if m:
                    self.add_sample(s, rt, "rss", int(m.group(1)) / 1024)
                else:
                    self.fail(s, rt, "no 'Maximum resident set size' in /usr/bin/time -v output")
                self.destroy(rt, cid, self.container_pid(rt, cid, pidfile))
        self.summarise(s, "rss", median)

    # ---------- 4. 100 at once ----------
    def bench_burst(self):
        a = self.args
        s = "burst"
        n = a.burst
        self.section(s, f"4. {n} containers at once: create+start in parallel, then kill+delete",
                     [("up", f"{n}x create+start wall", "ms"), ("down", f"{n}x kill+delete wall", "ms"),
                      ("total", "total wall", "ms")],
                     note=f"All {n} `create` spawned at once (a container's `start` follows its "
                          f"`create`); then all `kill 9` (SIGKILL) at once, each `delete` once its container "
                          f"process has exited. Median of {a.burst_rounds} rounds.")
        bundle = self.bundles["sleep"]
        for rnd in range(a.burst_rounds):
            for rt in self.active(s, rnd):
                ids = [f"{self.prefix}-{rt.name}-b{rnd}x{j}" for j in range(n)]
                pidfiles = [os.path.join(self.workdir, c + ".pid") for c in ids]
                self.sp.reap_orphans()
                step = {}  # pid -> (index, verb)
                rs = []
                for j, cid in enumerate(ids):
                    rt.live.add(cid)
                    r = self.sp.spawn(rt.create_argv(bundle, cid, pidfiles[j]))
                    step[r.pid] = (j, "create")
                    rs.append(r)
                errors = []

                def after_up(r):
                    if isinstance(r, int):
                        return None
                    j, verb = step[r.pid]
                    if not r.ok:
                        errors.append(r.reason(verb))
                        return None
                    if verb == "create":
                        nr = self.sp.spawn(rt.argv("start", ids[j]))
                        step[nr.pid] = (j, "start")
                        return [nr]
                    return None

                self.sp.wait_many(rs, timeout=120, on_exit=after_up)
                up = max(r.end for r in rs) - min(r.start for r in rs)
                cpids = [self.container_pid(rt, c, p) for c, p in zip(ids, pidfiles)]
                # down: kill all; delete each once its process is reaped
                self.sp.reap_orphans()
                by_cpid = {p: j for j, p in enumerate(cpids) if p}
                killed, exited, step2, rs2 = set(), set(), {}, []
                for j, cid in enumerate(ids):
                    r = self.sp.spawn(rt.argv("kill", cid, "9"))
                    step2[r.pid] = (j, "kill")
                    rs2.append(r)
                for p in list(by_cpid):
                    if p in self.sp.orphans:
                        self.sp.orphans.discard(p)
                        exited.add(by_cpid[p])

                def maybe_delete(j):
                    if j in killed and (j in exited or not cpids[j]):
                        nr = self.sp.spawn(rt.argv("delete", ids[j]))
                        step2[nr.pid] = (j, "delete")
                        killed.discard(j)
                        return [nr]
                    return None

                def after_down(r):
                    if isinstance(r, int):
                        if r in by_cpid:
                            self.sp.orphans.discard(r)
                            exited.add(by_cpid[r])
                            return maybe_delete(by_cpid[r])
                        return None
                    j, verb = step2[r.pid]
                    if not r.ok:
                        errors.append(r.reason(verb))
                        ended.add(j)
                        return None
                    if verb == "kill":
                        killed.add(j)
                        return maybe_delete(j)
                    rt.live.discard(ids[j])
                    ended.add(j)
                    return None

                ended = set()
                self.sp.wait_many(rs2, timeout=120, on_exit=after_down, done=lambda: len(ended) == n)
                if len(ended) < n:
                    errors.append(f"{n - len(ended)} container(s) not deleted within 120 s of `kill 9`")
                down = max(r.end for r in rs2) - min(r.start for r in rs2)
                if errors:
                    self.fail(s, rt, f"{len(errors)} step(s) failed; first: {errors[0]}")
                    for j, cid in enumerate(ids):
                        if cid in rt.live:
                            self.destroy(rt, cid, cpids[j])
                    continue
                self.add_sample(s, rt, "up", ms(up))
                self.add_sample(s, rt, "down", ms(down))
                self.add_sample(s, rt, "total", ms(up + down))
        for m in ("up", "down", "total"):
            self.summarise(s, m, median)
