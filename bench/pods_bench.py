"""Section 10: kubelet-style pods through containerd's CRI, handler runc vs handler hull.

bench/pods.sh does the work (it reuses e2e/cri-daemon.sh: a private containerd 1.6 with the CRI
plugin, a CNI bridge, and the runtime handlers "runc" = containerd-shim-runc-v2 + runc and "hull" =
containerd-shim-hull-v2 + hull on the same daemon, driven by crictl) and prints one JSON object of
samples; this class runs it, bounded in time, and records medians, p90 and ratios to runc.
"""

import json
import os
import signal

from common import HERE, REPO, Timeout, deadline, log, median, p90, tail

HANDLERS = ("runc", "hull")


class PodsBench:
    def __init__(self, bench):
        self.b = bench
        self.sp = bench.sp

    def run(self):
        b, a = self.b, self.b.args
        s = "pods"
        runs, pods = max(1, a.pod_runs), max(1, a.pod_rss)
        sec = b.section(s, "10. CRI pods: RunPodSandbox + CreateContainer + StartContainer, and runtime RSS per pod",
                        [("start_median", "pod start (runp+create+start) median", "ms"),
                         ("start_p90", "pod start (runp+create+start) p90", "ms"),
                         ("rss_pod", "runtime RSS per pod (pause+3 ctrs)", "MiB")],
                        note=f"containerd's CRI plugin driven by crictl, handlers `runc` "
                             f"(containerd-shim-runc-v2 + runc) and `hull` (containerd-shim-hull-v2 + hull) "
                             f"of one private containerd; each pod has a CNI bridge network. Pod start = wall "
                             f"time of the three crictl calls `runp`, `create`, `start` of one busybox "
                             f"`sleep` container, {runs} per handler, alternating round-robin; every pod is "
                             f"torn down (stopp + rmp, until its shim has exited) outside the timed part. "
                             f"RSS per pod = summed VmRSS of the processes of the handler's shim naming the "
                             f"pod and of its runtime binary still alive, with the pause and 3 `sleep` "
                             f"containers running, one pod up at a time, median of {pods} pods; the "
                             f"container processes are not counted.")
        sec["refs"] = {"runc": "runc"}
        sec["rows"] = {h: {"status": "ok", "values": {}, "samples": {}} for h in HANDLERS}
        by_name = {rt.name: rt for rt in b.runtimes}
        hull = by_name.get("hull")
        hull_bin = hull.path if hull is not None else os.path.join(REPO, "target/release/hull")
        shim = os.path.join(REPO, "target/release/containerd-shim-hull-v2")
        if hull is not None and hull.broken:
            sec["rows"]["hull"]["status"] = f"failed: {hull.broken}"
        for path in (hull_bin, shim):
            if not os.access(path, os.X_OK):
                # e2e/cri-daemon.sh needs both, even for the runc handler
                for row in sec["rows"].values():
                    row["status"] = f"failed: {path} not built"
                return
        out = os.path.join(b.logdir, "pods.json")
        argv = ["/bin/bash", os.path.join(HERE, "pods.sh"), "--rootfs", b.rootfs, "--hull", hull_bin,
                "--shim", shim, "--runs", str(runs), "--rss-pods", str(pods)]
        # setup (image import, daemon) plus ~1 s per pod start and ~3 s per RSS pod, with room
        r = self.call(argv, out, timeout=180 + 10 * len(HANDLERS) * (runs + pods))
        data = None
        try:
            data = json.load(open(out))
        except (OSError, ValueError):
            pass
        if data is None or not isinstance(data.get("handlers"), dict):
            reason = r.reason("bench/pods.sh") if not r.ok else "bench/pods.sh printed no result"
            for row in sec["rows"].values():
                if row["status"] == "ok":
                    row["status"] = f"failed: {reason}"
            log(f"   pods: {reason} (stderr: {r.err})")
            return
        if data.get("containerd"):
            sec["note"] += f" containerd {data['containerd']}, crictl {data.get('crictl', '?')}."
        for h in HANDLERS:
            row = sec["rows"][h]
            got = data["handlers"].get(h) or {}
            if got.get("error") and row["status"] == "ok":
                row["status"] = f"failed: {got['error']}"
                log(f"   {h}: failed: {got['error']}")
            row["samples"] = {"start": got.get("start_ms", []), "rss_kb": got.get("rss_kb", []),
                              "pss_kb": got.get("pss_kb", []), "procs": got.get("procs", [])}
            if row["status"] != "ok":
                continue
            xs = row["samples"]["start"]
            if xs:
                row["values"]["start_median"] = median(xs)
                row["values"]["start_p90"] = p90(xs)
            rss = row["samples"]["rss_kb"]
            if rss:
                row["values"]["rss_pod"] = median(rss) / 1024
                pss = row["samples"]["pss_kb"]
                n = sorted(set(row["samples"]["procs"]))
                row.setdefault("notes", {})["rss_pod"] = (
                    f"{'/'.join(map(str, n))} process(es)" +
                    (f", Pss {median(pss) / 1024:.1f} MiB" if pss else ""))
        if not r.ok:
            log(f"   pods: {r.reason('bench/pods.sh')}")

    def call(self, argv, out, timeout):
        """Run pods.sh; on a timeout or an interrupt of the bench, SIGTERM it first so that its
        EXIT trap removes the daemon, pods, netns and cgroups (SIGKILL 90 s later)."""
        r = self.sp.spawn(argv, out=out)
        try:
            try:
                with deadline(timeout):
                    _pid, status, ru = os.wait4(r.pid, 0)
                self.sp._record(r.pid, status, ru)
                return r
            except Timeout:
                log(f"   pods: bench/pods.sh still running after {timeout} s: SIGTERM")
        except KeyboardInterrupt:
            self.stop(r)
            raise
        self.stop(r)
        r.rc = None  # r.reason(): "timed out"
        return r

    def stop(self, r):
        if r.end is not None:
            return
        try:
            os.kill(r.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.sp.wait(r, timeout=90)
        if r.err:
            log(f"   pods.sh stderr: {tail(r.err, 3)}")
