"""Sections 6-9 of the bench: seccomp compile and run, scaling with host mounts and idle
containers, list/state with many containers (methods of Bench, in bench.py)."""

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


class HostSections:
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
