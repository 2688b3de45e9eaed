#!/usr/bin/env python3
"""hull benchmark: hull vs crun vs runc, same machine, same run, round-robin.

Run it through bench/run.sh (it enters a private mount namespace first, see docs/bench.md).

Why a timer of our own rather than hyperfine: hyperfine runs all iterations of one command before
the next, so a burst of load from the other workers on this shared 2-core machine lands on one
runtime only. Here every iteration visits every runtime in turn (rotating the order), each call is
one posix_spawn + wait4 (no shell), and every call's exit status is checked: a runtime that fails
gets a "failed: <reason>" row instead of a fast-looking number.

The harness is a child subreaper (like a shim): container processes left behind by `create` are
re-parented to it, so it reaps them and knows exactly when a container has exited.
"""

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
from common import _on_alarm, _on_term
from sections_lifecycle import LifecycleSections
from sections_host import HostSections


class Bench(LifecycleSections, HostSections):
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="hull-bench.", dir="/run" if os.path.isdir("/run") else None)
        self.logdir = os.path.join(self.workdir, "logs")
        os.makedirs(self.logdir)
        self.sp = Spawner(self.logdir)
        self.prefix = f"hb{os.getpid() % 100000}"
        self.results = {}  # section -> {"title", "metrics": [(key,label,unit)], "rows": {rt: {...}}, "note"}
        self.order = []
        self.leftovers = {}
        self.runtimes = []
        self.rootfs = os.path.abspath(args.rootfs)
        self.bundles = {}

    # ---------- setup ----------
    def resolve_runtimes(self):
        for spec in self.args.runtimes.split():
            name = os.path.basename(spec)
            path = None
            if name == "hull" and spec == "hull":
                path = os.environ.get("HULL_BIN") or os.path.join(REPO, "target/release/hull")
            elif "/" in spec:
                path = os.path.abspath(spec)
            else:
                path = shutil.which(spec) or shutil.which(spec, path="/usr/sbin:/usr/local/sbin:/sbin")
            rt = Runtime(name, path or spec, self.workdir)
            if not path or not os.access(path, os.X_OK):
                rt.broken = f"binary not found ({path or spec})"
            self.runtimes.append(rt)

    def make_bundle(self, name, args):
        with open(os.path.join(HERE, "config.json")) as f:
            cfg = json.load(f)
        cfg["root"]["path"] = self.rootfs
        cfg["process"]["args"] = args
        d = os.path.join(self.workdir, "bundle-" + name)
        os.makedirs(d)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        self.bundles[name] = d
        return d

    def sanity(self, rt):
        """One `run` that must print the marker, hostname and PID 1 from inside the container."""
        if rt.broken:
            return
        out = os.path.join(self.logdir, f"sanity-{rt.name}.out")
        cid = f"{self.prefix}-{rt.name}-sanity"
        rt.live.add(cid)
        r = self.sp.call(rt.argv("run", "--bundle", self.bundles["echo"], cid), out=out)
        if not r.ok:
            rt.broken = r.reason("sanity run")
            return
        rt.live.discard(cid)
        try:
            h = subprocess.run([rt.path, "create", "--help"], capture_output=True, text=True, timeout=10)
            if h.returncode == 0 and "pid-file" not in h.stdout + h.stderr:
                rt.has_pidfile = False
                log(f"{rt.name}: `create --help` lists no --pid-file: container pids come from `state`")
        except (OSError, subprocess.TimeoutExpired):
            pass
        got = open(out, errors="replace").read().strip()
        want = f"{SANITY_MARK} hullbench 1"
        if got != want:
            rt.broken = f"sanity run: printed {got!r}, expected {want!r}"
            return
        self.check_cgroup(rt)

    def check_cgroup(self, rt):
        """Does the runtime give the container a cgroup of its own? A runtime that skips the
        cgroup work looks faster than it is: say so next to its figures."""
        cid = f"{self.prefix}-{rt.name}-cgcheck"
        pidfile = os.path.join(self.workdir, cid + ".pid")
        rt.live.add(cid)
        r = self.sp.call(rt.create_argv(self.bundles["sleep"], cid, pidfile))
        if not r.ok:
            rt.caveats.append("cgroup check: " + r.reason("create"))
            self.destroy(rt, cid)
            return
        pid = self.container_pid(rt, cid, pidfile)
        try:
            mine = set(open("/proc/self/cgroup").read().split())
            theirs = set(open(f"/proc/{pid}/cgroup").read().split()) if pid else None
        except OSError as e:
            theirs, mine = None, set()
            rt.caveats.append(f"cgroup check: {e}")
        if theirs is not None:
            own = sorted(l.split(":", 2)[1] or "cgroup2" for l in theirs - mine)
            rt.cgroups = own
            if not own:
                rt.caveats.append("the container gets no cgroup of its own (it stays in the caller's): "
                                  "its figures leave out the cgroup work runc and crun do")
        self.destroy(rt, cid, pid)

    def version(self, rt):
        if rt.broken and "not found" in rt.broken:
            return "-"
        try:
            v = subprocess.run([rt.path, "--version"], capture_output=True, text=True, timeout=10)
            first = (v.stdout or v.stderr).strip().splitlines()
            text = first[0] if first else "?"
        except (OSError, subprocess.TimeoutExpired) as e:
            text = f"? ({e})"
        if rt.name == "hull":
            text += " (git " + git_rev() + ")"
        return text

    # ---------- helpers ----------
    def active(self, section, i=0):
        """Runtimes still in play for a section, rotated by iteration i (round-robin)."""
        rts = [rt for rt in self.runtimes if not rt.broken
               and not self.results[section]["rows"][rt.name].get("status", "ok").startswith("failed")]
        if not rts:
            return rts
        k = i % len(rts)
        return rts[k:] + rts[:k]

    def section(self, key, title, metrics, note=""):
        self.order.append(key)
        rows = {}
        for rt in self.runtimes:
            rows[rt.name] = {"status": f"failed: {rt.broken}" if rt.broken else "ok", "values": {}, "samples": {}}
        self.results[key] = {"title": title, "metrics": metrics, "rows": rows, "note": note}
        log(f"== {title}")
        return self.results[key]

    def fail(self, section, rt, reason):
        row = self.results[section]["rows"][rt.name]
        if row["status"] == "ok":
            row["status"] = f"failed: {reason}"
            log(f"   {rt.name}: failed: {reason}")

    def add_sample(self, section, rt, metric, value):
        self.results[section]["rows"][rt.name]["samples"].setdefault(metric, []).append(value)

    def summarise(self, section, metric, stat=median, src=None):
        for rt in self.runtimes:
            row = self.results[section]["rows"][rt.name]
            xs = row["samples"].get(src or metric)
            if xs and row["status"] == "ok":
                row["values"][metric] = stat(xs)

    def container_pid(self, rt, cid, pidfile):
        try:
            return int(open(pidfile).read().strip())
        except (OSError, ValueError):
            pass
        r = self.sp.call(rt.argv("state", cid), out=os.path.join(self.logdir, "state.out"))
        if r.ok:
            try:
                return int(json.load(open(r.out))["pid"])
            except (OSError, ValueError, KeyError):
                pass
        return None

    def destroy(self, rt, cid, pid=None):
        """Best effort, untimed: kill, wait for the process, delete (then delete --force)."""
        self.sp.call(rt.argv("kill", cid, "9"), timeout=10)
        if pid:
            self.sp.wait_exit(pid, timeout=5)
        r = self.sp.call(rt.argv("delete", cid), timeout=10)
        if not r.ok:
            r = self.sp.call(rt.argv("delete", "--force", cid), timeout=10)
        if r.ok:
            rt.live.discard(cid)
        return r.ok

    # ---------- 5. containerd ----------
    def bench_containerd(self):
        from containerd_bench import ContainerdBench
        ContainerdBench(self).run()

    # ---------- 10. CRI pods ----------
    def bench_pods(self):
        from pods_bench import PodsBench
        PodsBench(self).run()

    # ---------- cleanup ----------
    def cleanup(self):
        self.sp.reap_orphans()
        self.scale_unmount()
        for rt in self.runtimes:
            left = sorted(rt.live)
            for cid in left:
                self.destroy(rt, cid)
            state_left = []
            if os.path.isdir(rt.root):
                state_left = [e for e in os.listdir(rt.root) if e.startswith(self.prefix)]
            if left or state_left:
                self.leftovers.setdefault(rt.name, []).append(
                    f"{len(left)} container(s) not deleted by the bench's own steps" if left else
                    f"state dirs left under --root after delete: {', '.join(state_left[:5])}")
        stray = self.kill_stray_children()
        if stray:
            self.leftovers.setdefault("bench", []).append(
                f"{len(stray)} process(es) still running after the runtimes' kill/delete, SIGKILLed by "
                f"the bench: " + ", ".join(stray[:5]))
        cg = self.sweep_cgroups()
        for name, paths in cg.items():
            where = sorted({os.path.dirname(p) for p in paths})
            hint = ""
            if any(w.startswith("/sys/fs/cgroup/unified") for w in where) and not os.path.ismount(
                    "/sys/fs/cgroup/unified"):
                hint = " (plain directories: cgroup2 is unmounted in the bench namespace)"
            if name == "ctrd":
                name, what = "containerd", "parent cgroup /<namespace> of the Go shim's containers"
            else:
                what = "cgroup dir(s)"
            self.leftovers.setdefault(name, []).append(
                f"{len(paths)} {what} under {', '.join(where)}{hint}")
        self.sp.reap_orphans()

    def kill_stray_children(self):
        """SIGKILL what is still our child now (only what the bench started, or container
        processes re-parented to it, can be); then reap."""
        me = os.getpid()
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = open(f"/proc/{d}/stat").read()
                state, ppid = stat.rsplit(")", 1)[1].split()[:2]
                comm = stat[stat.index("(") + 1:stat.rindex(")")]
            except (OSError, ValueError, IndexError):
                continue
            if int(ppid) == me and state != "Z":
                try:
                    os.kill(int(d), signal.SIGKILL)
                    found.append(f"{d} ({comm})")
                except ProcessLookupError:
                    pass
        if found:
            try:
                with deadline(5):
                    for entry in found:
                        try:
                            os.waitpid(int(entry.split()[0]), 0)
                        except ChildProcessError:
                            pass
            except Timeout:
                pass
        self.sp.reap_orphans()
        return found

    def sweep_cgroups(self):
        """Remove cgroup directories named after our containers that a runtime left behind."""
        found = {}
        base = "/sys/fs/cgroup"
        pat = re.compile(re.escape(self.prefix) + r"-([A-Za-z0-9_.]+)")
        for top, dirs, _files in os.walk(base):
            depth = top[len(base):].count("/")
            if depth >= 4:
                dirs[:] = []
                continue
            for d in list(dirs):
                if self.prefix in d:
                    path = os.path.join(top, d)
                    m = pat.search(d)
                    name = m.group(1) if m else "?"
                    for sub, _subdirs, _f in sorted(os.walk(path), key=lambda t: -len(t[0])):
                        try:
                            os.rmdir(sub)
                        except OSError:
                            pass
                    found.setdefault(name, []).append(path)
                    dirs.remove(d)
        return found

    # ---------- main ----------
    def run(self):
        a = self.args
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.load_start = os.getloadavg()
        self.resolve_runtimes()
        self.make_bundle("true", ["true"])
        self.make_bundle("echo", ["sh", "-c", f"echo {SANITY_MARK} $(hostname) $$"])
        self.make_bundle("sleep", ["sleep", "3600"])
        for rt in self.runtimes:
            self.sanity(rt)
            log(f"{rt.name}: {rt.path}: " + (f"BROKEN: {rt.broken}" if rt.broken else "sanity ok"))
        self.versions = {rt.name: self.version(rt) for rt in self.runtimes}
        wanted = a.sections.split(",")
        try:
            for key, fn in (("lifecycle", self.bench_lifecycle), ("concurrency", self.bench_concurrency),
                            ("verbs", self.bench_verbs),
                            ("memory", self.bench_memory), ("burst", self.bench_burst),
                            ("containerd", self.bench_containerd), ("seccomp", self.bench_seccomp),
                            ("seccomp_run", self.bench_seccomp_run), ("scaling", self.bench_scaling),
                            ("listing", self.bench_listing), ("pods", self.bench_pods)):
                if key in wanted or "all" in wanted:
                    fn()
        finally:
            self.cleanup()
        self.load_end = os.getloadavg()
        self.finished = datetime.datetime.now(datetime.timezone.utc)
        return self

    def close(self):
        shutil.rmtree(self.workdir, ignore_errors=True)


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "") if rev else "?"
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runtimes", default="hull runc crun",
                    help="names (looked up in PATH; `hull` = target/release/hull) or paths")
    ap.add_argument("--rootfs", default=os.path.join(REPO, "build/rootfs"))
    ap.add_argument("--out-md", default=os.path.join(REPO, "build/bench.md"))
    ap.add_argument("--out-json", default=os.path.join(REPO, "build/bench.json"))
    ap.add_argument("--sections", default="all",
                    help="comma list of lifecycle,concurrency,verbs,memory,burst,containerd,seccomp,seccomp_run,scaling,"
                         "listing,pods (default all)")
    ap.add_argument("--runs", type=int, default=100, help="sequential `run`s per runtime")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--par", type=int, default=8, help="concurrent `run`s per batch")
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--par-levels", default="1,8,32,100",
                    help="concurrency section: how many lifecycles at once, comma list")
    ap.add_argument("--par-batches", type=int, default=5, help="concurrency section: batches per level")
    ap.add_argument("--verbs", type=int, default=50, help="iterations of create/start/exec/delete")
    ap.add_argument("--rss", type=int, default=9, help="creates measured for peak RSS")
    ap.add_argument("--burst", type=int, default=100, help="containers in the burst")
    ap.add_argument("--burst-rounds", type=int, default=5)
    ap.add_argument("--ctr-runs", type=int, default=30, help="`ctr run --rm` per shim")
    ap.add_argument("--idle-window", type=float, default=5.0,
                    help="seconds over which an idle shim's wake-ups are counted (section 5)")
    ap.add_argument("--shim-rss-containers", type=int, default=10,
                    help="containers up at once for the mean shim RSS (section 5)")
    ap.add_argument("--seccomp-iters", type=int, default=30, help="libseccomp compilations timed")
    ap.add_argument("--seccomp-runs", type=int, default=40, help="`run`s with the seccomp profile")
    ap.add_argument("--scale-idle", type=int, default=100, help="scaling: idle containers per runtime")
    ap.add_argument("--scale-mounts", type=int, default=1000, help="scaling: extra tmpfs mounts")
    ap.add_argument("--scale-runs", type=int, default=20, help="scaling: `run`s per runtime and condition")
    ap.add_argument("--list-counts", default="10,100,1000",
                    help="listing: container counts under one --root (three or more)")
    ap.add_argument("--list-runs", type=int, default=10, help="listing: `list`/`state` calls per count")
    ap.add_argument("--pod-runs", type=int, default=20, help="pods: CRI pod starts per handler")
    ap.add_argument("--pod-rss", type=int, default=5, help="pods: pods (pause + 3 containers) measured for RSS")
    ap.add_argument("--quick", action="store_true", help="few iterations (smoke test of the harness)")
    ap.add_argument("--command", default=None, help="the command line to record in the report")
    a = ap.parse_args()
    if a.quick:
        (a.runs, a.warmup, a.batches, a.verbs, a.rss, a.burst, a.burst_rounds, a.ctr_runs,
         a.seccomp_iters, a.seccomp_runs) = (5, 1, 2, 3, 2, 10, 1, 3, 5, 3)
        a.scale_idle, a.scale_mounts, a.scale_runs = 10, 100, 3
        a.list_counts, a.list_runs = "2,5,10", 2
        a.shim_rss_containers, a.idle_window = 3, 1.0
        a.par_levels, a.par_batches = "1,4", 1
        a.pod_runs, a.pod_rss = 3, 2
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (it creates containers)")
    if not os.path.exists(os.path.join(a.rootfs, "bin/busybox")):
        sys.exit(f"bench: no busybox rootfs at {a.rootfs}: run `make rootfs`")
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    sys.path.insert(0, HERE)
    import report
    b = Bench(a)
    try:
        b.run()
        report.write(b, a)
    except KeyboardInterrupt as e:
        log(f"bench: interrupted ({e or 'SIGINT'}); containers, cgroups and temp files cleaned up")
        for name, items in b.leftovers.items():
            for it in items:
                log(f"  {name}: {it}")
        return 130
    finally:
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
