"""Ingests every dataset of shared/data/real through `sawmill ingest`, flushes, and checks that
searching each dataset counts exactly the records an independent count of the raw files
predicts (one record per non-blank physical line: the native endpoint never joins lines)."""

import os
import subprocess
import sys
import time

from e2e_lib import Server, check, count_lines

SKIP = ("LICENSE", "SOURCES.md", "README.md")


def dataset_files(root):
    out = []
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if name in SKIP or name.startswith("LICENSE"):
                continue
            out.append(os.path.join(dirpath, name))
    return sorted(out)


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
        grand = server.count("*")
        check(grand == total_lines, "all records: expected %d, found %d" % (total_lines, grand))
        check(server.stop() == 0, "server did not exit 0 after SIGTERM")
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
