#!/usr/bin/env python3
"""The layering rules of docs/architecture.md, checked on every #include under src/.

Each module (a folder of src/) may include only the modules listed for it below, plus itself,
the public headers (include/sawmill/) and third-party headers. Tests (*_test.cc, *_test_util.h,
*fixture*, testdata.*) are exempt: a test may build a whole stack. Besides includes, "query
never writes": no non-test file of src/query calls the engine's write operations.
Prints every violation as FILE:LINE: text and exits 1 if there is any.
"""
import os
import re
import sys

ALLOWED = {
    "common": set(),
    "objstore": {"common"},
    "index": {"common"},
    "wal": {"common"},
    "catalog": {"common", "objstore"},
    "auth": {"common", "catalog"},
    "segment": {"common", "index", "objstore"},
    "storage": {"common", "index", "objstore", "wal", "catalog", "segment"},
    "query": {"common", "index", "objstore", "segment", "storage"},
    "logql": {"common", "index", "objstore", "segment", "storage", "query"},
    "tail": {"common", "query"},
    "ingest": {"common", "storage", "wal", "tail"},
    "cluster": {"common", "objstore", "index", "segment", "wal", "catalog", "storage", "query",
                "tail", "ingest"},
    "alert": {"common", "catalog", "query", "ingest"},
    "http": {"common", "objstore", "index", "segment", "wal", "catalog", "storage", "query",
             "logql", "tail", "ingest", "alert", "auth", "cluster"},
    "agent": {"common", "ingest"},
    "cli": {"common", "objstore", "index", "segment", "wal", "catalog", "storage", "query",
            "logql", "tail", "ingest", "alert", "http", "agent", "auth", "cluster"},
}
# The rules the issue tracker states in words, named in the message when broken.
NAMED = {
    ("ingest", "http"): "ingest never includes http",
    ("storage", "query"): "storage never includes query",
    ("segment", "storage"): "segment never includes storage",
    ("index", "storage"): "index never includes storage",
}
WRITES = re.compile(r"(->|\.)\s*(Append|AppendIdempotent|Flush|CompactNow|WriteHealth)\s*\(")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')


def is_test(name):
    return (name.endswith("_test.cc") or "_test_util" in name or "fixture" in name
            or name.startswith("testdata.") or name.startswith("fake_"))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    src = os.path.join(root, "src")
    problems = []
    for module in sorted(os.listdir(src)):
        folder = os.path.join(src, module)
        if not os.path.isdir(folder):
            continue
        if module not in ALLOWED:
            problems.append(f"src/{module}: a module docs/architecture.md does not list "
                            "(add it there and to tests/layering/check_layers.py)")
            continue
        for dirpath, _, files in os.walk(folder):
            for name in sorted(files):
                if not name.endswith((".cc", ".h", ".c")) or is_test(name):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m:
                            dep = m.group(1)
                            if dep in ALLOWED and dep != module and dep not in ALLOWED[module]:
                                rule = NAMED.get((module, dep), f"{module} may not include {dep}")
                                problems.append(f"{rel}:{number}: {rule}: {line.strip()}")
                        if module == "query" and WRITES.search(line):
                            problems.append(f"{rel}:{number}: query never writes: {line.strip()}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering violation(s); the rules are in docs/architecture.md")
        return 1
    print("layering: every include follows docs/architecture.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
