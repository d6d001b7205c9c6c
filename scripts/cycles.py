#!/usr/bin/env python3
"""Layout gate: module cycles and file sizes in cutover's crates.

    python3 scripts/cycles.py [REPO_DIR]

Fails (exit 1) when
  * a module refers to a module that refers back to it, directly or through others (any cycle in
    the module graph of a crate): a `use` or a path in code, in either direction, parent and child
    modules included (a `mod child;` declaration alone is not a reference; `pub use child::X` is);
  * a source file under src/ or engine/src/ has more than 800 lines before its tests (its first
    `#[cfg(test)]` line, or the whole file);
  * the console (src/ui/) names anything of the engine but `api` and `safe_text`, or the CLI
    (the rest of src/) names the engine's copy (`sync`), an endpoint other than the OAuth sign-in
    of `cutover login`, or a journal item other than the `Journal` handle and its error: the
    front ends talk to the engine through `api` and the operations' entry points.

Nodes are file modules (`foo.rs`, `foo/mod.rs`); inline `mod x { }` blocks count as part of their
file, and `#[cfg(test)]` items are left out (tests may use their parent). Paths are found in the
source with comments and string literals removed, so a doc comment naming a module is no edge.
"""

import os
import re
import sys
from collections import defaultdict

LIMIT = 800
CRATES = [  # (crate root file, crate name as other crates spell it)
    ("engine/src/lib.rs", "cutover_engine"),
    ("src/lib.rs", "cutover"),
    ("src/main.rs", None),
]


def strip(src):
    """Source without comments, string and char literals (same line numbers)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:i + 300]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'r(#*)"', src[i:])
            end = '"' + m.group(1)
            j = src.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j
        elif c == '"' or (c == "b" and src.startswith('b"', i)):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:i + 12])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_cfg_test(code):
    """Remove items marked #[cfg(test)] (their braces or up to their semicolon)."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]", code)
        if not m:
            return code
        j = m.end()
        while j < len(code) and code[j] not in "{;":
            j += 1
        if j < len(code) and code[j] == "{":
            depth = 0
            while j < len(code):
                depth += {"{": 1, "}": -1}.get(code[j], 0)
                j += 1
                if depth == 0:
                    break
        else:
            j += 1
        code = code[: m.start()] + "\n" * code.count("\n", m.start(), j) + code[j:]


def lines_before_tests(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for k, line in enumerate(lines):
        if line.strip().startswith("#[cfg(test)]"):
            return k
    return len(lines) - (1 if lines and lines[-1] == "" else 0)


MOD_DECL = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)


class Crate:
    def __init__(self, root_dir, root_file):
        self.root_dir = root_dir
        self.files = {}  # module path tuple -> file path
        self.children = defaultdict(set)
        self.code = {}
        self._walk((), os.path.join(root_dir, root_file), is_dir_owner=True)

    def _walk(self, mod, path, is_dir_owner):
        self.files[mod] = path
        with open(path, encoding="utf-8") as f:
            code = drop_cfg_test(strip(f.read()))
        self.code[mod] = code
        base = os.path.dirname(path) if is_dir_owner else os.path.splitext(path)[0]
        for name in MOD_DECL.findall(code):
            for cand, owner in ((os.path.join(base, name + ".rs"), False), (os.path.join(base, name, "mod.rs"), True)):
                if os.path.exists(cand):
                    self.children[mod].add(name)
                    self._walk(mod + (name,), cand, owner)
                    break

    def resolve(self, mod, segs, bound):
        """Longest file module a path names, from module `mod`; None if outside the crate."""
        if not segs:
            return None
        head, rest = segs[0], segs[1:]
        if head == "crate":
            cur = ()
        elif head == "self":
            cur = mod
        elif head == "super":
            cur = mod[:-1]
            while rest and rest[0] == "super":
                cur, rest = cur[:-1], rest[1:]
        elif head in self.children[mod]:
            cur, rest = mod + (head,), rest
        elif head in bound:
            cur = bound[head]
        else:
            return None
        for s in rest:
            if s in self.children[cur]:
                cur = cur + (s,)
            else:
                break
        return cur


def use_paths(tree, prefix=()):
    """Expand a use tree (text after `use`) into (path segments, bound name) pairs."""
    tree = tree.strip()
    out = []
    m = re.match(r"^((?:[\w]+\s*::\s*)*)\{(.*)\}$", tree, re.S)
    if m:
        pre = prefix + tuple(s.strip() for s in m.group(1).split("::") if s.strip())
        depth, start, inner = 0, 0, m.group(2)
        parts = []
        for k, ch in enumerate(inner):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(inner[start:k])
                start = k + 1
        parts.append(inner[start:])
        for p in parts:
            if p.strip():
                out += use_paths(p, pre)
        return out
    alias = None
    am = re.match(r"^(.*?)\s+as\s+(\w+)$", tree, re.S)
    if am:
        tree, alias = am.group(1), am.group(2)
    segs = prefix + tuple(s.strip() for s in tree.split("::") if s.strip())
    if segs and segs[-1] == "self":
        segs = segs[:-1]
    if not segs:
        return out
    name = alias or (None if segs[-1] == "*" else segs[-1])
    out.append((tuple(s for s in segs if s != "*"), name))
    return out


USE = re.compile(r"\buse\s+([\w:{}\s,*]+?);")
PATH = re.compile(r"(?<![\w:])((?:[A-Za-z_]\w*)(?:\s*::\s*[A-Za-z_]\w*)+)")


def edges(crate):
    result = defaultdict(dict)  # from -> to -> (file, line)
    for mod, code in crate.code.items():
        path = crate.files[mod]

        def add(target, pos):
            if target is not None and target != mod and target in crate.files:
                line = code.count("\n", 0, pos) + 1
                result[mod].setdefault(target, (path, line))

        bound = {}
        uses = []
        for m in USE.finditer(code):
            for segs, name in use_paths(m.group(1)):
                uses.append((segs, name, m.start()))
        # first pass: names bound to modules (in declaration order is not needed for Rust)
        for segs, name, _ in uses:
            t = crate.resolve(mod, list(segs), {})
            if t is not None and name and len(t) and t[-1] == (segs[-1] if segs else None):
                bound[name] = t
        for segs, name, pos in uses:
            add(crate.resolve(mod, list(segs), bound), pos)
        for m in PATH.finditer(code):
            segs = [s.strip() for s in m.group(1).split("::")]
            add(crate.resolve(mod, segs, bound), m.start())
    return result


def sccs(nodes, graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in nodes:
        if v not in index:
            visit(v)
    return out


def coarse(graph):
    """Edges between sibling subtrees: a -> b lifted to the two children of their common parent
    (so `engine::control -> rollback` and `rollback -> engine::events` make engine <-> rollback)."""
    out = defaultdict(dict)
    for a, targets in graph.items():
        for b, where in targets.items():
            k = 0
            while k < min(len(a), len(b)) and a[k] == b[k]:
                k += 1
            if k < len(a) and k < len(b):
                out[a[: k + 1]].setdefault(b[: k + 1], where)
    return out


def name(crate_name, mod):
    return "::".join((crate_name or "main",) + mod)


CONSOLE_MAY = {"api", "safe_text"}
CLI_MAY_NOT = re.compile(
    r"cutover_engine\s*::\s*(sync\b|endpoint\s*::\s*(?!oauth\b|EndpointError\b)\w+"
    r"|journal\s*::\s*(?!Journal\b|JournalError\b)\w+)"
)


def boundary(repo):
    """Front-end imports that reach past the contract (see the module doc)."""
    bad = []
    for d, _, fs in os.walk(os.path.join(repo, "src")):
        for f in fs:
            if not f.endswith(".rs"):
                continue
            p = os.path.join(d, f)
            with open(p, encoding="utf-8") as fh:
                code = drop_cfg_test(strip(fh.read()))
            rel = os.path.relpath(p, repo)
            for m in re.finditer(r"cutover_engine\s*::\s*(\w+)", code):
                line = code.count("\n", 0, m.start()) + 1
                if rel.startswith("src/ui/") and m.group(1) not in CONSOLE_MAY:
                    bad.append(f"{rel}:{line}: the console names cutover_engine::{m.group(1)} (only api, safe_text)")
            if not rel.startswith("src/ui/"):
                for m in CLI_MAY_NOT.finditer(code):
                    line = code.count("\n", 0, m.start()) + 1
                    bad.append(f"{rel}:{line}: the CLI names {m.group(0)} (past the contract)")
    return bad


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    bad = 0
    for root_file, crate_name in CRATES:
        if not os.path.exists(os.path.join(repo, root_file)):
            continue
        crate = Crate(repo, root_file)
        fine = edges(crate)
        lifted = coarse(fine)
        for graph in (fine, lifted):
            for comp in sccs(list(crate.files), graph):
                if len(comp) < 2:
                    continue
                bad += 1
                members = set(comp)
                what = "cycle" if graph is fine else "cycle between module trees"
                print(f"{what}: {' <-> '.join(sorted(name(crate_name, m) for m in comp))}")
                for a in sorted(comp):
                    for b, (f, line) in sorted(graph.get(a, {}).items()):
                        if b in members:
                            where = f"{os.path.relpath(f, repo)}:{line}"
                            print(f"    {name(crate_name, a)} -> {name(crate_name, b)}  (first at {where})")
    for b in boundary(repo):
        bad += 1
        print("boundary:", b)
    for top in ("src", "engine/src"):
        for d, _, fs in os.walk(os.path.join(repo, top)):
            for f in fs:
                if f.endswith(".rs"):
                    p = os.path.join(d, f)
                    n = lines_before_tests(p)
                    if n > LIMIT:
                        bad += 1
                        print(f"too long: {os.path.relpath(p, repo)} has {n} lines before its tests (limit {LIMIT})")
    if bad:
        print(f"{bad} layout problem(s)")
        return 1
    print(f"layout ok: no module cycles, no source file over {LIMIT} lines before its tests, front ends within the contract")
    return 0


if __name__ == "__main__":
    sys.exit(main())
