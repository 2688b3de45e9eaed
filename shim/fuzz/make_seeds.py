#!/usr/bin/env python3
"""Seed corpora of the shim fuzz targets, written in the exact wire format containerd 1.6 uses
(not captured from a live containerd): ttrpc frames (10-byte header: length, stream id, type
1 = request, flags; then ttrpc.Request{service=1, method=2, payload=3, timeout_nano=4}) carrying
task-service requests, and runc options (containerd.runc.v1.Options fields 6, 7, 9).
Run from shim/fuzz: python3 make_seeds.py"""
import struct


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(no, val):
    if isinstance(val, int):
        return varint(no << 3) + varint(val)
    if isinstance(val, str):
        val = val.encode()
    return varint(no << 3 | 2) + varint(len(val)) + val


def frame(stream, service, method, payload, timeout=10**10):
    body = field(1, service) + field(2, method) + field(3, payload) + field(4, timeout)
    return struct.pack(">IIBB", len(body), stream, 1, 0) + body


svc = "containerd.task.v2.Task"
runc_opts = field(6, "/usr/local/bin/hull") + field(7, "/run/containerd/hull") + field(9, 1)
anyopt = field(1, "containerd.runc.v1.Options") + field(2, runc_opts)
mount = field(1, "overlay") + field(2, "overlay") + field(4, "lowerdir=/a:/b") + field(4, "upperdir=/u")
create = (
    field(1, "c1") + field(2, "/run/containerd/io.containerd.runtime.v2.task/default/c1") + field(3, mount)
    + field(4, 0) + field(5, "/run/containerd/fifo/c1-stdin") + field(6, "/run/containerd/fifo/c1-stdout")
    + field(7, "/run/containerd/fifo/c1-stderr") + field(10, anyopt)
)
proc_any = field(1, "types.containerd.io/opencontainers/runtime-spec/1/Process") + field(2, b'{"args":["sh"],"cwd":"/"}')
seeds = {
    "create": frame(1, svc, "Create", create),
    "create-v3": frame(1, "containerd.task.v3.Task", "Create", create),
    "connect-state-start": frame(1, svc, "Connect", field(1, "c1"))
    + frame(3, svc, "State", field(1, "c1"))
    + frame(5, svc, "Start", field(1, "c1")),
    "exec-kill-wait": frame(7, svc, "Exec", field(1, "c1") + field(2, "e1") + field(3, 1) + field(7, proc_any))
    + frame(9, svc, "Kill", field(1, "c1") + field(2, "e1") + field(3, 9) + field(4, 1))
    + frame(11, svc, "Wait", field(1, "c1") + field(2, "e1")),
    "delete-shutdown": frame(13, svc, "Delete", field(1, "c1")) + frame(15, svc, "Shutdown", field(1, "c1") + field(2, 1)),
    "unknown-method": frame(17, svc, "NoSuch", b"") + frame(19, "other.Service", "X", b"\x01\x02"),
    "response-type": struct.pack(">IIBB", 2, 21, 2, 0) + b"\x08\x01",
}
for k, v in seeds.items():
    open(f"corpus/ttrpc_request/{k}.bin", "wb").write(v)
open("corpus/runc_options/full.bin", "wb").write(b"\x01" + runc_opts)
open("corpus/runc_options/typed.bin", "wb").write(b"\x02" + field(1, 1) + field(3, "/shim") + runc_opts)
open("corpus/runc_options/other-url.bin", "wb").write(
    b"\x03runtimeoptions.v1.Options\x00" + field(1, "x") + field(2, "/etc/config.toml")
)
open("corpus/runc_options/empty.bin", "wb").write(b"\x00")
