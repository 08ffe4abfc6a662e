"""Ingests every dataset of shared/data/real through `sawmill ingest`, flushes, and checks that
searching each dataset counts exactly the records an independent count of the raw files
predicts (one record per non-blank physical line: the native endpoint never joins lines), and
that every JSON line without a message key (stored once in segments: its columns and a shape)
comes back byte for byte from /api/v1/export."""

import collections
import json
import os
import subprocess
import sys
import time
import urllib.parse

from e2e_lib import Server, check, count_lines, request

SKIP = ("LICENSE", "SOURCES.md", "README.md")


def dataset_files(root):
    out = []
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if name in SKIP or name.startswith("LICENSE"):
                continue
            out.append(os.path.join(dirpath, name))
    return sorted(out)


def whole_json_lines(files):
    """The lines of "files" that are JSON objects without a message key: the server keeps such a
    line whole as the message (CR before LF dropped, as the ingest door splits lines)."""
    out = []
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        for raw in data.split(b"\n"):
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw.lstrip(b" \t").startswith(b"{"):
                continue
            try:
                text = raw.decode("utf-8")
                doc = json.loads(text)
            except (UnicodeDecodeError, ValueError):
                continue
            if isinstance(doc, dict) and not any(k in doc for k in ("message", "msg", "log")):
                out.append(text)
    return out


def exported_messages(server, dataset):
    query = urllib.parse.urlencode({"q": "service=%s" % dataset, "all_time": "1"})
    status, _, body = request(server.url + "/api/v1/export?" + query, timeout=600)
    check(status == 200, "export %s: %d %s" % (dataset, status, body[:300]))
    return [json.loads(line)["message"] for line in body.decode("utf-8").splitlines() if line]


def main(binary, shared):
    real = os.path.join(shared, "data", "real")
    datasets = sorted(d for d in os.listdir(real) if os.path.isdir(os.path.join(real, d)))
    check(datasets, "no datasets under " + real)
    with Server(binary) as server:
        expected = {}
        total_start = time.time()
        total_lines = 0
        for dataset in datasets:
            files = dataset_files(os.path.join(real, dataset))
            expected[dataset] = sum(count_lines(f) for f in files)
            total_lines += expected[dataset]
            start = time.time()
            result = subprocess.run(
                [binary, "ingest", "--server", server.url, "--service", dataset, "--quiet"]
                + files, capture_output=True, text=True, timeout=600)
            check(result.returncode == 0,
                  "sawmill ingest %s exited %d: %s" % (dataset, result.returncode, result.stderr))
            print("ingested %-30s %8d lines in %5.1f s" % (dataset, expected[dataset],
                                                            time.time() - start))
        elapsed = time.time() - total_start
        print("total: %d lines in %.1f s (%.0f lines/s through `sawmill ingest`)" %
              (total_lines, elapsed, total_lines / elapsed))
        # Searchable before the flush (memtables) and after it (segments).
        some = datasets[0]
        check(server.count("service=%s" % some) == expected[some],
              "before flush: %s counts %d, expected %d" % (some, server.count("service=" + some),
                                                           expected[some]))
        server.flush()
        failures = []
        for dataset in datasets:
            got = server.count("service=%s" % dataset)
            print("%-30s expected %8d  found %8d" % (dataset, expected[dataset], got))
            if got != expected[dataset]:
                failures.append("%s: expected %d records, found %d" % (dataset, expected[dataset],
                                                                       got))
        check(not failures, "; ".join(failures))
        # JSON lines stored once come back byte for byte, by export (and so by search, which
        # export pages through).
        whole_total = 0
        for dataset in datasets:
            whole = whole_json_lines(dataset_files(os.path.join(real, dataset)))
            if not whole:
                continue
            exported = collections.Counter(exported_messages(server, dataset))
            missing = collections.Counter(whole) - exported
            print("%-30s %8d whole JSON lines, %d not exported byte for byte" %
                  (dataset, len(whole), sum(missing.values())))
            check(not missing, "%s: %d JSON lines not exported byte for byte, e.g. %r" %
                  (dataset, sum(missing.values()), next(iter(missing), "")[:300]))
            whole_total += len(whole)
        check(whole_total > 10000, "only %d whole JSON lines" % whole_total)
        grand = server.count("*")
        check(grand == total_lines, "all records: expected %d, found %d" % (total_lines, grand))
        check(server.stop() == 0, "server did not exit 0 after SIGTERM")
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
