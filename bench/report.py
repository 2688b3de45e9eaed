"""Render the bench results: a table on stdout, build/bench.md and build/bench.json."""

import json
import os
import platform
import sys


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def cgroup_layout():
    """What is mounted under /sys/fs/cgroup in the bench's mount namespace."""
    v1, v2 = [], []
    for line in open("/proc/self/mountinfo"):
        left, right = line.split(" - ", 1)
        mnt = left.split()[4]
        fstype = right.split()[0]
        if mnt.startswith("/sys/fs/cgroup"):
            if fstype == "cgroup2":
                v2.append(mnt)
            elif fstype == "cgroup":
                v1.append(os.path.basename(mnt))
    parts = []
    if v1:
        parts.append("cgroup v1: " + ",".join(v1))
    parts.append("cgroup2: " + (", ".join(v2) if v2 else "not mounted"))
    return "; ".join(parts)


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "ms":
        return f"{v:.1f} ms" if v >= 100 else f"{v:.2f} ms"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    if unit == "x":
        return f"{v:.2f}x"
    return f"{v:.3g} {unit}"


def ratio(v, ref):
    if v is None or ref is None or ref == 0:
        return None
    return v / ref


def rfmt(r):
    if r is None:
        return "-"
    return f"{r:.2f}x" if abs(r) >= 0.1 else f"{r:.2g}x"


def meta(b, a):
    return {
        "date": b.started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "duration_s": round((b.finished - b.started).total_seconds(), 1),
        "kernel": platform.release(),
        "cpu": f"{cpu_model()} x {os.cpu_count()}",
        "loadavg_start": [round(x, 2) for x in b.load_start],
        "loadavg_end": [round(x, 2) for x in b.load_end],
        "cgroups_in_bench_namespace": cgroup_layout(),
        "versions": b.versions,
        "caveats": {rt.name: rt.caveats for rt in b.runtimes if rt.caveats},
        "container_cgroups": {rt.name: rt.cgroups for rt in b.runtimes if rt.cgroups is not None},
        "paths": {rt.name: rt.path for rt in b.runtimes},
        "command": a.command or " ".join(sys.argv),
        "params": {k: getattr(a, k) for k in ("runs", "warmup", "par", "batches", "verbs", "rss",
                                               "burst", "burst_rounds", "ctr_runs", "seccomp_iters", "seccomp_runs",
                                               "scale_idle", "scale_mounts", "scale_runs", "pod_runs", "pod_rss")},
    }


def refs_of(sec):
    return sec.get("refs") or {"crun": "crun", "runc": "runc"}


def text_report(b, m):
    out = []
    out.append(f"hull bench  {m['date']}  kernel {m['kernel']}  {m['cpu']}")
    out.append(f"load average at start {m['loadavg_start']}, at end {m['loadavg_end']}; {m['cgroups_in_bench_namespace']}")
    for name, v in m["versions"].items():
        out.append(f"  {name:6} {v}")
    for name, cav in m["caveats"].items():
        for c in cav:
            out.append(f"  CAVEAT {name}: {c}")
    out.append("Ratios are runtime / reference: below 1.00x means less time or memory than the reference.")
    for key in b.order:
        sec = b.results[key]
        refs = refs_of(sec)
        out.append("")
        out.append(sec["title"])
        rows = sec["rows"]
        for name, row in rows.items():
            if row["status"] not in ("ok", "n/a"):
                out.append(f"  {name}: {row['status']}")
        if sec.get("text"):
            for line in sec["text"].splitlines():
                out.append("  " + line)
        if not sec["metrics"]:
            continue
        w = max([len(n) for n in rows] + [8])
        hdr = f"  {'metric':36} {'runtime':{w}} {'value':>12} " + " ".join(f"{'vs ' + r:>9}" for r in refs)
        out.append(hdr)
        for mkey, label, unit in sec["metrics"]:
            first = True
            for name, row in rows.items():
                v = row["values"].get(mkey)
                if v is None and row["status"] != "ok":
                    continue
                cells = []
                for rname, rrow in refs.items():
                    rv = rows.get(rrow, {}).get("values", {}).get(mkey)
                    cells.append(f"{rfmt(ratio(v, rv)):>9}")
                extra = ""
                if row.get("notes", {}).get(mkey):
                    extra = f"  ({row['notes'][mkey]})"
                if mkey == "exec" and row.get("exec_error"):
                    extra = f"  failed: {row['exec_error']}"
                out.append(f"  {label if first else '':36} {name:{w}} {fmt(v, unit):>12} " + " ".join(cells) + extra)
                first = False
        if sec.get("note"):
            out.append(f"  ({sec['note']})")
    if b.leftovers:
        out.append("")
        out.append("Left behind after the bench's own kill/delete (the bench removed them):")
        for name, items in b.leftovers.items():
            for it in items:
                out.append(f"  {name}: {it}")
    return "\n".join(out)


def md_report(b, m):
    o = []
    o.append("# hull benchmark: " + " vs ".join(rt.name for rt in b.runtimes))
    o.append("")
    o.append(f"- date: {m['date']} (took {m['duration_s']} s)")
    o.append(f"- command: `{m['command']}`")
    o.append(f"- kernel {m['kernel']}, {m['cpu']}; load average at start {m['loadavg_start']}, at end {m['loadavg_end']}")
    o.append(f"- run inside a private mount namespace; {m['cgroups_in_bench_namespace']}")
    for name, v in m["versions"].items():
        o.append(f"- {name}: `{v}` ({m['paths'][name]})")
    o.append(f"- parameters: {', '.join(f'{k}={v}' for k, v in m['params'].items())}")
    for name, cg in m["container_cgroups"].items():
        o.append(f"- {name} puts the container in its own cgroup in: {', '.join(cg) or 'none'}")
    for name, cav in m["caveats"].items():
        for c in cav:
            o.append(f"- **caveat, {name}**: {c}")
    o.append("")
    o.append("Every cell: value, then the ratio to crun and to runc measured in the same run "
             "(below 1.00x = less time or memory than the reference). Runtimes alternate round-robin "
             "within each iteration.")
    for key in b.order:
        sec = b.results[key]
        refs = refs_of(sec)
        rows = sec["rows"]
        o.append("")
        o.append(f"## {sec['title']}")
        o.append("")
        if sec.get("note"):
            o.append(sec["note"])
            o.append("")
        if sec.get("text"):
            o.append("```")
            o.append(sec["text"])
            o.append("```")
            o.append("")
        if sec["metrics"]:
            names = list(rows)
            o.append("| metric | " + " | ".join(names) + " |")
            o.append("|---|" + "---|" * len(names))
            for mkey, label, unit in sec["metrics"]:
                cells = []
                for name in names:
                    row = rows[name]
                    v = row["values"].get(mkey)
                    if v is None:
                        if row["status"] not in ("ok", "n/a"):
                            cells.append(row["status"].split(":")[0])
                        elif mkey == "exec" and row.get("exec_error"):
                            cells.append("failed")
                        else:
                            cells.append("-")
                        continue
                    rs = []
                    for rname, rrow in refs.items():
                        if rrow == name:
                            continue
                        rv = rows.get(rrow, {}).get("values", {}).get(mkey)
                        r = ratio(v, rv)
                        if r is not None:
                            rs.append(f"{rfmt(r)} {rname}")
                    cell = f"**{fmt(v, unit)}**" + (" (" + ", ".join(rs) + ")" if rs else "")
                    if row.get("notes", {}).get(mkey):
                        cell += f" [{row['notes'][mkey]}]"
                    cells.append(cell)
                o.append(f"| {label} | " + " | ".join(cells) + " |")
            o.append("")
        for name, row in rows.items():
            if row["status"] not in ("ok", "n/a"):
                o.append(f"- {name}: {row['status']}")
            if row.get("exec_error"):
                o.append(f"- {name}: exec failed: {row['exec_error']}")
        o.append("")
    if b.leftovers:
        o.append("## Left behind (removed by the bench)")
        o.append("")
        for name, items in b.leftovers.items():
            for it in items:
                o.append(f"- {name}: {it}")
        o.append("")
    return "\n".join(o)


def write(b, a):
    m = meta(b, a)
    print(text_report(b, m), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(a.out_md)), exist_ok=True)
    with open(a.out_md, "w") as f:
        f.write(md_report(b, m))
    data = {"meta": m, "sections": {k: b.results[k] for k in b.order}, "leftovers": b.leftovers}
    with open(a.out_json, "w") as f:
        json.dump(data, f, indent=1)
    print(f"\nwrote {a.out_md} and {a.out_json}", flush=True)
