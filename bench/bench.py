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

PR_SET_CHILD_SUBREAPER = 36
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SANITY_MARK = "hull-bench-ok"
SECCOMP_PROFILE = "/usr/share/containers/seccomp.json"


class Timeout(Exception):
    pass


def _on_alarm(_sig, _frame):
    raise Timeout()


def _on_term(sig, _frame):
    raise KeyboardInterrupt(f"signal {sig}")


@contextmanager
def deadline(seconds):
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def tail(path, n=1):
    """Last non-empty line(s) of a file, shortened: the reason a command failed."""
    try:
        with open(path, errors="replace") as f:
            lines = [l.strip() for l in f.read().splitlines() if l.strip()]
    except OSError:
        return ""
    text = " | ".join(lines[-n:])
    # runc/crun log lines carry a timestamp; keep the message.
    m = re.search(r'msg="?(.*?)"?$', text)
    if m and "level=" in text:
        text = m.group(1)
    return text[:200]


def median(xs):
    return statistics.median(xs)


def p90(xs):
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=10, method="inclusive")[8]


def ms(ns):
    return ns / 1e6


class Res:
    """What one finished process left: exit code (negative = signal), wall time, rusage."""

    def __init__(self, pid, start_ns):
        self.pid = pid
        self.start = start_ns
        self.end = None
        self.rc = None
        self.maxrss_kb = None
        self.cpu_s = None
        self.err = None  # stderr file
        self.out = None  # stdout file or None

    @property
    def dur_ns(self):
        return self.end - self.start

    @property
    def ok(self):
        return self.rc == 0

    def reason(self, what):
        if self.rc is None:
            return f"{what}: timed out"
        code = f"exit {self.rc}" if self.rc >= 0 else f"killed by signal {-self.rc}"
        msg = tail(self.err) if self.err else ""
        return f"{what}: {code}" + (f": {msg}" if msg else "")


class Spawner:
    """posix_spawn + wait4, and the reaping of orphaned container processes."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.pending = {}  # pid -> Res
        self.orphans = set()  # pids of re-parented processes we reaped
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        self.devnull = "/dev/null"
        self.seq = 0

    def spawn(self, argv, out=None, err=True):
        """Start argv; stdin /dev/null, stdout to `out` (a path) or /dev/null, stderr to a log."""
        self.seq += 1
        errpath = os.path.join(self.logdir, f"{self.seq}.err") if err else None
        fa = [
            (os.POSIX_SPAWN_OPEN, 0, self.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, out or self.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, errpath or self.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        ]
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa,
                             setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM))
        r = Res(pid, start)
        r.err, r.out = errpath, out
        self.pending[pid] = r
        return r

    def _record(self, pid, status, ru):
        now = time.perf_counter_ns()
        r = self.pending.pop(pid, None)
        if r is None:
            self.orphans.add(pid)
            return None
        r.end = now
        r.rc = os.waitstatus_to_exitcode(status)
        r.maxrss_kb = ru.ru_maxrss
        r.cpu_s = ru.ru_utime + ru.ru_stime  # this process and the children it reaped
        return r

    def reap_orphans(self):
        """Collect any exited child without blocking (zombie containers)."""
        while True:
            try:
                pid, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._record(pid, status, ru)

    def kill_and_reap(self, r):
        try:
            os.kill(r.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            _pid, status, ru = os.wait4(r.pid, 0)
            self._record(r.pid, status, ru)
        except ChildProcessError:
            self.pending.pop(r.pid, None)
        r.rc = None
        if r.end is None:
            r.end = time.perf_counter_ns()

    def wait(self, r, timeout=30.0):
        """Block until r exits (wait4 on its pid); on timeout kill it and leave rc None."""
        try:
            with deadline(timeout):
                _pid, status, ru = os.wait4(r.pid, 0)
            self._record(r.pid, status, ru)
        except Timeout:
            self.kill_and_reap(r)
        return r

    def call(self, argv, timeout=30.0, out=None):
        self.reap_orphans()  # outside the timed window
        return self.wait(self.spawn(argv, out=out), timeout)

    def wait_many(self, rs, timeout=120.0, on_exit=None, done=None):
        """Wait for every Res in rs (a list that on_exit may extend) and until done() if given.

        on_exit(res) is called for each of ours that ends, on_exit(pid) for a reaped orphan."""
        def finished():
            return all(r.end is not None for r in rs) and (done is None or done())
        try:
            with deadline(timeout):
                while not finished():
                    pid, status, ru = os.wait4(-1, 0)
                    r = self._record(pid, status, ru)
                    if on_exit:
                        more = on_exit(r if r is not None else pid)
                        rs.extend(more or ())
        except Timeout:
            for r in rs:
                if r.end is None:
                    self.kill_and_reap(r)
        except ChildProcessError:
            pass
        return rs

    def wait_exit(self, pid, timeout=10.0):
        """Wait for a container process (re-parented to us) to exit. True when it has."""
        if pid in self.orphans:
            self.orphans.discard(pid)
            return True
        try:
            with deadline(timeout):
                while True:
                    try:
                        ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
                    except (OSError, ValueError, IndexError):
                        self.orphans.discard(pid)
                        return True  # gone
                    if ppid == os.getpid():
                        try:
                            _p, status, ru = os.wait4(pid, 0)
                            self._record(pid, status, ru)
                        except ChildProcessError:
                            pass
                        self.orphans.discard(pid)
                        return True
                    # Not our child (the runtime keeps a parent around): poll.
                    st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
                    if st in ("Z", "X"):
                        return True
                    time.sleep(0.0005)
        except Timeout:
            return False


class Runtime:
    def __init__(self, name, path, workdir):
        self.name = name
        self.path = path
        self.root = os.path.join(workdir, "root-" + name)
        os.makedirs(self.root, exist_ok=True)
        self.live = set()  # container ids that may still exist
        self.broken = None  # reason the runtime cannot run at all
        self.has_pidfile = True
        self.caveats = []  # facts that make its figures not like-for-like
        self.cgroups = None  # hierarchies in which the container got its own cgroup

    def argv(self, *args):
        return [self.path, "--root", self.root, *args]

    def create_argv(self, bundle, cid, pidfile):
        """`create`, with --pid-file when the runtime has it (else the bench asks `state`)."""
        extra = ["--pid-file", pidfile] if self.has_pidfile else []
        return self.argv("create", "--bundle", bundle, *extra, cid)


def elf_info(path):
    """(stripped, static) from the ELF headers: .symtab present? PT_INTERP present?"""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None, None
    (e_phoff, e_shoff) = struct.unpack_from("<QQ", data, 0x20)
    e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    interp = any(struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0] == 3 for i in range(e_phnum))
    names = []
    if e_shoff and e_shnum:
        stro = struct.unpack_from("<Q", data, e_shoff + e_shstrndx * e_shentsize + 0x18)[0]
        for i in range(e_shnum):
            nameoff = struct.unpack_from("<I", data, e_shoff + i * e_shentsize)[0]
            end = data.index(b"\0", stro + nameoff)
            names.append(data[stro + nameoff:end].decode(errors="replace"))
    return (".symtab" not in names), (not interp)


class Bench:
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

    # ---------- 5. containerd ----------
    def bench_containerd(self):
        from containerd_bench import ContainerdBench
        ContainerdBench(self).run()

    # ---------- 6. seccomp ----------
    def bench_seccomp(self):
        s = "seccomp"
        cb = os.path.join(REPO, "target/release/examples/compile_bench")
        sec = self.section(s, f"6. seccomp: compile {SECCOMP_PROFILE} to BPF",
                           [("compile", "compile, mean per filter", "ms")],
                           note="hull-seccomp: target/release/examples/compile_bench PROFILE (its own loop, "
                                "mean of 1000). libseccomp (what runc and crun link): bench/seccomp_libseccomp.py "
                                "through ctypes (init, rules, export; mean of N), fed the OCI filter that "
                                "`compile_bench --oci` derives from the profile (podman's default caps, this "
                                "arch) so that both compile the same rules; without compile_bench it takes "
                                "every rule of the profile. Ratio vs libseccomp.")
        sec["refs"] = {"libseccomp": "libseccomp"}
        sec["rows"] = {n: {"status": "ok", "values": {}, "samples": {}} for n in ("hull-seccomp", "libseccomp")}
        if not os.path.exists(SECCOMP_PROFILE):
            for row in sec["rows"].values():
                row["status"] = f"skipped: {SECCOMP_PROFILE} missing (Debian golang-github-containers-common)"
            return
        texts = []
        profile_for_lib = SECCOMP_PROFILE
        hrow = sec["rows"]["hull-seccomp"]
        if not os.access(cb, os.X_OK):
            hrow["status"] = "skipped: target/release/examples/compile_bench not built (hull-seccomp example)"
        else:
            oci = os.path.join(self.workdir, "seccomp-oci.json")  # reused by section 7
            r = self.sp.call([cb, "--oci", SECCOMP_PROFILE], out=oci, timeout=60)
            if r.ok:
                profile_for_lib = oci
            else:
                texts.append("compile_bench --oci failed (" + r.reason("compile_bench --oci") +
                             "): libseccomp compiles the whole engine profile instead")
            out = os.path.join(self.logdir, "seccomp-hull.out")
            r = self.sp.call([cb, SECCOMP_PROFILE], out=out, timeout=300)
            body = open(out, errors="replace").read().strip()
            if not r.ok:
                hrow["status"] = "failed: " + r.reason("compile_bench")
            else:
                v, notes = parse_compile_bench(body)
                if v is None:
                    hrow["status"] = "failed: no `compile (mean of N): DURATION` line in compile_bench's output"
                else:
                    hrow["values"]["compile"] = v
                    hrow.setdefault("notes", {})["compile"] = notes
                texts.append("compile_bench printed:\n" + body[:2000])
        lrow = sec["rows"]["libseccomp"]
        out = os.path.join(self.logdir, "seccomp-libseccomp.out")
        r = self.sp.call([sys.executable, os.path.join(HERE, "seccomp_libseccomp.py"), profile_for_lib,
                          str(self.args.seccomp_iters)], out=out, timeout=300)
        body = open(out, errors="replace").read().strip()
        found = None
        for line in reversed(body.splitlines()):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("mean_us"), (int, float)):
                found = obj
                break
        if not r.ok or found is None:
            lrow["status"] = "failed: " + (r.reason("seccomp_libseccomp.py") if not r.ok else
                                           f"unexpected output {body[:200]!r}")
        else:
            lrow["values"]["compile"] = found["mean_us"] / 1000
            lrow["detail"] = found
            lrow.setdefault("notes", {})["compile"] = (
                f"{found['compiler']}, {len(found['arches'])} arch(es), {found['rules_added']} rules added, "
                f"median {found['median_us'] / 1000:.2f} ms, min {found['min_us'] / 1000:.2f} ms, "
                f"input: {'compile_bench --oci' if profile_for_lib != SECCOMP_PROFILE else 'whole engine profile'}")
        if texts:
            sec["text"] = "\n".join(texts)
        for name, row in sec["rows"].items():
            if row["status"] != "ok":
                log(f"   {name}: {row['status']}")

    # ---------- 7. run with the engine's seccomp profile ----------
    def bench_seccomp_run(self):
        """What the filter costs inside a real `run`: the lifecycle again, with linux.seccomp set
        to the OCI form of the engine profile (from compile_bench --oci)."""
        a = self.args
        s = "seccomp_run"
        self.section(s, "7. `run` busybox true with the engine seccomp profile in config.json",
                     [("wall", "sequential median", "ms"), ("cpu", "CPU user+sys median", "ms"),
                      ("cpu_extra", "CPU added by the filter (vs section 1)", "ms")],
                     note=f"{a.seccomp_runs} sequential runs per runtime, round-robin; linux.seccomp = "
                          f"`compile_bench --oci {SECCOMP_PROFILE}` (podman's default caps, this arch). "
                          f"'CPU added' = this CPU median minus section 1's.")
        oci = os.path.join(self.workdir, "seccomp-oci.json")
        if not os.path.exists(oci):
            cb = os.path.join(REPO, "target/release/examples/compile_bench")
            r = self.sp.call([cb, "--oci", SECCOMP_PROFILE], out=oci, timeout=60) if os.access(cb, os.X_OK) \
                else None
            if r is None or not r.ok:
                why = "compile_bench not built" if r is None else r.reason("compile_bench --oci")
                for row in self.results[s]["rows"].values():
                    if row["status"] == "ok":
                        row["status"] = f"skipped: no OCI form of the profile ({why})"
                return
        bundle = self.make_bundle("seccomp", ["true"])
        cfgp = os.path.join(bundle, "config.json")
        cfg = json.load(open(cfgp))
        cfg["linux"]["seccomp"] = json.load(open(oci))
        json.dump(cfg, open(cfgp, "w"), indent=1)
        for i in range(a.seccomp_runs + 2):
            for rt in self.active(s, i):
                cid = f"{self.prefix}-{rt.name}-sc{i}"
                rt.live.add(cid)
                r = self.sp.call(rt.argv("run", "--bundle", bundle, cid))
                if not r.ok:
                    self.fail(s, rt, r.reason("run with seccomp"))
                    continue
                rt.live.discard(cid)
                if i >= 2:  # two warm-ups
                    self.add_sample(s, rt, "wall", ms(r.dur_ns))
                    self.add_sample(s, rt, "cpu", r.cpu_s * 1000)
        self.summarise(s, "wall", median)
        self.summarise(s, "cpu", median)
        base = self.results.get("lifecycle", {}).get("rows", {})
        for name, row in self.results[s]["rows"].items():
            b = base.get(name, {}).get("values", {}).get("seq_cpu")
            if "cpu" in row["values"] and b is not None:
                row["values"]["cpu_extra"] = row["values"]["cpu"] - b

    # ---------- 8. scaling ----------
    def bench_scaling(self):
        """Does the cost of one `run` grow with what is already on the host? `run` of `true` on a
        quiet host, with N idle containers per runtime running, and with M extra mounts in the
        bench's (private) mount namespace; the loaded/quiet ratio is the figure (1.00x = flat)."""
        a = self.args
        s = "scaling"
        n_idle, n_mnt, runs = a.scale_idle, a.scale_mounts, a.scale_runs
        self.section(s, f"8. scaling: `run` busybox true, quiet vs {n_idle} idle containers vs {n_mnt} mounts",
                     [("quiet", "quiet host: median", "ms"),
                      ("idle", f"{n_idle} idle containers per runtime: median", "ms"),
                      ("mounts", f"{n_mnt} extra mounts: median", "ms"),
                      ("idle_ratio", f"{n_idle} idle / quiet", "x"),
                      ("mounts_ratio", f"{n_mnt} mounts / quiet", "x")],
                     note=f"{runs} sequential `run`s per runtime and condition, round-robin; quiet blocks "
                          f"alternate with the mounted ones and follow the idle phase. Idle: {n_idle} `sleep` containers of "
                          f"EVERY runtime running at once (create+start, so {n_idle} x runtimes in all). "
                          f"Mounts: {n_mnt} tmpfs mounts under one tmpfs in the bench's private mount "
                          f"namespace (what each container's overlay rootfs adds on a podman/containerd "
                          f"host); the kernel copies them into every new mount namespace, so even the "
                          f"`floor` row (`unshare -fpmiun chroot ROOTFS true`) grows: compare each "
                          f"runtime's ratio with the floor's. 1.00x = flat.")
        bundle = self.bundles["true"]
        floor_argv = [shutil.which("unshare") or "/usr/bin/unshare", "-fpmiun",
                      shutil.which("chroot") or "/usr/sbin/chroot", self.rootfs, "/bin/true"]
        floor = {"samples": {}, "error": None}

        def block(cond, count, tag):
            for i in range(count):
                if floor["error"] is None:
                    r = self.sp.call(floor_argv)
                    if r.ok:
                        floor["samples"].setdefault(cond, []).append(ms(r.dur_ns))
                    else:
                        floor["error"] = r.reason("unshare+chroot")
                for rt in self.active(s, i):
                    cid = f"{self.prefix}-{rt.name}-{tag}{i}"
                    rt.live.add(cid)
                    r = self.sp.call(rt.argv("run", "--bundle", bundle, cid))
                    if r.ok:
                        rt.live.discard(cid)
                        if cond:
                            self.add_sample(s, rt, cond, ms(r.dur_ns))
                    else:
                        self.fail(s, rt, r.reason(f"run ({cond or 'warm-up'})"))

        block(None, 1, "zw")
        # (c) extra mounts: only in a mount namespace of our own (bench/run.sh's `unshare -m`, which
        # execs this script, so the parent process is still in the caller's namespace). Quiet and
        # mounted blocks alternate (mounting and detaching them all takes milliseconds).
        try:
            private_ns = (os.environ.get("HULL_BENCH_IN_NS") == "1" and
                          os.readlink("/proc/self/ns/mnt") != os.readlink(f"/proc/{os.getppid()}/ns/mnt"))
        except OSError:
            private_ns = False
        if not private_ns:
            self.results[s]["note"] += (" Mounts phase skipped: the bench is not in a mount namespace "
                                        "of its own (run it through bench/run.sh).")
        rounds = max(1, min(4, runs // 2))
        for k in range(rounds):
            per = runs // rounds + (1 if k < runs % rounds else 0)
            block("quiet", (per + 1) // 2, f"zq{k}x")
            if not private_ns:
                continue
            try:
                self.scale_mount(n_mnt)
                block("mounts", per, f"zm{k}x")
            except OSError as e:
                for rt in self.runtimes:
                    self.fail(s, rt, f"mounts phase: {e}")
            finally:
                self.scale_unmount()
        # (b) idle containers of every runtime, created and started before the runs.
        try:
            errors = self.scale_start_idle(n_idle)
            if errors:
                for rt, why in errors.items():
                    self.fail(s, rt, f"idle containers: {why}")
            block("idle", runs, "zi")
        finally:
            self.scale_stop_idle()
        block("quiet", runs // 2, "zr")
        for m in ("quiet", "idle", "mounts"):
            self.summarise(s, m, median)
        frow = {"status": "n/a", "values": {}, "samples": floor["samples"]}
        if floor["error"]:
            frow["status"] = "failed: " + floor["error"]
        else:
            frow["values"] = {k: median(v) for k, v in floor["samples"].items() if v}
        self.results[s]["rows"]["floor"] = frow
        for row in self.results[s]["rows"].values():
            v = row["values"]
            for m in ("idle", "mounts"):
                if v.get(m) is not None and v.get("quiet"):
                    v[m + "_ratio"] = v[m] / v["quiet"]

    # ---------- 9. list/state with many containers (bench/listing.py) ----------
    def bench_listing(self):
        import listing  # bench/ is on sys.path (main)
        listing.run(self, median, ms, log)

    def scale_mount(self, n):
        """n tmpfs mounts under one tmpfs in the bench's workdir: one lazy umount removes them all."""
        libc = ctypes.CDLL(None, use_errno=True)
        top = os.path.join(self.workdir, "scale-mnt")
        os.makedirs(top, exist_ok=True)

        def mount(target):
            if libc.mount(b"hullbench", target.encode(), b"tmpfs", 0, b"size=16k") != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"mount tmpfs on {target}: {os.strerror(e)}")

        mount(top)
        self.scale_mnt_top = top
        for i in range(n):
            d = os.path.join(top, f"m{i}")
            os.mkdir(d)
            mount(d)

    def scale_unmount(self):
        top = getattr(self, "scale_mnt_top", None)
        if top is None:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        MNT_DETACH = 2
        if libc.umount2(top.encode(), MNT_DETACH) != 0:
            self.leftovers.setdefault("bench", []).append(
                f"scaling: umount {top}: {os.strerror(ctypes.get_errno())} (the mount namespace "
                f"goes away with the bench anyway)")
        self.scale_mnt_top = None

    def scale_start_idle(self, n):
        """create+start n `sleep` containers per runtime, a few at a time; {runtime: first error}."""
        bundle = self.bundles["sleep"]
        self.scale_idle_ids = []
        errors = {}
        for i in range(n):
            for rt in self.active("scaling", i):
                if rt in errors:
                    continue
                cid = f"{self.prefix}-{rt.name}-zidle{i}"
                pidfile = os.path.join(self.workdir, cid + ".pid")
                rt.live.add(cid)
                self.scale_idle_ids.append((rt, cid, pidfile))
                r = self.sp.call(rt.create_argv(bundle, cid, pidfile))
                if r.ok:
                    r = self.sp.call(rt.argv("start", cid))
                if not r.ok:
                    errors[rt] = r.reason("create/start")
        log(f"   {len(self.scale_idle_ids)} idle containers up")
        return errors

    def scale_stop_idle(self):
        """kill 9 every idle container, then delete each once its process is gone."""
        ids = getattr(self, "scale_idle_ids", [])
        pids = {}
        for rt, cid, pidfile in ids:
            pids[cid] = self.container_pid(rt, cid, pidfile) if os.path.exists(pidfile) else None
            self.sp.call(rt.argv("kill", cid, "9"), timeout=10)
        for rt, cid, _pidfile in ids:
            if pids[cid]:
                self.sp.wait_exit(pids[cid], timeout=5)
            r = self.sp.call(rt.argv("delete", cid), timeout=10)
            if not r.ok:
                r = self.sp.call(rt.argv("delete", "--force", cid), timeout=10)
            if r.ok:
                rt.live.discard(cid)
        self.scale_idle_ids = []

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
                            ("listing", self.bench_listing)):
                if key in wanted or "all" in wanted:
                    fn()
        finally:
            self.cleanup()
        self.load_end = os.getloadavg()
        self.finished = datetime.datetime.now(datetime.timezone.utc)
        return self

    def close(self):
        shutil.rmtree(self.workdir, ignore_errors=True)


def rust_duration_ms(text):
    """Rust's Duration Debug format (1.2s, 3.4ms, 56.7µs, 89ns) in milliseconds."""
    m = re.fullmatch(r"([0-9.]+)\s*(s|ms|µs|us|ns)", text.strip())
    if not m:
        return None
    scale = {"s": 1e3, "ms": 1.0, "µs": 1e-3, "us": 1e-3, "ns": 1e-6}[m.group(2)]
    return float(m.group(1)) * scale


def parse_compile_bench(body):
    """(mean compile time in ms, notes) from compile_bench's text output."""
    value, notes = None, []
    for line in body.splitlines():
        key, _, val = line.partition(":")
        if key.startswith("compile (mean of"):
            value = rust_duration_ms(val)
        elif key in ("instructions", "warnings"):
            notes.append(f"{key} {val.strip()}")
        elif key.startswith("first compile"):
            notes.append(f"first (with kernel probe) {val.strip()}")
        elif key.startswith("parse JSON + compile"):
            notes.append(f"parse+compile {val.strip()}")
        elif key.startswith("install"):
            notes.append(f"install {val.strip()}")
    return value, ", ".join(notes)


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
                         "listing (default all)")
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
    ap.add_argument("--quick", action="store_true", help="few iterations (smoke test of the harness)")
    ap.add_argument("--command", default=None, help="the command line to record in the report")
    a = ap.parse_args()
    if a.quick:
        (a.runs, a.warmup, a.batches, a.verbs, a.rss, a.burst, a.burst_rounds, a.ctr_runs,
         a.seccomp_iters, a.seccomp_runs) = (5, 1, 2, 3, 2, 10, 1, 3, 5, 3)
        a.scale_idle, a.scale_mounts, a.scale_runs = 10, 100, 3
        a.list_counts, a.list_runs = "2,5,10", 2
        a.shim_rss_containers = 3
        a.par_levels, a.par_batches = "1,4", 1
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
