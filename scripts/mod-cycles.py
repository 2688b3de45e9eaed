#!/usr/bin/env python3
"""Import cycles between the modules of a Rust crate, from its `crate::` and `super::` paths.

Usage: scripts/mod-cycles.py SRC_DIR [DEPTH]   e.g. scripts/mod-cycles.py runtime/src 2
DEPTH 1 compares top-level modules (cli, container, rootfs, ...), 2 also their files. Paths are
read from `use` items (brace groups expanded) and from inline `crate::a::b` / `super::x` paths.
A parent naming its own submodules (or a submodule its parent) is not an edge; test modules
are skipped. Exits 1 when a cycle is found, printing its modules and edges.
"""
import os
import re
import sys


def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = tree.replace(' ', '').replace('\n', '')
    i = tree.find('{')
    if i < 0:
        return [p for p in tree.split(',') if p]
    depth, j = 0, i
    for j in range(i, len(tree)):
        depth += {'{': 1, '}': -1}.get(tree[j], 0)
        if depth == 0:
            break
    prefix, inner, rest = tree[:i], tree[i + 1:j], tree[j + 1:]
    parts, depth, cur = [], 0, ''
    for ch in inner:
        depth += {'{': 1, '}': -1}.get(ch, 0)
        if ch == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p in ('', 'self'):
            out.append(prefix.rstrip(':'))
        elif p:
            out += expand(prefix + p)
    return out + (expand(rest.lstrip(',')) if rest.strip(',') else [])


def paths(src):
    src = re.sub(r'#\[cfg\(test\)\]\s*mod tests \{.*', '', src, flags=re.S)
    src = re.sub(r'//[^\n]*', '', src)
    for m in re.finditer(r'\buse\s+([^;]+);', src):
        for p in expand(m.group(1)):
            yield p.split(' as ')[0]
    for m in re.finditer(r'\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+', src):
        yield m.group(0)


def main():
    root = sys.argv[1]
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    mods = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.endswith('.rs'):
                p = os.path.relpath(os.path.join(d, f), root)[:-3].split('/')
                if p[-1] == 'mod':
                    p = p[:-1]
                if p in (['lib'], ['main']):
                    p = []
                mods[tuple(p)] = open(os.path.join(d, f)).read()
    edges = {}
    for m, src in mods.items():
        for p in paths(src):
            segs = p.split('::')
            if segs[0] == 'crate':
                tgt = segs[1:]
            elif segs[0] == 'super':
                tgt = list(m[:-1]) + segs[1:]
            else:
                continue
            while tgt and tuple(tgt) not in mods:
                tgt = tgt[:-1]
            a, b = tuple(m[:depth]), tuple(tgt[:depth])
            if a and b and a != b and b != a[:len(b)] and a != b[:len(a)]:
                edges.setdefault(a, set()).add(b)
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(scc)

    for v in list(edges):
        if v not in index:
            visit(v)
    name = '::'.join
    for scc in sccs:
        print('CYCLE:', ' <-> '.join(name(x) for x in scc))
        for a in scc:
            print('   ', name(a), '->', sorted(name(b) for b in edges.get(a, ()) if b in scc))
    if '-v' in sys.argv:
        for a in sorted(edges):
            print(name(a), '->', ' '.join(sorted(name(b) for b in edges[a])))
    if not sccs:
        print('no cycles at depth', depth)
    sys.exit(1 if sccs else 0)


main()
