#!/usr/bin/env python3
"""Import cycles between the modules of a Rust crate, from its `crate::` and `super::` paths.

Usage: scripts/mod-cycles.py SRC_DIR [DEPTH]   e.g. scripts/mod-cycles.py runtime/src 2
DEPTH 1 compares top-level modules (cli, container, rootfs, ...), 2 also their files. A parent
naming its own submodules (or a submodule its parent) is not an edge; test modules are skipped.
Exits 1 when a cycle is found, printing its modules and edges.
"""
import os, re, sys
root = sys.argv[1]  # e.g. runtime/src
depth = int(sys.argv[2]) if len(sys.argv) > 2 else 1
mods = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.relpath(os.path.join(d, f), root)[:-3].split('/')
        if p[-1] == 'mod': p = p[:-1]
        if p in (['lib'], ['main']): p = []
        mods[tuple(p)] = open(os.path.join(d, f)).read()
def key(path): return tuple(path[:depth])
edges = {}
for m, src in mods.items():
    src = re.sub(r'#\[cfg\(test\)\]\s*mod tests \{.*', '', src, flags=re.S)  # test code excluded
    for line in src.split('\n'):
        if line.strip().startswith('//'): continue
        for mm in re.finditer(r'\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)', line):
            base = list(m) if mm.group(1) == 'super' else []
            if mm.group(1) == 'super':
                # super of a file module is its parent; for mod.rs-modules also the parent
                base = base[:-1]
            segs = mm.group(2).strip(':').split('::')
            tgt = base + segs
            # keep the longest prefix that is a module
            while tgt and tuple(tgt) not in mods: tgt = tgt[:-1]
            a, b = key(list(m)), key(tgt)
            if a != b and a and b and not (b == a[:len(b)]) and not (a == b[:len(a)]):
                edges.setdefault(a, set()).add(b)
# find cycles (Tarjan SCC)
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        s = []
        while True:
            w = st.pop(); on.discard(w); s.append(w)
            if w == v: break
        if len(s) > 1: sccs.append(s)
for v in list(edges): 
    if v not in idx: sc(v)
for s in sccs:
    print('CYCLE:', ' <-> '.join('::'.join(x) for x in s))
    for a in s:
        print('   ', '::'.join(a), '->', sorted('::'.join(b) for b in edges.get(a, ()) if b in s))
if not sccs:
    print('no cycles at depth', depth)
sys.exit(1 if sccs else 0)
