#!/usr/bin/env python3
"""CPU samples of one command name in a `perf record -g` file, by phase: the syscall each sample
is under, page faults, a new task's first steps, interrupts, libc start-up (glibc's CPU-feature
and cache detection, static-pie relocation, the dynamic loader), other user code.
    bench/phases.py PERF.data COMM"""
import sys, subprocess, collections, re
data, comm = sys.argv[1], sys.argv[2]
out = subprocess.run(["perf", "script", "-i", data, "--comm", comm, "-F", "comm,ip,sym"], capture_output=True, text=True).stdout
GLIBC_INIT = {"intel_check_word.constprop.0", "handle_intel.constprop.0", "update_active.constprop.0",
              "get_common_cache_info.constprop.0", "get_extended_indices.constprop.0", "get_common_indices.constprop.0",
              "init_cpu_features.constprop.0", "_dl_relocate_static_pie", "init_cacheinfo", "dl_init_cacheinfo",
              "_dl_relocate_object", "do_lookup_x", "_dl_lookup_symbol_x", "_dl_map_object_from_fd", "strcmp", "_dl_start"}
c = collections.Counter(); total = 0
for rec in out.split("\n\n"):
    lines = [l.strip() for l in rec.strip().split("\n") if l.strip()]
    if len(lines) < 2: continue
    frames = [l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else "" for l in lines[1:]]
    frames = [re.sub(r"\+0x[0-9a-f]+$", "", f) for f in frames]
    total += 1
    top = frames[0]
    key = None
    for f in frames:
        m = re.match(r"(__x64_sys_|__do_sys_|__se_sys_)(\w+)", f)
        if m: key = "syscall " + m.group(2); break
        if f in ("asm_exc_page_fault",): key = "page faults"; break
        if f in ("ret_from_fork_asm", "ret_from_fork"): key = "new task start (ret_from_fork)"; break
        if f.startswith("asm_sysvec") or f.startswith("asm_common_interrupt"): key = "interrupts"; break
    if key is None:
        if top in GLIBC_INIT: key = "user: libc start-up (cpu features, relocation, dynamic linking)"
        elif "[unknown]" in top or not top: key = "user: unknown"
        else: key = "user: other"
    c[key] += 1
for k, v in c.most_common(22):
    print(f"{100*v/total:5.1f}%  {k}")
print("samples", total)
