#!/usr/bin/env python3
"""Reference figure for section 6: build + export a BPF filter from a seccomp profile with libseccomp
(the library runc and crun use), called through ctypes.

PROFILE is either an OCI `linux.seccomp` object (the bench passes the one hull-seccomp's
`compile_bench --oci` derives from the engine profile, so both compile the same rules) or an engine
profile such as /usr/share/containers/seccomp.json, of which it takes every entry of `syscalls`
(`includes`/`excludes` ignored), the default action, and the native architecture plus the
sub-architectures its archMap gives it (x86_64: x86, x32).
Timed per iteration: seccomp_init .. rules .. seccomp_export_bpf (to /dev/null) .. seccomp_release;
the JSON parsing is done once, outside. ctypes adds roughly a microsecond per call to the figure.

usage: seccomp_libseccomp.py PROFILE [ITERATIONS]   -> one JSON line on stdout
"""

import ctypes
import ctypes.util
import json
import os
import platform
import statistics
import sys
import time

ACT = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
       "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ALLOW": 0x7FFF0000, "SCMP_ACT_LOG": 0x7FFC0000,
       "SCMP_ACT_NOTIFY": 0x7FC00000}
CMP = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
       "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}.get(platform.machine())


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def action(name, errno_ret, default_errno):
    if name == "SCMP_ACT_ERRNO":
        return 0x00050000 | ((errno_ret if errno_ret is not None else default_errno) & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return 0x7FF00000 | ((errno_ret if errno_ret is not None else default_errno) & 0xFFFF)
    return ACT[name]


def main():
    path = sys.argv[1]
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    ver = lib.seccomp_version
    ver.restype = ctypes.POINTER(ctypes.c_uint * 3)
    v = ver().contents

    prof = json.load(open(path))
    default_errno = prof.get("defaultErrnoRet", 1)
    default = action(prof["defaultAction"], prof.get("defaultErrnoRet"), default_errno)
    if prof.get("architectures"):  # OCI linux.seccomp (e.g. from compile_bench --oci)
        arches = list(prof["architectures"])
    else:  # engine profile: native arch + the sub-arches its archMap gives it
        arches = [NATIVE]
        for m in prof.get("archMap") or []:
            if m.get("architecture") == NATIVE:
                arches += m.get("subArchitectures") or []
    lib.seccomp_arch_native.restype = ctypes.c_uint32
    native = lib.seccomp_arch_native()
    arch_tokens = []  # seccomp_init already holds the native arch
    for a in arches:
        tok = lib.seccomp_arch_resolve_name(a.replace("SCMP_ARCH_", "").lower().encode())
        if tok and tok != native:
            arch_tokens.append(tok)
    # Pre-resolve everything that is not the compiler's work.
    rules = []
    names = 0
    for sc in prof.get("syscalls") or []:
        act = action(sc["action"], sc.get("errnoRet"), default_errno)
        args = sc.get("args") or []
        idx = [a["index"] for a in args]
        groups = [args] if len(set(idx)) == len(idx) else [[a] for a in args]
        for n in sc.get("names") or []:
            names += 1
            for g in groups:
                arr = (ArgCmp * max(len(g), 1))(*[ArgCmp(a["index"], CMP[a["op"]], a.get("value", 0),
                                                         a.get("valueTwo", 0)) for a in g])
                rules.append((n.encode(), act, len(g), arr))
    devnull = os.open("/dev/null", os.O_WRONLY)
    times, added, skipped = [], 0, 0
    for it in range(iters + 2):
        t0 = time.perf_counter_ns()
        ctx = lib.seccomp_init(default)
        for tok in arch_tokens:
            lib.seccomp_arch_add(ctx, tok)
        added = skipped = 0
        for name, act, nargs, arr in rules:
            nr = lib.seccomp_syscall_resolve_name(name)
            if nr < 0 or act == default:
                skipped += 1
                continue
            if lib.seccomp_rule_add_array(ctx, act, nr, nargs, arr) == 0:
                added += 1
            else:
                skipped += 1
        rc = lib.seccomp_export_bpf(ctx, devnull)
        lib.seccomp_release(ctx)
        t1 = time.perf_counter_ns()
        if rc != 0:
            print(json.dumps({"error": f"seccomp_export_bpf failed: {rc}"}))
            return 1
        if it >= 2:  # two warm-up iterations
            times.append((t1 - t0) / 1000)
    print(json.dumps({
        "compiler": f"libseccomp {v[0]}.{v[1]}.{v[2]} via ctypes",
        "profile": path, "iterations": iters, "arches": arches, "syscall_names": names,
        "rules_added": added, "rules_skipped": skipped,
        "median_us": round(statistics.median(times), 1), "mean_us": round(statistics.mean(times), 1),
        "min_us": round(min(times), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
