"""Section 9 of `make bench`: `list` and `state` as the number of containers under one --root grows.

A node with a thousand containers asks its runtime for `list` and `state` all the time (every
engine's housekeeping does). For each runtime in turn: start `sleep` containers under its --root up
to each count of --list-counts (10,100,1000 by default), and at each count time
`list --format json` (the form engines call), `state` of the first container, and the peak RSS
of `list`. Then the containers are
killed and deleted before the next runtime starts its own, so only one runtime's containers are up
at a time.

The figures that say whether a runtime stays flat: the marginal cost of `list` per container
between the two lower and between the two upper counts (flat = the same, ratio 1.00x), `state`
at the top count over `state` at the bottom one (flat = 1.00x: the state of one container should not
depend on how many others exist) and the peak RSS `list` adds per container.
"""

import os
import re


def run(b, median, ms, log):
    a = b.args
    s = "listing"
    counts = sorted({int(x) for x in a.list_counts.split(",") if x.strip() and int(x) > 0})
    if len(counts) < 3:
        raise SystemExit(f"bench: --list-counts needs three or more counts, got {a.list_counts!r}")
    lo, mid, hi = counts[0], counts[-2], counts[-1]
    metrics = [(f"list{n}", f"`list --format json`, {n} containers", "ms") for n in counts]
    metrics += [(f"state{n}", f"`state ID`, {n} containers", "ms") for n in counts]
    metrics += [
        ("marg_lo", f"`list` per extra container, {lo}->{counts[1]}", "us"),
        ("marg_hi", f"`list` per extra container, {mid}->{hi}", "us"),
        ("marg_ratio", f"per-container growth: ({mid}->{hi}) / ({lo}->{counts[1]})", "x"),
        ("state_ratio", f"`state` at {hi} / at {lo}", "x"),
        (f"rss{hi}", f"`list` peak RSS, {hi} containers", "MiB"),
        ("rss_per", f"`list` RSS per extra container, {lo}->{hi}", "KiB"),
    ]
    b.section(s, f"9. `list` and `state` with {', '.join(map(str, counts))} containers under one --root",
              metrics,
              note=f"One runtime's containers up at a time (`sleep`, create+start), grown to each count; "
                   f"at each count {a.list_runs} `list --format json` and {a.list_runs} `state` of the first "
                   f"container, medians; RSS = `/usr/bin/time -v` of one more `list`. Marginal cost = (list at the higher "
                   f"count - list at the lower) / containers added; growth 1.00x = flat per container.")
    bundle = b.bundles["sleep"]
    out = os.path.join(b.logdir, "listing.out")
    for rt in [r for r in b.runtimes if not r.broken]:
        b.scale_idle_ids = []
        try:
            up = 0
            for n in counts:
                err = None
                while up < n and err is None:
                    cid = f"{b.prefix}-{rt.name}-l{up}"
                    pidfile = os.path.join(b.workdir, cid + ".pid")
                    rt.live.add(cid)
                    b.scale_idle_ids.append((rt, cid, pidfile))
                    r = b.sp.call(rt.create_argv(bundle, cid, pidfile))
                    if r.ok:
                        r = b.sp.call(rt.argv("start", cid))
                    if not r.ok:
                        err = r.reason(f"create/start of container {up + 1}")
                    up += 1
                if err:
                    b.fail(s, rt, err)
                    break
                first = f"{b.prefix}-{rt.name}-l0"
                for _ in range(a.list_runs):
                    r = b.sp.call(rt.argv("list", "--format", "json"), out=out, timeout=120)
                    if not r.ok:
                        b.fail(s, rt, r.reason(f"list with {n} containers"))
                        break
                    b.add_sample(s, rt, f"list{n}", ms(r.dur_ns))
                    r = b.sp.call(rt.argv("state", first), out=out)
                    if not r.ok:
                        b.fail(s, rt, r.reason(f"state with {n} containers"))
                        break
                    b.add_sample(s, rt, f"state{n}", ms(r.dur_ns))
                # Peak RSS of one more `list`, under /usr/bin/time -v (the bench's own ru_maxrss of
                # a child starts from the forked Python's size).
                tf = os.path.join(b.logdir, f"list-time-{rt.name}-{n}.txt")
                r = b.sp.call(["/usr/bin/time", "-v", "-o", tf] + rt.argv("list", "--format", "json"),
                              out=out, timeout=120)
                m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read()) if r.ok else None
                if m:
                    b.add_sample(s, rt, f"rss{n}", int(m.group(1)) / 1024)
                else:
                    b.fail(s, rt, r.reason(f"list under /usr/bin/time with {n} containers"))
                log(f"   {rt.name}: {n} containers measured")
        finally:
            b.scale_stop_idle()
    for n in counts:
        b.summarise(s, f"list{n}", median)
        b.summarise(s, f"state{n}", median)
        b.summarise(s, f"rss{n}", median)
    for row in b.results[s]["rows"].values():
        v = row["values"]
        if all(f"list{n}" in v for n in counts):
            v["marg_lo"] = (v[f"list{counts[1]}"] - v[f"list{lo}"]) * 1000 / (counts[1] - lo)
            v["marg_hi"] = (v[f"list{hi}"] - v[f"list{mid}"]) * 1000 / (hi - mid)
            if v["marg_lo"] > 0:
                v["marg_ratio"] = v["marg_hi"] / v["marg_lo"]
        if v.get(f"state{lo}") and f"state{hi}" in v:
            v["state_ratio"] = v[f"state{hi}"] / v[f"state{lo}"]
        if f"rss{hi}" in v and f"rss{lo}" in v:
            v["rss_per"] = (v[f"rss{hi}"] - v[f"rss{lo}"]) * 1024 / (hi - lo)
