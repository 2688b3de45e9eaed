"""Shared pieces of the bench: the timer and spawner, runtimes, statistics, logging."""

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


def enter_bench_namespace():
    """Re-run this script in a private mount namespace and unmount cgroup2 there (as bench/run.sh
    does: crun 1.8 refuses the hybrid layout). Returns in the re-run process only."""
    if os.environ.get("HULL_BENCH_IN_NS") != "1":
        os.environ["HULL_BENCH_IN_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable] + sys.argv)
    if os.path.ismount("/sys/fs/cgroup/unified"):
        subprocess.run(["umount", "/sys/fs/cgroup/unified"], check=True)


def write_bundle(work, rootfs, args=None):
    """bench/config.json with `rootfs` (and `args`, if given) as `work`/bundle; returns its path."""
    with open(os.path.join(HERE, "config.json")) as f:
        cfg = json.load(f)
    cfg["root"]["path"] = os.path.abspath(rootfs)
    if args is not None:
        cfg["process"]["args"] = args
    bundle = os.path.join(work, "bundle")
    os.makedirs(bundle)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    return bundle


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
