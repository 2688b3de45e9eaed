"""Section 5: containerd. `ctr run --rm` of busybox `true` through a shim, and the shim's RSS.

A private containerd (own root, state, sockets, CRI off) is started in the bench's mount namespace.
Variants: containerd's Go shim (io.containerd.runc.v2) driving runc, crun and hull through
`--runc-binary`, and hull's own shim (containerd-shim-hull-v2) once it exists.
"""

import os
import re
import shutil
import signal
import time

from common import REPO, SANITY_MARK, log, median, p90, ms

CONFIG = """version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{d}/c.sock"

[ttrpc]
  address = "{d}/c.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"""


def tag(variant):
    """go-shim+runc -> goshim.runc (container ids: the bench's cgroup sweep reads the runtime from them)."""
    return variant.replace("-", "").replace("+", ".")


class ContainerdBench:
    def __init__(self, bench):
        self.b = bench
        self.sp = bench.sp
        self.dir = os.path.join(bench.workdir, "ctrd")
        self.sock = os.path.join(self.dir, "c.sock")
        self.ns = f"{bench.prefix}-ctrd"  # cgroups of the Go shim land in /<ns>/<id>
        self.daemon = None
        self.variants = []  # (row name, runtime or None, extra ctr args)

    def ctr(self, *args):
        return [shutil.which("ctr") or "/usr/bin/ctr", "--address", self.sock, "-n", self.ns, *args]

    def ctr_run(self, extra, cid, *cmd, detach=False):
        # --rootfs: no image, so no image config: give PATH like the bench's config.json does.
        return self.ctr("run", "-d" if detach else "--rm", *extra, "--env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                        "--rootfs", self.b.rootfs, cid, *cmd)

    def start_daemon(self):
        os.makedirs(os.path.join(self.dir, "opt", "bin"))
        cfg = os.path.join(self.dir, "config.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(d=self.dir))
        exe = shutil.which("containerd")
        if not exe:
            return "containerd not installed"
        self.daemon = self.sp.spawn([exe, "--config", cfg])
        self.daemon_log = self.daemon.err
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            r = self.sp.call(self.ctr("version"), timeout=10)
            if r.ok:
                return None
            if self.daemon.pid not in self.sp.pending:
                return "containerd exited: " + self.daemon.reason("containerd")
            time.sleep(0.2)
        return "containerd did not answer within 30 s"

    def stop_daemon(self):
        d = self.daemon
        if d is None or d.pid not in self.sp.pending:
            return
        os.kill(d.pid, signal.SIGTERM)
        self.sp.wait(d, timeout=15)

    def cleanup_containers(self):
        out = os.path.join(self.b.logdir, "ctr-ls.out")
        r = self.sp.call(self.ctr("containers", "list", "-q"), out=out, timeout=20)
        if not r.ok:
            return
        for cid in open(out).read().split():
            self.sp.call(self.ctr("tasks", "kill", "-s", "SIGKILL", cid), timeout=10)
            self.sp.call(self.ctr("tasks", "delete", "--force", cid), timeout=20)
            self.sp.call(self.ctr("containers", "delete", cid), timeout=20)
            self.b.leftovers.setdefault("containerd", []).append(f"container {cid} left after its steps")

    def run(self):
        b = self.b
        s = "containerd"
        self.rows_setup()
        sec = b.section(s, "5. containerd: `ctr run --rm` busybox true, and shim RSS",
                        [("run_median", "ctr run --rm median", "ms"), ("run_p90", "ctr run --rm p90", "ms"),
                         ("shim_rss", "shim RSS (container running)", "MiB"),
                         ("idle_wakeups", "idle shim wake-ups per second (1 container)", "/s"),
                         ("shim_rss_n", f"shim RSS, mean of {max(1, b.args.shim_rss_containers)} containers up", "MiB")],
                        note=f"{b.args.ctr_runs} `ctr run --rm --rootfs` of `true` per shim (round-robin, "
                             f"after one sanity run printing a marker); shim RSS = VmRSS of the shim "
                             f"process (the container's parent) while a `sleep` container runs, then the mean "
                             f"over the shims of {max(1, b.args.shim_rss_containers)} `sleep` containers "
                             f"up at once (Pss: pages shared between those shims counted once). Ratios "
                             f"are against the Go shim driving crun / runc.")
        sec["refs"] = {"crun": "go-shim+crun", "runc": "go-shim+runc"}
        sec["rows"] = {name: {"status": status, "values": {}, "samples": {}} for name, status, _ in self.variants}
        err = self.start_daemon()
        try:
            if err:
                for row in sec["rows"].values():
                    if row["status"] == "ok":
                        row["status"] = f"failed: {err}"
                return
            live = [(n, extra) for n, st, extra in self.variants if st == "ok"]
            for name, extra in live:
                self.sanity(sec, name, extra)
            for i in range(b.args.ctr_runs):
                ok = [(n, e) for n, e in live if sec["rows"][n]["status"] == "ok"]
                if not ok:
                    break
                k = i % len(ok)
                for name, extra in ok[k:] + ok[:k]:
                    cid = f"{b.prefix}-{tag(name)}-r{i}"
                    r = self.sp.call(self.ctr_run(extra, cid, "true"), timeout=60)
                    if r.ok:
                        sec["rows"][name]["samples"].setdefault("run", []).append(ms(r.dur_ns))
                    else:
                        self.fail(sec, name, r.reason("ctr run"))
            for name, extra in live:
                if sec["rows"][name]["status"] == "ok":
                    self.shim_rss(sec, name, extra)
            for row in sec["rows"].values():
                xs = row["samples"].get("run")
                if xs and row["status"] == "ok":
                    row["values"]["run_median"] = median(xs)
                    row["values"]["run_p90"] = p90(xs)
        finally:
            if self.daemon is not None and self.daemon.pid in self.sp.pending:
                self.cleanup_containers()
            self.stop_daemon()
            self.sp.reap_orphans()
            runc_root = f"/run/containerd/runc/{self.ns}"
            try:
                os.rmdir(runc_root)  # the Go shim's runtime root for our namespace (empty by now)
            except OSError:
                pass

    def fail(self, sec, name, reason):
        row = sec["rows"][name]
        if row["status"] == "ok":
            row["status"] = f"failed: {reason}"
            log(f"   {name}: failed: {reason}")

    def rows_setup(self):
        by_name = {rt.name: rt for rt in self.b.runtimes}
        for name in ("runc", "crun", "hull"):
            rt = by_name.get(name)
            if rt is None:
                continue
            status = f"failed: {rt.broken}" if rt.broken else "ok"
            self.variants.append((f"go-shim+{name}", status, ["--runc-binary", rt.path]))
        if "hull" in by_name:
            shim = os.path.join(REPO, "target/release/containerd-shim-hull-v2")
            hull = by_name["hull"]
            stub = self.shim_stub(shim) if os.access(shim, os.X_OK) else "not built"
            if stub:
                self.variants.append(("hull-shim+hull", f"skipped: hull shim not implemented ({stub})", []))
            elif hull.broken:
                self.variants.append(("hull-shim+hull", f"failed: {hull.broken}", []))
            else:
                # containerd looks up containerd-shim-hull-v2 in <opt>/bin first; put hull beside it.
                self._pending_links = [(shim, "containerd-shim-hull-v2"), (hull.path, "hull")]
                self.variants.append(("hull-shim+hull", "ok", ["--runtime", "io.containerd.hull.v2"]))

    def shim_stub(self, shim):
        """The placeholder shim refuses every call saying so; a real one answers `-v`."""
        import subprocess
        try:
            p = subprocess.run([shim, "-v"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{shim}: {e}"
        text = (p.stdout + p.stderr).strip()
        if p.returncode != 0 and ("not supported yet" in text or "not implemented" in text):
            return "the binary says: " + text.splitlines()[0][:120]
        return None

    def link_shim(self):
        for src, name in getattr(self, "_pending_links", []):
            dst = os.path.join(self.dir, "opt", "bin", name)
            if not os.path.exists(dst):
                os.symlink(src, dst)

    def sanity(self, sec, name, extra):
        self.link_shim()
        b = self.b
        out = os.path.join(b.logdir, f"ctr-sanity-{name}.out")
        cid = f"{b.prefix}-{tag(name)}-sanity"
        r = self.sp.call(self.ctr_run(extra, cid, "sh", "-c", f"echo {SANITY_MARK}"), out=out, timeout=60)
        if not r.ok:
            self.fail(sec, name, r.reason("sanity ctr run"))
            return
        got = open(out, errors="replace").read().strip()
        if got != SANITY_MARK:
            self.fail(sec, name, f"sanity ctr run printed {got!r}")

    def shim_of(self, cid):
        """(pid, comm, VmRSS kB, Pss kB or None, threads) of the shim that is the parent of `cid`'s
        init, or None when the task is not RUNNING."""
        out = os.path.join(self.b.logdir, "ctr-tasks.out")
        self.sp.call(self.ctr("tasks", "list"), out=out, timeout=20)
        m = re.search(rf"^{re.escape(cid)}\s+(\d+)\s+RUNNING", open(out).read(), re.M)
        if not m:
            return None
        pid = int(m.group(1))
        ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        comm = open(f"/proc/{ppid}/comm").read().strip()
        status = open(f"/proc/{ppid}/status").read()
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
        threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
        pss = None
        try:
            pss = int(re.search(r"Pss:\s+(\d+) kB", open(f"/proc/{ppid}/smaps_rollup").read()).group(1))
        except (OSError, AttributeError):
            pass
        return ppid, comm, rss, pss, threads

    @staticmethod
    def switches(pid):
        """Context switches so far, summed over the threads of `pid` (each one a wake-up)."""
        n = 0
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                st = open(f"/proc/{pid}/task/{t}/status").read()
            except OSError:
                continue
            for k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                m = re.search(rf"^{k}:\s+(\d+)", st, re.M)
                n += int(m.group(1)) if m else 0
        return n

    def shim_rss(self, sec, name, extra):
        """RSS of the shim with one container up, then the mean per shim with
        --shim-rss-containers up at once (each in its own shim, as `ctr run` makes them)."""
        b = self.b
        n = max(1, b.args.shim_rss_containers)
        cids = []
        try:
            for k in range(n):
                cid = f"{b.prefix}-{tag(name)}-rss{k}"
                r = self.sp.call(self.ctr_run(extra, cid, "sleep", "3600", detach=True), timeout=60)
                if not r.ok:
                    self.fail(sec, name, r.reason("ctr run -d sleep"))
                    self.sp.call(self.ctr("containers", "delete", cid), timeout=20)
                    return
                cids.append(cid)
                if k == 0:
                    one = self.shim_of(cid)
                    if one is None:
                        self.fail(sec, name, "task not RUNNING after `ctr run -d`")
                        return
                    ppid, comm, rss, pss, threads = one
                    row = sec["rows"][name]
                    row["values"]["shim_rss"] = rss / 1024
                    row["shim"] = {"comm": comm, "pid": ppid, "rss_kb": rss, "pss_kb": pss, "threads": threads}
                    row.setdefault("notes", {})["shim_rss"] = (
                        f"{comm}, {threads} threads" + (f", Pss {pss / 1024:.1f} MiB" if pss is not None else ""))
                    # Idle wake-ups: context switches of all the shim's threads over a quiet window.
                    time.sleep(1)
                    w0, t0 = self.switches(ppid), time.monotonic()
                    time.sleep(b.args.idle_window)
                    w1, t1 = self.switches(ppid), time.monotonic()
                    row["values"]["idle_wakeups"] = (w1 - w0) / (t1 - t0)
            if n > 1:
                time.sleep(0.5)
                shims = {}
                for cid in cids:
                    got = self.shim_of(cid)
                    if got is None:
                        self.fail(sec, name, f"{cid} not RUNNING with {n} containers up")
                        return
                    shims[got[0]] = got
                rss = [v[2] for v in shims.values()]
                pss = [v[3] for v in shims.values() if v[3] is not None]
                row = sec["rows"][name]
                row["values"]["shim_rss_n"] = sum(rss) / len(rss) / 1024
                row["shim_n"] = {"containers": n, "shims": len(shims), "rss_kb": rss, "pss_kb": pss}
                row.setdefault("notes", {})["shim_rss_n"] = (
                    f"{len(shims)} shims" + (f", Pss {sum(pss) / len(pss) / 1024:.2f} MiB" if pss else ""))
        finally:
            for cid in cids:
                self.sp.call(self.ctr("tasks", "kill", "-s", "SIGKILL", cid), timeout=10)
            for cid in cids:
                for _ in range(50):
                    r = self.sp.call(self.ctr("tasks", "delete", cid), timeout=20)
                    if r.ok:
                        break
                    time.sleep(0.1)
                self.sp.call(self.ctr("containers", "delete", cid), timeout=20)
            return
        try:
            out = os.path.join(b.logdir, "ctr-tasks.out")
            self.sp.call(self.ctr("tasks", "list"), out=out, timeout=20)
            m = re.search(rf"^{re.escape(cid)}\s+(\d+)\s+RUNNING", open(out).read(), re.M)
            if not m:
                self.fail(sec, name, "task not RUNNING after `ctr run -d`")
                return
            pid = int(m.group(1))
            ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            comm = open(f"/proc/{ppid}/comm").read().strip()
            status = open(f"/proc/{ppid}/status").read()
            rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
            threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
            pss = None
            try:
                pss = int(re.search(r"Pss:\s+(\d+) kB", open(f"/proc/{ppid}/smaps_rollup").read()).group(1))
            except (OSError, AttributeError):
                pass
            row = sec["rows"][name]
            row["values"]["shim_rss"] = rss / 1024
            row["shim"] = {"comm": comm, "pid": ppid, "rss_kb": rss, "pss_kb": pss, "threads": threads}
            row.setdefault("notes", {})["shim_rss"] = (
                f"{comm}, {threads} threads" + (f", Pss {pss / 1024:.1f} MiB" if pss is not None else ""))
        finally:
            self.sp.call(self.ctr("tasks", "kill", "-s", "SIGKILL", cid), timeout=10)
            for _ in range(50):
                r = self.sp.call(self.ctr("tasks", "delete", cid), timeout=20)
                if r.ok:
                    break
                time.sleep(0.1)
            self.sp.call(self.ctr("containers", "delete", cid), timeout=20)
