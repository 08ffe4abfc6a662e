#!/usr/bin/env python3
"""Bytes and CPU of a SQLite catalog's segment statements at one page size, for comparing page
sizes (docs/performance.md "Session 16: disk"):

    bench/catalog_pages.py SCHEMA_CATALOG PAGE_SIZE SEGMENTS

Creates a catalog with the tables, indexes and triggers of SCHEMA_CATALOG (a server's
catalog.db, copied: the server holds its own locked) at PAGE_SIZE bytes a page, registers
SEGMENTS segment rows as a server writes them, and prints the file's bytes and the process CPU
of: opening it with PRAGMA quick_check and listing every segment (20 times); a partition's
segments by max_ingest_ts and one by id (200 times); a compaction's commit, two rows deleted and
one inserted with the triggers (200 times); segment_changes since a number (200 times). Run it
for each page size in turn, alternated."""
import os
import random
import resource
import sqlite3
import sys
import tempfile

COLUMNS = ("id, tenant, partition, min_ts, max_ts, min_ingest_ts, max_ingest_ts, min_seq, "
           "max_seq, rows, bytes, raw_bytes, tier, path, state, created, store")
INSERT = f"INSERT INTO segments ({COLUMNS}) VALUES ({', '.join('?' * 17)})"


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def row(i):
    t = 1_700_000_000_000_000_000 + i * 60_000_000_000
    return (i, "default", i % 16, t, t + 59_000_000_000, t, t + 59_000_000_000, i * 10000,
            i * 10000 + 9999, 10000, 182000 + i % 1000, 2_300_000, "hot",
            f"segments/hot/default/{i % 16}/{i}.seg", "live", t, "local")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    schema_path, page, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    src = sqlite3.connect(schema_path)
    schema = [r[0] for r in src.execute(
        "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid")]
    src.close()
    path = os.path.join(tempfile.mkdtemp(prefix="catalog_pages-"), "catalog.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size={page}")
    db.execute("PRAGMA journal_mode=WAL")
    for sql in schema:
        db.execute(sql)
    db.execute("BEGIN")
    for i in range(1, n + 1):
        db.execute(INSERT, row(i))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = os.path.getsize(path)

    c0 = cpu()
    for _ in range(20):
        d = sqlite3.connect(path, isolation_level=None)
        assert d.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert len(d.execute(f"SELECT {COLUMNS} FROM segments ORDER BY id").fetchall()) == n
        d.close()
    t_open = (cpu() - c0) / 20
    d = sqlite3.connect(path, isolation_level=None)
    since = 1_700_000_000_000_000_000 + (n - 100) * 60_000_000_000
    c0 = cpu()
    for k in range(200):
        d.execute(f"SELECT {COLUMNS} FROM segments WHERE tenant = ? AND partition = ? AND "
                  "max_ingest_ts >= ? ORDER BY max_ingest_ts", ("default", k % 16, since)).fetchall()
        d.execute(f"SELECT {COLUMNS} FROM segments WHERE id = ?", (random.randint(1, n),)).fetchall()
    t_lookup = (cpu() - c0) / 200
    c0 = cpu()
    next_id = n + 1
    for _ in range(200):
        a = random.randint(1, n)
        d.execute("BEGIN IMMEDIATE")
        d.execute("DELETE FROM segments WHERE id IN (?, ?)", (a, a + 1))
        d.execute(INSERT, row(next_id))
        next_id += 1
        d.execute("COMMIT")
    t_replace = (cpu() - c0) / 200
    c0 = cpu()
    for k in range(200):
        d.execute("SELECT change_id, segment_id, removed FROM segment_changes WHERE change_id > ? "
                  "ORDER BY change_id", (n + k,)).fetchall()
    t_changes = (cpu() - c0) / 200
    d.close()
    print(f"page {page}, {n} segments: file {size:,} bytes; open + quick_check + list "
          f"{t_open * 1000:.2f} ms; by partition + by id {t_lookup * 1000:.3f} ms; compaction "
          f"commit {t_replace * 1000:.3f} ms; changes since {t_changes * 1000:.3f} ms")


if __name__ == "__main__":
    main()
