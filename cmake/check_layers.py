#!/usr/bin/env python3
"""The module layers of src/, as cmake/modules.cmake declares them.

  check_layers.py --graph build/generated/layers.txt --src src
      Every `#include "<module>/..."` in src/<m>/ names <m> itself or a module
      whose headers aegis_<m> can see: its direct dependencies and, through
      them, their PUBLIC dependencies. A header (.hpp) may include only what
      the modules that link <m> see too: its PUBLIC dependencies and theirs.
      The graph has no cycle, and every folder under src/ is a module.
  check_layers.py --graph build/generated/layers.txt --doc docs/ARCHITECTURE.md
      The table between <!-- modules:begin --> and <!-- modules:end --> lists
      the same modules in the same order with the same dependencies.
Exit status 1 with one line per finding.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')


def read_graph(path):
    graph = {}  # module -> (public deps, private deps), in declaration order
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, deps = line.partition(":")
        public, _, private = deps.partition("|")
        graph[name.strip()] = (public.split(), private.split())
    return graph


def check_graph(graph):
    problems = []
    seen = set()
    for name, (public, private) in graph.items():
        for dep in public + private:
            if dep not in graph:
                problems.append(f"{name}: depends on {dep}, which is not a module")
            elif dep not in seen:
                problems.append(f"{name}: depends on {dep}, which is declared above it (a cycle or a back-edge)")
        seen.add(name)
    return problems


def public_closure(graph, roots):
    out, stack = set(), list(roots)
    while stack:
        m = stack.pop()
        if m in out or m not in graph:
            continue
        out.add(m)
        stack.extend(graph[m][0])
    return out


def check_includes(graph, src):
    problems = []
    folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    for folder in folders:
        if folder not in graph:
            problems.append(f"src/{folder}/ is not declared in cmake/modules.cmake")
    for module, (public, private) in graph.items():
        header_sees = public_closure(graph, public) | {module}
        source_sees = public_closure(graph, public + private) | {module}
        root = os.path.join(src, module)
        for dirpath, _, files in os.walk(root):
            for f in sorted(files):
                if not f.endswith((".hpp", ".cpp", ".h", ".in")):
                    continue
                path = os.path.join(dirpath, f)
                sees = header_sees if f.endswith((".hpp", ".h", ".in")) else source_sees
                for number, line in enumerate(open(path, encoding="utf-8"), 1):
                    m = INCLUDE.match(line)
                    if not m or m.group(1) not in graph:
                        continue
                    used = m.group(1)
                    if used in sees:
                        continue
                    rel = os.path.relpath(path, os.path.dirname(src))
                    if used in public_closure(graph, public + private):
                        why = "a header may include only its module's PUBLIC dependencies"
                    else:
                        why = f"aegis_{module} does not depend on aegis_{used}"
                    problems.append(f"{rel}:{number}: includes {used}/: {why} (cmake/modules.cmake)")
    return problems


def read_doc(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"<!-- modules:begin -->(.*?)<!-- modules:end -->", text, re.S)
    if not m:
        return None
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = lambda cell: re.findall(r"[a-z_]+", cell.replace("—", ""))
        rows[cells[0].strip("`").rstrip("/")] = (names(cells[1]), names(cells[2]))
    return rows


def check_doc(graph, doc_path):
    rows = read_doc(doc_path)
    if rows is None:
        return [f"{doc_path}: no <!-- modules:begin --> ... <!-- modules:end --> table"]
    problems = []
    if list(rows) != list(graph):
        problems.append(f"{doc_path}: modules in the order {', '.join(rows)}; cmake/modules.cmake declares "
                        f"{', '.join(graph)}")
    for name, (public, private) in graph.items():
        if name not in rows:
            continue
        doc_public, doc_private = rows[name]
        if sorted(doc_public) != sorted(public) or sorted(doc_private) != sorted(private):
            problems.append(f"{doc_path}: {name}: drawn as PUBLIC {doc_public} PRIVATE {doc_private}; "
                            f"cmake/modules.cmake says PUBLIC {public} PRIVATE {private}")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--graph", required=True)
    parser.add_argument("--src")
    parser.add_argument("--doc")
    args = parser.parse_args()
    graph = read_graph(args.graph)
    problems = check_graph(graph)
    if args.src:
        problems += check_includes(graph, args.src)
    if args.doc:
        problems += check_doc(graph, args.doc)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
